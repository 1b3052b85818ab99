"""A labelled-utterance CSV in the style of HUME-VB's ``data_info.csv``, generalised: an id
column, a split column, a speaker column and any target columns, read by header name and
checked before anything trains.

Every target is a :class:`ColumnSpec`: ``categorical`` (one column of class names; a declared
class list is matched in any case, or the classes are those found, sorted; with ``indices`` a
0-based index into the declared list is accepted too, and a ``names_column``, when present,
must then name the same class; values declared ``no_label``, such as MSP-Podcast's ``O`` (other)
and ``X`` (no agreement), leave the row without a class of that target without making it
unlabelled) or ``numbers`` (one or more columns of finite numbers, optionally
within a closed or open range, optionally summing to 1 per row). File ids are ``[token]``
(HUME-VB: the audio is ``<token><audio_ext>``) or relative paths (subfolders allowed, confined
to the audio root). A row is labelled when every required target is filled: Train and Val rows
must be; a Test row is labelled or carries no required label at all (then it is predicted, not
scored). Optional targets may be empty in any row, but not in every training row. Every
problem is collected and reported at once with the file and its CSV line (the header is line 1).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from emobench.core.audio import AudioError, inspect_file, resolve_in_root
from emobench.core.errors import LabelFileError
from emobench.core.experiment import LOG

SPLITS = ("train", "val", "test")  # internal names
HUME_SPLIT_NAMES = {"train": "Train", "val": "Val", "test": "Test"}
_TOKEN = re.compile(r"\[([A-Za-z0-9_.-]+)\]")


@dataclass(frozen=True)
class ColumnSpec:
    """How one target is read: its name, its source column(s) and what they may hold."""

    name: str
    kind: Literal["categorical", "numbers"]
    columns: tuple[str, ...]
    classes: tuple[str, ...] | None = None  # categorical: declared (None: those found)
    indices: bool = False  # categorical: also a 0-based index into the declared classes
    names_column: str | None = None  # with indices: a column that must name the same class
    low: float | None = None  # numbers: allowed range
    high: float | None = None
    open_range: bool = False  # (low, high) instead of [low, high]
    row_sum: float | None = None  # numbers: every labelled row sums to this (1e-3 tolerance)
    required: bool = True
    no_label: tuple[str, ...] = ()  # categorical: values that mean "no class" (any case)


@dataclass(frozen=True)
class TableLayout:
    """Where the keys are: column names, id format, the file's names of the three splits."""

    id_column: str = "File_ID"
    split_column: str = "Split"
    speaker_column: str = "Subject_ID"
    id_format: Literal["bracketed", "path"] = "bracketed"
    split_names: tuple[tuple[str, str], ...] = tuple(HUME_SPLIT_NAMES.items())
    audio_ext: str = ".wav"


@dataclass(frozen=True)
class TargetTable:
    """A validated table: one row per utterance, in file order."""

    source: Path
    file_ids: list[str]  # as written
    paths: list[Path]
    speakers: list[str]
    splits: np.ndarray  # object: "train" | "val" | "test"
    values: dict[str, np.ndarray]  # categorical: (N,) int64 class index, -1 where empty;
    #                                numbers: (N, len(columns)) float64, NaN where empty
    present: dict[str, np.ndarray]  # (N,) bool per target
    classes: dict[str, tuple[str, ...]]  # per categorical target
    labelled: np.ndarray  # (N,) bool: every required target present

    def __len__(self) -> int:
        return len(self.file_ids)

    def take(self, keep: np.ndarray) -> "TargetTable":
        keep = np.flatnonzero(keep)
        return dataclasses.replace(
            self, file_ids=[self.file_ids[i] for i in keep], paths=[self.paths[i] for i in keep],
            speakers=[self.speakers[i] for i in keep], splits=self.splits[keep],
            values={k: v[keep] for k, v in self.values.items()},
            present={k: v[keep] for k, v in self.present.items()}, labelled=self.labelled[keep])

    def subset(self, split: str) -> "TargetTable":
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self.take(self.splits == split)

    def counts(self) -> dict[str, int]:
        """Rows per split; ``test_unlabelled``: Test rows without labels (predicted only)."""
        out = {s: int((self.splits == s).sum()) for s in SPLITS}
        out["test_unlabelled"] = int(((self.splits == "test") & ~self.labelled).sum())
        return out


def missing_columns(columns: list[str], required: Sequence[str]) -> list[str]:
    problems = []
    spare = [c for c in columns if c not in required]
    by_lower = {c.lower(): c for c in spare}
    for name in dict.fromkeys(required):
        if name not in columns:
            close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
            hint = f"; did you mean {by_lower[close[0]]!r}?" if close else ""
            problems.append(f"required column {name!r} is missing (header: {columns}){hint}")
    return problems


