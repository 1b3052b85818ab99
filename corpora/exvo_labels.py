"""HUME-VB (ICML ExVo 2022) ``data_info.csv``, read by header name and checked before training.

Columns (any order; extra columns are ignored): ``File_ID`` as ``[token]`` with the audio at
``<audio_root>/<token><audio_ext>``; ``Split`` (Train / Val / Test, any case); ``Subject_ID``;
``Country`` (a name of :data:`COUNTRIES`, any case, or its index 0-3, which must then agree with
``Country_string`` when that column exists); ``Age`` in years, in (0, 120); and the ten
:data:`EMOTIONS` intensities in [0, 1]. Train and Val rows carry every label; a Test row carries
all of them or none (it is then predicted, not scored). A speaker may appear in one split only.
Every problem is collected and reported at once with its CSV line (the header is line 1).

The same reader serves other vocal-burst corpora written in this style (e.g. EmoGator from
corpora/emogator.py): ``targets`` names the intensity columns to read instead of
:data:`EMOTIONS`, and ``speaker_attributes=False`` drops the ``Country`` and ``Age`` columns
(neither required nor read; a row is then labelled when its target columns are).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from emobench.core.audio import AudioError, num_frames, resolve_in_root
from emobench.core.errors import LabelFileError

EMOTIONS = ("Awe", "Excitement", "Amusement", "Awkwardness", "Fear", "Horror", "Distress",
            "Triumph", "Sadness", "Surprise")  # official order of data_info.csv and submissions
COUNTRIES = ("China", "South Africa", "USA", "Venezuela")  # class index 0..3 (LabelEncoder order)
SPLITS = ("train", "val", "test")  # internal names of the file's Train / Val / Test

SPEAKER_ATTRIBUTES = ("Country", "Age")
LABELS = (*SPEAKER_ATTRIBUTES, *EMOTIONS)
KEYS = ("File_ID", "Split", "Subject_ID")
REQUIRED = (*KEYS, *LABELS)
_FILE_ID = re.compile(r"\[([A-Za-z0-9_.-]+)\]")
_FILE_SPLIT = {"train": "Train", "val": "Val", "test": "Test"}


@dataclass(frozen=True)
class ExVoTable:
    """A validated ``data_info.csv``: one row per vocal burst, in file order."""

    source: Path
    file_ids: list[str]  # exactly as written, e.g. "[58712]"
    paths: list[Path]
    speakers: list[str]
    splits: np.ndarray  # object: "train" | "val" | "test"
    emotions: np.ndarray  # (N, len(targets)) float64 in targets order; NaN rows where unlabelled
    age: np.ndarray  # (N,) float64; NaN where unlabelled (always without speaker attributes)
    country: np.ndarray  # (N,) int64 index into COUNTRIES; -1 where unlabelled (or not read)
    labelled: np.ndarray  # (N,) bool
    targets: tuple[str, ...] = EMOTIONS  # the column names of ``emotions``

    def __len__(self) -> int:
        return len(self.file_ids)

    def _take(self, keep: np.ndarray) -> "ExVoTable":
        keep = np.flatnonzero(keep)
        return dataclasses.replace(
            self, file_ids=[self.file_ids[i] for i in keep], paths=[self.paths[i] for i in keep],
            speakers=[self.speakers[i] for i in keep], splits=self.splits[keep],
            emotions=self.emotions[keep], age=self.age[keep], country=self.country[keep],
            labelled=self.labelled[keep])

    def subset(self, split: str) -> "ExVoTable":
        """The rows of one split (train / val / test), in file order."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self._take(self.splits == split)

    def labelled_only(self) -> "ExVoTable":
        return self._take(self.labelled)

    def counts(self) -> dict[str, int]:
        """Rows per split; ``test`` counts every Test row, ``test_unlabelled`` those without labels."""
        out = {s: int((self.splits == s).sum()) for s in SPLITS}
        out["test_unlabelled"] = int(((self.splits == "test") & ~self.labelled).sum())
        return out


