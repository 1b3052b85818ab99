"""EMO-SUPERB label files, read exactly as released, and checked before any training.

A condition folder holds ``config.json`` (ordered classes in ``categorical.emo_type``, split
names in ``data_split_type``) and ``labels_consensus_<fold>.csv`` with the columns
``FileName, <classes...>, [EmoAct, EmoVal, EmoDom], SpkrID, Gender, Split_Set``.
Every problem found is reported with the file, the CSV line and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench.core.errors import LabelFileError, UserError  # noqa: F401 (re-exported)
from emobench.core.audio import AudioError, inspect_file, resolve_in_root
from emobench.core.experiment import LOG
from emobench.corpora.label_csv import CsvError, numbers, read_csv, shown_rows

META_COLUMNS = ("FileName", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")
SPLITS = ("train", "dev", "test")


def smooth(p: np.ndarray) -> np.ndarray:
    """EMO-SUPERB label smoothing of vote fractions: 0.95 p + 0.05 (1 - p) / (C - 1), 6 decimals.

    >>> smooth(np.eye(9)[0]).tolist()[:2]
    [0.95, 0.00625]
    >>> smooth(np.array([0.5, 0.5, 0.0, 0.0])).tolist()
    [0.483333, 0.483333, 0.016667, 0.016667]
    """
    p = np.asarray(p, dtype=np.float64)
    c = p.shape[-1]
    return np.round(0.95 * p + 0.05 * (1.0 - p) / (c - 1), 6)


@dataclass(frozen=True)
class CorpusConfig:
    classes: list[str]
    split_names: dict[str, str]  # train/dev/test -> the label file's Split_Set value


def read_corpus_config(label_dir: Path) -> CorpusConfig:
    path = label_dir / "config.json"
    if not path.is_file():
        raise LabelFileError(path, ["config.json is missing from the label folder"])
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        classes = raw["categorical"]["emo_type"]
        names = raw.get("data_split_type") or {"train": "Train", "dev": "Development",
                                               "test": "Test"}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise LabelFileError(path, [f"not an EMO-SUPERB config.json ({exc!r}); expected "
                                    "categorical.emo_type and data_split_type"]) from None
    problems = []
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes) \
            or len(classes) < 2 or len(set(classes)) != len(classes):
        problems.append("categorical.emo_type must be a list of at least 2 distinct class "
                        f"names: {classes!r}")
    if not isinstance(names, dict) or set(names) != set(SPLITS):
        problems.append(f"data_split_type must map exactly train, dev, test: {names!r}")
    elif len({str(v) for v in names.values()}) != len(SPLITS):
        problems.append(f"data_split_type gives two splits the same name: {names!r}")
    if problems:
        raise LabelFileError(path, problems)
    return CorpusConfig(classes, {k: str(names[k]) for k in SPLITS})


@dataclass
class LabelTable:
    """A validated fold: one row per utterance, splits as train/dev/test."""

    source: Path
    classes: list[str]
    file_names: list[str]
    paths: list[Path]
    speakers: list[str | None]
    splits: np.ndarray  # "train" | "dev" | "test"
    labels: np.ndarray  # (N, C) soft labels
    num_samples: np.ndarray  # native-rate sample counts, from the headers
    sample_rates: np.ndarray
    # near-silent or channel-cancelling audio, one message per file (recorded in scores.json)
    audio_warnings: tuple[str, ...] = ()

    def subset(self, split: str) -> "LabelTable":
        keep = np.flatnonzero(self.splits == split)
        return LabelTable(self.source, self.classes, [self.file_names[i] for i in keep],
                          [self.paths[i] for i in keep], [self.speakers[i] for i in keep],
                          self.splits[keep], self.labels[keep], self.num_samples[keep],
                          self.sample_rates[keep], self.audio_warnings)

    def __len__(self) -> int:
        return len(self.file_names)


def read_labels(label_dir: str | Path, fold: int, audio_root: str | Path, *,
                sum_tolerance: float = 1e-3, allow_speaker_overlap: bool = False,
                check_audio: bool = True, speakerless: bool = False) -> LabelTable:
    """Read and validate ``labels_consensus_<fold>.csv`` against config.json and the audio.

    A blank SpkrID is an error unless ``speakerless`` (a corpus without speaker ids)."""
    label_dir = Path(label_dir)
    corpus = read_corpus_config(label_dir)
    path = label_dir / f"labels_consensus_{fold}.csv"
    if not path.is_file():
        present = sorted(p.name for p in label_dir.glob("labels_consensus_*.csv"))
        raise LabelFileError(path, [f"label file for fold {fold} is missing; present: {present}"])
    try:
        columns, data = read_csv(path)
    except CsvError as exc:
        raise LabelFileError(path, [f"not a readable CSV ({exc})"]) from None

    if "FileName" not in columns and columns[0].startswith("Unnamed: 0"):
        # EMO-SUPERB's released NNIME files leave the first header cell empty
        columns[0] = "FileName"
        LOG.warning("%s: the first header cell is empty; reading that column as FileName "
                    "(as in EMO-SUPERB's released NNIME files)", path)
    problems: list[str] = []
    class_columns = [c for c in columns if c not in META_COLUMNS]
    missing = [c for c in corpus.classes if c not in columns]
    extra = [c for c in class_columns if c not in corpus.classes]
    for required in ("FileName", "Split_Set"):
        if required not in columns:
            problems.append(f"required column {required!r} is missing (columns: {columns})")
    if missing:
        problems.append(f"class columns {missing} of config.json are missing from the header")
    if extra:
        problems.append(f"columns {extra} are neither classes of config.json "
                        f"{corpus.classes} nor known metadata columns {list(META_COLUMNS)}")
    if problems:
        raise LabelFileError(path, problems)

    column = dict(zip(columns, data))  # "" where a cell is empty
    names = column["FileName"]
    line = np.arange(len(names)) + 2  # CSV line numbers: header is line 1 (blank lines skipped)
    rows_of: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if not name:
            problems.append(f"line {line[i]}: empty FileName")
        else:
            rows_of.setdefault(name, []).append(i)
    for name in sorted(name for name, at in rows_of.items() if len(at) > 1):
        problems.append(f"lines {', '.join(str(line[r]) for r in rows_of[name])}: duplicate "
                        f"FileName {name!r}")

    split_of = {v: k for k, v in corpus.split_names.items()}
    split_values = column["Split_Set"]
    for i, split in enumerate(split_values):
        if split not in split_of:
            written = repr(split) if split else "nan"  # nan: an empty cell
            problems.append(f"line {line[i]}: unknown split {written} "
                            f"(config.json names {list(split_of)})")

    cells = [column[c] for c in corpus.classes]
    # (N, C) in column-major order, the layout (and so the row sums) pandas gave
    values = np.array([numbers(c) for c in cells], dtype=np.float64).reshape(len(cells),
                                                                             len(names)).T
    bad_value = np.isnan(values).any(axis=1) | (values < 0).any(axis=1) | (values > 1).any(axis=1)
    if bad_value.any():
        row_values = shown_rows(cells)
        for i in np.flatnonzero(bad_value):
            problems.append(f"line {line[i]}: label values must be numbers in [0, 1]: "
                            f"{row_values[i]}")
    sums = values.sum(axis=1)
    for i in np.flatnonzero(~bad_value & (np.abs(sums - 1.0) > sum_tolerance)):
        problems.append(f"line {line[i]}: label row sums to {sums[i]:.6f}, not 1 "
                        f"(tolerance {sum_tolerance})")

    speakers: list[str | None] = [None] * len(names)
    if "SpkrID" in columns:
        speakers = [s if s.strip() else None for s in column["SpkrID"]]
        if not speakerless:
            for i in (i for i, s in enumerate(speakers) if s is None):
                problems.append(f"line {line[i]}: blank SpkrID (the speaker audit needs every "
                                "speaker; for a corpus without speaker ids set "
                                "data.speakerless=true)")
        if not allow_speaker_overlap:
            splits_of: dict[str, set[str]] = {}
            for spk, split in zip(speakers, split_values):
                if spk is not None and split:
                    splits_of.setdefault(spk, set()).add(split)
            for spk, splits in sorted(splits_of.items()):
                if len(splits) > 1:
                    problems.append(f"speaker {spk!r} appears in several splits "
                                    f"{sorted(splits)} (leakage; set "
                                    "data.allow_speaker_overlap=true to accept it)")

    paths: list[Path] = []
    frames = np.zeros(len(names), dtype=np.int64)
    rates = np.zeros(len(names), dtype=np.int64)
    warned: list[str] = []
    for i, name in enumerate(names):
        if not name:
            paths.append(Path())
            continue
        try:
            audio = resolve_in_root(audio_root, name)
            paths.append(audio)
            if check_audio:
                frames[i], rates[i], warning = inspect_file(audio)
                if warning:
                    warned.append(f"line {line[i]}: {warning}")
                if frames[i] == 0:
                    problems.append(f"line {line[i]}: {audio}: audio has zero length")
        except AudioError as exc:
            paths.append(Path())
            problems.append(f"line {line[i]}: {exc}")
    if problems:
        raise LabelFileError(path, problems)

    splits = np.array([split_of[s] for s in split_values], dtype=object)
    for split in SPLITS:
        if not (splits == split).any():
            problems.append(f"split {corpus.split_names[split]!r} ({split}) has no rows")
    if problems:
        raise LabelFileError(path, problems)
    for warning in warned:
        LOG.warning("%s: %s", path, warning)
    return LabelTable(path, corpus.classes, list(names), paths, speakers,
                      splits, values, frames, rates, tuple(warned))