def _range_text(spec: ColumnSpec) -> str:
    if spec.low is None and spec.high is None:
        return "a number"
    left, right = ("(", ")") if spec.open_range else ("[", "]")
    low = "-inf" if spec.low is None else f"{spec.low:g}"
    high = "inf" if spec.high is None else f"{spec.high:g}"
    return f"a number in {left}{low}, {high}{right}"


def _in_range(value: np.ndarray, spec: ColumnSpec) -> np.ndarray:
    ok = np.isfinite(value)
    if spec.low is not None:
        ok &= value > spec.low if spec.open_range else value >= spec.low
    if spec.high is not None:
        ok &= value < spec.high if spec.open_range else value <= spec.high
    return ok


def no_label(spec: ColumnSpec, cells: np.ndarray) -> np.ndarray:
    """Where a categorical cell holds one of the spec's "no class" values (any case)."""
    if not spec.no_label:
        return np.zeros(len(cells), dtype=bool)
    return np.isin(np.char.lower(cells.astype(str)), [v.lower() for v in spec.no_label])


def _categorical(spec: ColumnSpec, cells: np.ndarray, names: np.ndarray | None, line: np.ndarray,
                 problems: list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    filled = (cells != "") & ~no_label(spec, cells)
    classes = spec.classes if spec.classes is not None else tuple(sorted(set(cells[filled])))
    lower = [c.lower() for c in classes]
    codes = np.full(len(cells), -1, dtype=np.int64)
    for i in np.flatnonzero(filled):
        value = cells[i]
        if value.lower() in lower:
            codes[i] = lower.index(value.lower())
        elif spec.indices and re.fullmatch(r"[0-9]+", value) and int(value) < len(classes):
            codes[i] = int(value)
            given = None if names is None else names[i]
            if given and given.lower() != lower[codes[i]]:
                problems.append(f"line {line[i]}: {spec.columns[0]} {value} means "
                                f"{classes[codes[i]]!r} but {spec.names_column} is {given!r}")
        else:
            index_hint = f", or their indices 0-{len(classes) - 1}" if spec.indices else ""
            problems.append(f"line {line[i]}: unknown {spec.name} {value!r} (known: "
                            f"{', '.join(classes)}{index_hint})")
    return codes, tuple(classes)


def _numbers(spec: ColumnSpec, cell: dict[str, np.ndarray], line: np.ndarray,
             problems: list[str]) -> np.ndarray:
    columns = []
    for col in spec.columns:
        value = pd.to_numeric(pd.Series(cell[col]), errors="coerce").to_numpy(np.float64)
        for i in np.flatnonzero((cell[col] != "") & ~_in_range(value, spec)):
            problems.append(f"line {line[i]}: {col} must be {_range_text(spec)}, "
                            f"got {cell[col][i]!r}")
        columns.append(value)
    values = np.stack(columns, axis=1)
    if spec.row_sum is not None:
        full = np.isfinite(values).all(axis=1)
        for i in np.flatnonzero(full & (np.abs(values.sum(axis=1) - spec.row_sum) > 1e-3)):
            problems.append(f"line {line[i]}: {', '.join(spec.columns)} sum to "
                            f"{values[i].sum():g}, not {spec.row_sum:g}")
    return values


def _paths(layout: TableLayout, ids: np.ndarray, audio_root: str | Path, check_audio: bool,
           line: np.ndarray, problems: list[str]) -> list[Path]:
    name = layout.id_column
    paths = [Path()] * len(ids)
    for i, fid in enumerate(ids):
        relative = fid
        if not fid:
            problems.append(f"line {line[i]}: empty {name}")
            continue
        if layout.id_format == "bracketed":
            match = _TOKEN.fullmatch(fid)
            if not match or set(match[1]) == {"."}:
                problems.append(f"line {line[i]}: {name} {fid!r} is not of the form [id] "
                                "(letters, digits, '_', '.', '-' in brackets)")
                continue
            relative = match[1]
        try:
            paths[i] = resolve_in_root(audio_root, relative + layout.audio_ext)
            if check_audio:
                frames, _, warning = inspect_file(paths[i])  # header, non-finite, cancelling
                if frames == 0:
                    problems.append(f"line {line[i]}: {paths[i]}: audio has zero length")
                if warning:
                    LOG.warning("line %s: %s (kept)", line[i], warning)
        except AudioError as exc:
            problems.append(f"line {line[i]}: {exc}")
    dup = pd.Series(ids).duplicated(keep=False).to_numpy() & (ids != "")
    for fid in dict.fromkeys(ids[dup]):
        lines = ", ".join(str(k) for k in line[ids == fid])
        problems.append(f"lines {lines}: duplicate {name} {fid!r}")
    return paths


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise LabelFileError(path, [f"{path.name} does not exist (or is not a file)"])
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise LabelFileError(path, [f"not a readable CSV ({str(exc).strip()})"]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_table(path: str | Path, audio_root: str | Path, specs: Sequence[ColumnSpec],
               layout: TableLayout = TableLayout(), allow_speaker_overlap: bool = False,
               check_audio: bool = True) -> TargetTable:
    """Read and validate the table against the audio under ``audio_root`` (see the module)."""
    path = Path(path)
    frame = _read_csv(path)
    keys = (layout.id_column, layout.split_column, layout.speaker_column)
    problems = missing_columns(list(frame.columns),
                               (*keys, *(c for s in specs for c in s.columns)))
    if problems:
        raise LabelFileError(path, problems)
    cell = {c: frame[c].str.strip().to_numpy(dtype=object) for c in frame.columns}
    n, line = len(frame), np.arange(len(frame)) + 2
    names = dict(layout.split_names)
    by_name = {v.lower(): k for k, v in names.items()}

    splits = np.array([by_name.get(s.lower()) for s in cell[layout.split_column]], dtype=object)
    expected = ", ".join(names[s] for s in SPLITS[:-1]) + f" or {names['test']}"
    for i in np.flatnonzero(pd.isna(splits)):
        problems.append(f"line {line[i]}: unknown {layout.split_column} "
                        f"{cell[layout.split_column][i]!r} (expected {expected})")
    speakers = [str(s) for s in cell[layout.speaker_column]]
    for i in np.flatnonzero(cell[layout.speaker_column] == ""):
        problems.append(f"line {line[i]}: empty {layout.speaker_column}")

    required = [c for s in specs if s.required for c in s.columns]
    present_cols = np.stack([cell[c] != "" for c in required], axis=1) if required \
        else np.ones((n, 0), dtype=bool)
    labelled = present_cols.all(axis=1)
    for i in np.flatnonzero(~labelled & (present_cols.any(axis=1) | (splits != "test"))):
        if splits[i] is None:
            continue
        absent = ", ".join(c for c, p in zip(required, present_cols[i]) if not p)
        if splits[i] == "test":
            problems.append(f"line {line[i]}: {names['test']} row has only some labels, without "
                            f"{absent} (a {names['test']} row carries all labels or none)")
        else:
            problems.append(f"line {line[i]}: {names[splits[i]]} row without {absent}")

    values, present, classes = {}, {}, {}
    for spec in specs:
        filled = np.stack([cell[c] != "" for c in spec.columns], axis=1).all(axis=1)
        if spec.kind == "categorical":
            filled &= ~no_label(spec, cell[spec.columns[0]])
            names_cells = cell.get(spec.names_column) if spec.names_column else None
            values[spec.name], classes[spec.name] = _categorical(
                spec, cell[spec.columns[0]], names_cells, line, problems)
        else:
            values[spec.name] = _numbers(spec, cell, line, problems)
        present[spec.name] = filled & (labelled if spec.required else True)
        if (splits == "train").any() and not (present[spec.name] & (splits == "train")).any():
            problems.append(f"target {spec.name!r} has no training examples (column(s) "
                            f"{', '.join(spec.columns)} empty in every {names['train']} row)")

    if not allow_speaker_overlap:
        known = pd.DataFrame({"spk": speakers, "split": splits, "line": line})
        known = known[(known.spk != "") & known.split.notna()]
        for spk, rows in known.groupby("spk", sort=False):
            first = rows.drop_duplicates("split")
            if len(first) > 1:
                where = ", ".join(f"{names[s]} (line {k})" for s, k in zip(first.split, first.line))
                problems.append(f"speaker {spk!r} appears in several splits: {where} (leakage; "
                                "set data.allow_speaker_overlap=true to accept it)")
    for split in ("train", "val"):
        if not (splits == split).any():
            problems.append(f"no {names[split]} rows")

    ids = cell[layout.id_column]
    paths = _paths(layout, ids, audio_root, check_audio, line, problems)
    if problems:
        raise LabelFileError(path, problems)
    for spec in specs:  # empty cells, and required labels of unlabelled rows, are missing
        keep = present[spec.name]
        if spec.kind == "categorical":
            values[spec.name][~keep] = -1
        else:
            values[spec.name][~keep] = np.nan
    return TargetTable(path, [str(f) for f in ids], paths, speakers, splits, values, present,
                       classes, labelled)