def _missing_columns(columns: list[str], required: Sequence[str] = REQUIRED) -> list[str]:
    problems = []
    spare = [c for c in columns if c not in required]
    by_lower = {c.lower(): c for c in spare}
    for name in required:
        if name not in columns:
            close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
            hint = f"; did you mean {by_lower[close[0]]!r}?" if close else ""
            problems.append(f"required column {name!r} is missing (header: {columns}){hint}")
    return problems


def _country_code(value: str, string: str | None) -> tuple[int, str | None]:
    """(index into COUNTRIES or -1, problem or None) for one non-empty Country cell."""
    names = [c.lower() for c in COUNTRIES]
    if value.lower() in names:
        return names.index(value.lower()), None
    if re.fullmatch(r"[0-9]+", value) and int(value) < len(COUNTRIES):
        code = int(value)
        if string and string.lower() != names[code]:
            return code, (f"Country {value} means {COUNTRIES[code]!r} but Country_string "
                          f"is {string!r}")
        return code, None
    return -1, (f"unknown country {value!r} (known: {', '.join(COUNTRIES)}, "
                f"or their indices 0-{len(COUNTRIES) - 1})")


def _check_targets(targets: Sequence[str], speaker_attributes: bool) -> tuple[str, ...]:
    if isinstance(targets, str):
        raise TypeError(f"targets must be a sequence of column names, not the string {targets!r}")
    names = tuple(targets)
    if not names:
        raise ValueError("targets must name at least one column")
    if not all(isinstance(t, str) and t.strip() == t and t for t in names):
        raise ValueError(f"targets must be non-empty column names without outer spaces: {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"targets name a column twice: {names}")
    reserved = KEYS + (SPEAKER_ATTRIBUTES if speaker_attributes else ())
    clash = [t for t in names if t in reserved]
    if clash:
        raise ValueError(f"targets {clash} are not intensity columns (reserved: {reserved})")
    return names


def read_data_info(path: str | Path, audio_root: str | Path, audio_ext: str = ".wav",
                   allow_speaker_overlap: bool = False, check_audio: bool = True, *,
                   targets: Sequence[str] = EMOTIONS,
                   speaker_attributes: bool = True) -> ExVoTable:
    """Read and validate ``data_info.csv`` against the audio under ``audio_root``.

    ``targets``: the intensity columns read, in this order, into ``emotions``, each a number in
    [0, 1] (default :data:`EMOTIONS`). ``speaker_attributes=False``: ``Country`` and ``Age`` are
    neither required nor read (``age`` all NaN, ``country`` all -1), and a row is labelled when
    its target columns are filled.
    """
    targets = _check_targets(targets, speaker_attributes)
    attributes = SPEAKER_ATTRIBUTES if speaker_attributes else ()
    labels = (*attributes, *targets)
    path = Path(path)
    if not path.is_file():
        raise LabelFileError(path, ["data_info.csv does not exist (or is not a file)"])
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise LabelFileError(path, [f"not a readable CSV ({str(exc).strip()})"]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    problems = _missing_columns(list(frame.columns), (*KEYS, *labels))
    if problems:
        raise LabelFileError(path, problems)
    cell = {c: frame[c].str.strip().to_numpy(dtype=object) for c in frame.columns}
    n = len(frame)
    line = np.arange(n) + 2

    ids = cell["File_ID"]
    tokens: list[str | None] = [None] * n
    for i, fid in enumerate(ids):
        match = _FILE_ID.fullmatch(fid)
        if not fid:
            problems.append(f"line {line[i]}: empty File_ID")
        elif not match or set(match[1]) == {"."}:
            problems.append(f"line {line[i]}: File_ID {fid!r} is not of the form [id] "
                            "(letters, digits, '_', '.', '-' in brackets)")
        else:
            tokens[i] = match[1]
    dup = pd.Series(ids).duplicated(keep=False).to_numpy() & (ids != "")
    for fid in dict.fromkeys(ids[dup]):
        lines = ", ".join(str(k) for k in line[ids == fid])
        problems.append(f"lines {lines}: duplicate File_ID {fid!r}")

    splits = np.array([s.lower() if s.lower() in SPLITS else None for s in cell["Split"]],
                      dtype=object)
    for i in np.flatnonzero(pd.isna(splits)):
        problems.append(f"line {line[i]}: unknown Split {cell['Split'][i]!r} "
                        "(expected Train, Val or Test)")
    for i in np.flatnonzero(cell["Subject_ID"] == ""):
        problems.append(f"line {line[i]}: empty Subject_ID")

    present = np.stack([cell[c] != "" for c in labels], axis=1)
    labelled = present.all(axis=1)
    for i in np.flatnonzero(~labelled & (present.any(axis=1) | (splits != "test"))):
        if splits[i] is None:
            continue
        absent = ", ".join(c for c, p in zip(labels, present[i]) if not p)
        if splits[i] == "test":
            problems.append(f"line {line[i]}: Test row has only some labels, without {absent} "
                            "(a Test row carries all labels or none)")
        else:
            problems.append(f"line {line[i]}: {_FILE_SPLIT[splits[i]]} row without {absent}")

    country = np.full(n, -1, dtype=np.int64)
    numbers = {c: pd.to_numeric(pd.Series(cell[c]), errors="coerce").to_numpy(np.float64)
               for c in labels if c != "Country"}
    age = numbers["Age"] if speaker_attributes else np.full(n, np.nan)
    if speaker_attributes:
        strings = cell.get("Country_string", [None] * n)
        for i in np.flatnonzero(cell["Country"] != ""):
            country[i], problem = _country_code(cell["Country"][i], strings[i])
            if problem:
                problems.append(f"line {line[i]}: {problem}")
        for i in np.flatnonzero((cell["Age"] != "") & ~((age > 0) & (age < 120))):
            problems.append(f"line {line[i]}: Age must be a number in (0, 120), "
                            f"got {cell['Age'][i]!r}")
    for col in targets:
        value = numbers[col]
        for i in np.flatnonzero((cell[col] != "") & ~((value >= 0) & (value <= 1))):
            problems.append(f"line {line[i]}: {col} must be a number in [0, 1], "
                            f"got {cell[col][i]!r}")

    speakers = [str(s) for s in cell["Subject_ID"]]
    if not allow_speaker_overlap:
        known = pd.DataFrame({"spk": speakers, "split": splits, "line": line})
        known = known[(known.spk != "") & known.split.notna()]
        for spk, rows in known.groupby("spk", sort=False):
            first = rows.drop_duplicates("split")
            if len(first) > 1:
                where = ", ".join(f"{_FILE_SPLIT[s]} (line {k})"
                                  for s, k in zip(first.split, first.line))
                problems.append(f"speaker {spk!r} appears in several splits: {where} (leakage; "
                                "set data.allow_speaker_overlap=true to accept it)")
    for split in ("train", "val"):
        if not (splits == split).any():
            problems.append(f"no {_FILE_SPLIT[split]} rows")

    paths = [Path()] * n
    for i, token in enumerate(tokens):
        if token is None:
            continue
        try:
            paths[i] = resolve_in_root(audio_root, token + audio_ext)
            if check_audio and num_frames(paths[i])[0] == 0:
                problems.append(f"line {line[i]}: {paths[i]}: audio has zero length")
        except AudioError as exc:
            problems.append(f"line {line[i]}: {exc}")
    if problems:
        raise LabelFileError(path, problems)

    emotions = np.stack([numbers[c] for c in targets], axis=1)
    emotions[~labelled] = np.nan
    age = np.where(labelled, age, np.nan)
    country[~labelled] = -1
    return ExVoTable(path, [str(f) for f in ids], paths, speakers, splits, emotions, age,
                     country, labelled, targets)
