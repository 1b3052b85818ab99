"""The emotion label reader as it was with pandas (``pandas_read_labels``), kept only as the
reference of tests/test_label_csv*.py, and ``assert_same``: both readers on one folder give the
same LabelTable field by field (labels bit for bit, same memory layout) or the same
LabelFileError (problems normalised where the new reader words them differently on purpose:
pandas' "Error tokenizing data. C error: " prefix; where a UTF-8 error is, which pandas gives
within the field, the new reader within the file, with the line; numpy scalar reprs such as
``np.float64(0.5)`` in the listed label values) and the same log warnings.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from emobench.core.audio import AudioError, inspect_file, resolve_in_root
from emobench.core.experiment import LOG
from emobench.corpora.emotion_labels import (META_COLUMNS, SPLITS, LabelFileError, LabelTable,
                                             read_corpus_config, read_labels)


def pandas_read_labels(label_dir: str | Path, fold: int, audio_root: str | Path, *,
                       sum_tolerance: float = 1e-3, allow_speaker_overlap: bool = False,
                       check_audio: bool = True, speakerless: bool = False) -> LabelTable:
    """corpora/emotion_labels.py's read_labels before it stopped importing pandas."""
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

    line = frame.index.to_numpy() + 2
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


# --------------------------------------------------------------------------- comparing outcomes

_NUMPY_SCALAR = re.compile(r"np\.(?:float64|int64|uint64)\(([^()]*)\)")


def _normalised(problem: str) -> str:
    """A problem as the new reader words it (see the module docstring)."""
    problem = problem.replace("Error tokenizing data. C error: ", "").replace("\n)", ")")
    problem = re.sub(r"(?:line \d+: )?('utf-8' codec can't decode byte 0x[0-9a-f]+) in position "
                     r"\d+: [^)]*", r"\1", problem)
    if "label values must be numbers" in problem:
        problem = _NUMPY_SCALAR.sub(r"\1", problem)
        problem = problem.replace("np.True_", "True").replace("np.False_", "False")
    return problem


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def outcome(reader, label_dir: Path, fold: int, audio_root: Path, **kwargs) -> tuple:
    """What a reader gives: the table field by field, or the error; and the warnings logged."""
    handler = _Warnings()
    LOG.addHandler(handler)
    try:
        table = reader(label_dir, fold, audio_root, **kwargs)
    except LabelFileError as err:
        return ("error", err.source, [_normalised(p) for p in err.problems], handler.messages)
    finally:
        LOG.removeHandler(handler)
    labels = table.labels
    assert labels.dtype == np.float64 and labels.shape == (len(table), len(table.classes))
    assert table.splits.dtype == object
    return ("table", table.source, table.classes, table.file_names, table.paths, table.speakers,
            table.splits.tolist(), labels.tobytes(order="A"), labels.flags.f_contiguous,
            table.num_samples.dtype, table.num_samples.tolist(), table.sample_rates.dtype,
            table.sample_rates.tolist(), table.audio_warnings, handler.messages)


def assert_same(label_dir: Path, fold: int, audio_root: Path, **kwargs) -> tuple:
    new = outcome(read_labels, label_dir, fold, audio_root, **kwargs)
    old = outcome(pandas_read_labels, label_dir, fold, audio_root, **kwargs)
    assert new == old
    return new


def assert_same_folder(label_dir: Path, audio_root: Path, **kwargs) -> int:
    """Every fold of a label folder; the number of folds read as tables."""
    folds = sorted(int(p.stem.rsplit("_", 1)[1]) for p in label_dir.glob("labels_consensus_*.csv"))
    assert folds, label_dir
    return sum(assert_same(label_dir, k, audio_root, **kwargs)[0] == "table" for k in folds)


