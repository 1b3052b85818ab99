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
import pandas as pd

from emobench.core.errors import LabelFileError, UserError  # noqa: F401 (re-exported)
from emobench.core.audio import AudioError, inspect_file, resolve_in_root
from emobench.core.experiment import LOG

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
        frame = pd.read_csv(path, dtype={"FileName": str, "SpkrID": str, "Split_Set": str},
                            keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise LabelFileError(path, [f"not a readable CSV ({exc})"]) from None

    if "FileName" not in frame.columns and str(frame.columns[0]).startswith("Unnamed: 0"):
        # EMO-SUPERB's released NNIME files leave the first header cell empty
        frame = frame.rename(columns={frame.columns[0]: "FileName"})
        LOG.warning("%s: the first header cell is empty; reading that column as FileName "
                    "(as in EMO-SUPERB's released NNIME files)", path)
    columns = list(frame.columns)
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

    line = frame.index.to_numpy() + 2  # CSV line numbers: header is line 1
    names = frame["FileName"]
    for i in np.flatnonzero(names.isna().to_numpy()):
        problems.append(f"line {line[i]}: empty FileName")
    dup = names.duplicated(keep=False) & names.notna()
    for name, rows in frame[dup].groupby("FileName").groups.items():
        problems.append(f"lines {', '.join(str(line[r]) for r in rows)}: duplicate FileName {name!r}")

    split_of = {v: k for k, v in corpus.split_names.items()}
    split_values = frame["Split_Set"].astype(str)
    for i in np.flatnonzero(~split_values.isin(list(split_of)).to_numpy()):
        problems.append(f"line {line[i]}: unknown split {split_values.iloc[i]!r} "
                        f"(config.json names {list(split_of)})")

    values = frame[corpus.classes].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad_value = np.isnan(values).any(axis=1) | (values < 0).any(axis=1) | (values > 1).any(axis=1)
    for i in np.flatnonzero(bad_value):
        problems.append(f"line {line[i]}: label values must be numbers in [0, 1]: "
                        f"{frame.loc[frame.index[i], corpus.classes].tolist()}")
    sums = values.sum(axis=1)
    for i in np.flatnonzero(~bad_value & (np.abs(sums - 1.0) > sum_tolerance)):
        problems.append(f"line {line[i]}: label row sums to {sums[i]:.6f}, not 1 "
                        f"(tolerance {sum_tolerance})")

    speakers: list[str | None] = [None] * len(frame)
    if "SpkrID" in columns:
        speakers = [None if pd.isna(s) or not str(s).strip() else str(s)
                    for s in frame["SpkrID"]]
        if not speakerless:
            for i in (i for i, s in enumerate(speakers) if s is None):
                problems.append(f"line {line[i]}: blank SpkrID (the speaker audit needs every "
                                "speaker; for a corpus without speaker ids set "
                                "data.speakerless=true)")
        if not allow_speaker_overlap:
            per_speaker = pd.DataFrame({"spk": speakers, "split": split_values}).dropna()
            for spk, splits in per_speaker.groupby("spk")["split"].unique().items():
                if len(splits) > 1:
                    problems.append(f"speaker {spk!r} appears in several splits "
                                    f"{sorted(splits)} (leakage; set "
                                    "data.allow_speaker_overlap=true to accept it)")

    paths: list[Path] = []
    frames = np.zeros(len(frame), dtype=np.int64)
    rates = np.zeros(len(frame), dtype=np.int64)
    warned: list[str] = []
    for i, name in enumerate(names):
        if pd.isna(name):
            paths.append(Path())
            continue
        try:
            audio = resolve_in_root(audio_root, str(name))
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
    return LabelTable(path, corpus.classes, [str(n) for n in names], paths, speakers,
                      splits, values, frames, rates, tuple(warned))
