"""read_labels without pandas (corpora/label_csv.py): the same LabelTable, and the same problems,
as the pandas reader it replaced.

``_pandas_read_labels`` below is that reader, kept here only as the reference: every comparison
runs both on the same folder and asserts the same outcome, field by field (labels bit for bit, in
the same memory layout), or the same :class:`LabelFileError` with the same problems and the same
log warnings. Where the new reader words a problem differently on purpose, ``_normalised`` says
how (pandas' "Error tokenizing data. C error: " prefix; where a UTF-8 error is, which pandas
gives within the field, the new reader within the file, with the line; numpy scalar reprs such
as ``np.float64(0.5)`` in the listed label values). Files covered: hand-written edge cases,
random files from a small grammar, random text (the cells alone), the demo corpus, every
EMO-SUPERB condition's format (tests/test_audit_corpora.py's folders, the NNIME empty header
cell included), tests/data/relabel, and (slow, SER_TEST_DATA) the EmoDB, CREMA-D and EmoGator
recipes' folders. The numbers: pandas' values of a million and more decimal strings (every
6-decimal value in [0, 1], smoothed soft labels, 17-digit and half-way cases) are exactly
``float()``'s, so reading a label with ``float`` changes no bit. Three documented differences
have their own tests (a longer first row, a comma after a blank line ended by a lone carriage
return, a headerless first column of digits).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emobench.core.audio import AudioError, inspect_file, resolve_in_root
from emobench.core.experiment import LOG
from emobench.corpora import demo_emotion, label_csv
from emobench.corpora.emotion_labels import (META_COLUMNS, SPLITS, LabelFileError, LabelTable,
                                             read_corpus_config, read_labels, smooth)
from helpers_labels import CLASSES, write_config, write_corpus

HERE = Path(__file__).parent


# --------------------------------------------------------------------------- the pandas reader


def _pandas_read_labels(label_dir: str | Path, fold: int, audio_root: str | Path, *,
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
    old = outcome(_pandas_read_labels, label_dir, fold, audio_root, **kwargs)
    assert new == old
    return new


def assert_same_folder(label_dir: Path, audio_root: Path, **kwargs) -> int:
    """Every fold of a label folder; the number of folds read as tables."""
    folds = sorted(int(p.stem.rsplit("_", 1)[1]) for p in label_dir.glob("labels_consensus_*.csv"))
    assert folds, label_dir
    return sum(assert_same(label_dir, k, audio_root, **kwargs)[0] == "table" for k in folds)


def test_the_emotion_path_does_not_import_pandas():
    code = ("import sys; import emobench.corpora.emotion_labels, emobench.downstream.emotion.task;"
            " print('pandas' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------- edge cases

HEADER = "FileName,Anger,Happiness,Neutral,SpkrID,Gender,Split_Set"
ROWS = ["s1_a.wav,1.0,0.0,0.0,spk1,Female,Train", "s1_b.wav,0.5,0.5,0.0,spk1,Female,Train",
        "s2_a.wav,0.0,1.0,0.0,spk2,Male,Development",
        "s2_b.wav,0.25,0.25,0.5,spk2,Male,Development",
        "s3_a.wav,0.0,0.0,1.0,spk3,Female,Test", "s3_b.wav,0.2,0.3,0.5,spk3,Female,Test"]


def _text(header: str = HEADER, rows=ROWS, end: str = "\n") -> str:
    return end.join([header, *rows]) + end


def _swap(i: int, row: str) -> list[str]:
    return [row if j == i else r for j, r in enumerate(ROWS)]


EDGE_CASES = {
    "plain": _text(),
    "bom": "\ufeff" + _text(),
    "bom-quoted-header": "\ufeff" + _text('"FileName",' + HEADER.split(",", 1)[1]),
    "crlf": _text(end="\r\n"),
    "cr": _text(end="\r"),
    "no-final-newline": _text().rstrip("\n"),
    "blank-lines": "\n\n" + HEADER + "\n\n" + "\n \n".join(ROWS) + "\n\t\n  \t \n",
    "blank-crlf-lines": "\r\n" + _text(end="\r\n\r\n"),
    "trailing-space-line": _text() + "   ",
    "quoted": _text(rows=['"' + r.replace(",", '","') + '"' for r in ROWS]),
    "quoted-comma-name": _text(rows=_swap(0, '"s1,a.wav",1.0,0.0,0.0,spk1,Female,Train')),
    "quote-in-name": _text(rows=_swap(0, 's1"a".wav,1.0,0.0,0.0,spk1,Female,Train')),
    "doubled-quote": _text(rows=_swap(0, '"s1""a.wav",1.0,0.0,0.0,spk1,Female,Train')),
    "text-after-quote": _text(rows=_swap(0, '"s1"_a.wav,1.0,0.0,0.0,spk1,Female,Train')),
    "newline-in-name": _text(rows=_swap(1, '"s1\nb.wav",0.5,0.5,0.0,spk1,Female,Train')),
    "quoted-empty-line": _text(rows=[*ROWS[:2], '""', *ROWS[2:]]),
    "quoted-space-line": _text(rows=[*ROWS[:2], '"  "', *ROWS[2:]]),
    "vertical-tab-line": _text(rows=[*ROWS[:2], "\x0b", *ROWS[2:]]),
    "nul-in-name": _text(rows=_swap(2, "s2\x00a.wav,0.0,1.0,0.0,spk2,Male,Development")),
    "fewer-fields": _text(rows=_swap(3, "s2_b.wav,0.25,0.25,0.5,spk2")),
    "only-a-name": _text(rows=_swap(3, "s2_b.wav")),
    "empty-fields-row": _text(rows=[*ROWS, ",,,,,,"]),
    "more-fields-later": _text(rows=_swap(4, ROWS[4] + ",extra")),
    "trailing-comma-later": _text(rows=_swap(4, ROWS[4] + ",")),
    "more-fields-after-blank-and-newline": _text(rows=[ROWS[0], "", '"x\ny",1,0,0,s,F,Train',
                                                       *ROWS[1:3], ROWS[3] + ",9", *ROWS[4:]]),
    "header-trailing-comma": _text(HEADER + ","),
    "header-duplicate-class": _text(HEADER + ",Anger"),
    "header-duplicate-filename": _text(HEADER.replace("Gender", "FileName")),
    "header-duplicate-mangled": _text(HEADER + ",Anger.1,Anger"),
    "header-empty-first-cell": _text(HEADER[len("FileName"):]),
    "header-two-empty-cells": _text(HEADER[len("FileName"):].replace("Gender", "")),
    "header-empty-cell-and-unnamed": _text(HEADER[len("FileName"):].replace("Gender",
                                                                            "Unnamed: 0")),
    "header-empty-middle-cell": _text(HEADER.replace("Gender", "")),
    "header-space": _text(HEADER.replace("Anger", " Anger")),
    "header-missing-split": _text(HEADER.replace("Split_Set", "Split")),
    "header-only": HEADER + "\n",
    "header-only-no-newline": HEADER,
    "empty": "",
    "blank-only": "\n  \n\t\n",
    "unclosed-quote": _text(rows=[*ROWS, '"s9.wav,0.5,0.5,0,spk3,Male,Test']),
    "unclosed-quote-after-blank-lines": _text(rows=[*ROWS[:3], "", " ", *ROWS[3:], '"x,1']),
    "unclosed-quote-in-header": '"FileName,' + _text()[len("FileName,"):],
    "closing-quote-at-eof": _text(rows=[*ROWS, '"s9.wav,1"']).rstrip("\n"),
    "spaces-in-values": _text(rows=_swap(1, "s1_b.wav, 0.5,0.5 ,\t0.0\t,spk1,Female,Train")),
    "space-in-split": _text(rows=_swap(1, "s1_b.wav,0.5,0.5,0.0,spk1,Female, Train")),
    "empty-split": _text(rows=_swap(1, "s1_b.wav,0.5,0.5,0.0,spk1,Female,")),
    "blank-speaker": _text(rows=_swap(1, "s1_b.wav,0.5,0.5,0.0, ,Female,Train")),
    "spaced-speaker": _text(rows=_swap(1, "s1_b.wav,0.5,0.5,0.0, spk1 ,Female,Train")),
    "empty-name": _text(rows=_swap(1, ",0.5,0.5,0.0,spk1,Female,Train")),
    "spaced-name": _text(rows=_swap(1, " s1_b.wav ,0.5,0.5,0.0,spk1,Female,Train")),
    "duplicate-names": _text(rows=[ROWS[0], ROWS[1], ROWS[1], ROWS[2], ROWS[0], *ROWS[3:]]),
    "numeric-names": _text(rows=_swap(0, "1,1.0,0.0,0.0,spk1,Female,Train")),
    "leakage": _text(rows=[*ROWS[:5], ROWS[5].replace("spk3", "spk1"),
                           ROWS[3].replace("s2_b", "s2_c").replace("spk2", "spk3")]),
    "unknown-splits": _text(rows=_swap(2, ROWS[2].replace("Development", "Validation"))),
    "integer-labels": _text(rows=[r.replace("1.0", "1").replace("0.0", "0") for r in ROWS[:3]]
                            + [r.replace("1.0", "1") for r in ROWS[3:]]),
    "integer-labels-negative-zero": _text(rows=["s1_a.wav,1,-0,0,spk1,Female,Train",
                                                "s2_a.wav,-0,1,-0,spk2,Male,Development",
                                                "s3_a.wav,0,0,1,spk3,Female,Test"]),
    "integer-labels-bad-row": _text(rows=["s1_a.wav,1,0,0,spk1,Female,Train",
                                          "s2_a.wav,0,-1,1,spk2,Male,Development",
                                          "s3_a.wav,0,0,1,spk3,Female,Test"]),
    "boolean-labels": _text(rows=["s1_a.wav,True,False,FALSE,spk1,Female,Train",
                                  "s2_a.wav,false,true,False,spk2,Male,Development",
                                  "s3_a.wav,False,False,tRUE,spk3,Female,Test"]),
    "boolean-with-empty": _text(rows=["s1_a.wav,True,False,False,spk1,Female,Train",
                                      "s2_a.wav,,True,False,spk2,Male,Development",
                                      "s3_a.wav,False,False,True,spk3,Female,Test"]),
    "boolean-and-number": _text(rows=["s1_a.wav,True,0,0,spk1,Female,Train",
                                      "s2_a.wav,0,1,0,spk2,Male,Development",
                                      "s3_a.wav,0,0,1,spk3,Female,Test"]),
    "spellings": _text(rows=["s1_a.wav,.5,5e-1,0.,spk1,Female,Train",
                             "s2_a.wav,+0.25,2.5E-1,+.5e+0,spk2,Male,Development",
                             "s3_a.wav,-0,-0.0,1e0,spk3,Female,Test",
                             "s3_b.wav,0.1e-400,00.5,0.50000000000000000000001,spk3,Female,Test"]),
    "not-numbers": _text(rows=["s1_a.wav,nan,NaN,1,spk1,Female,Train",
                               "s1_b.wav,1_0,0x1,٠,spk1,Female,Train",
                               "s2_a.wav,inf,-Infinity,infinity,spk2,Male,Development",
                               "s2_b.wav,\u00a00.5,0.5\u00a0,0,spk2,Male,Development",
                               "s3_a.wav,1e,e1,.,spk3,Female,Test",
                               "s3_b.wav, ,abc,0.5,spk3,Female,Test"]),
    "out-of-range": _text(rows=_swap(1, "s1_b.wav,1.5,-0.5,0.0,spk1,Female,Train")),
    "empty-value": _text(rows=_swap(1, "s1_b.wav,,0.5,0.5,spk1,Female,Train")),
    "sums": _text(rows=_swap(1, "s1_b.wav,0.5,0.3,0.1,spk1,Female,Train")
                  + ["s4.wav,0.333333,0.333333,0.333333,spk1,Female,Train",
                     "s5.wav,0.1,0.2,0.7000001,spk1,Female,Train"]),
    "every-problem": _text(rows=[",0.5,0.3,0.1,,Female,Nope", "s1_b.wav,abc,1.5,,spk2,Male,Test",
                                 "s1_b.wav,0,1,0,spk2,Male,Train", "../x.wav,1,0,0,spk1,F,Test"]),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_read_as_pandas_read_them(name: str, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, audio=False)
    corpus.csv.write_bytes(EDGE_CASES[name].encode("utf-8"))
    for kwargs in ({}, {"speakerless": True, "allow_speaker_overlap": True,
                        "sum_tolerance": 1e-9}):
        assert_same(corpus.label_dir, 1, corpus.audio_root, check_audio=False, **kwargs)


BAD_BYTES = {
    "latin-1": _text(rows=_swap(0, "s1_ä.wav,1.0,0.0,0.0,spk1,Female,Train")).encode("latin-1"),
    "bad-byte-in-header": b"File\xffName" + _text().encode()[8:],
    "bad-byte-in-a-value": _text().encode().replace(b"0.25", b"0.2\xe9"),
    "utf-16": _text().encode("utf-16"),
    "binary": bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
    "nul-bytes": b"\x00" * 64,
}


@pytest.mark.parametrize("name", sorted(BAD_BYTES))
def test_undecodable_files(name: str, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, audio=False)
    corpus.csv.write_bytes(BAD_BYTES[name])
    result = assert_same(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
    assert result[0] == "error" and result[1] == corpus.csv


def test_unreadable_csv_messages(tmp_path: Path) -> None:
    """The reasons, as the new reader words them."""
    corpus = write_corpus(tmp_path, audio=False)
    expected = {"empty": "not a readable CSV (No columns to parse from file)",
                "more-fields-later": "not a readable CSV (Expected 7 fields in line 6, saw 8)",
                "more-fields-after-blank-and-newline":
                    "not a readable CSV (Expected 7 fields in line 7, saw 8)",
                "unclosed-quote-after-blank-lines":
                    "not a readable CSV (EOF inside string starting at row 9)"}
    for name, message in expected.items():
        corpus.csv.write_text(EDGE_CASES[name], encoding="utf-8")
        with pytest.raises(LabelFileError) as info:
            read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
        assert info.value.problems == [message] and info.value.source == corpus.csv
    corpus.csv.write_bytes(BAD_BYTES["bad-byte-in-a-value"])
    with pytest.raises(LabelFileError, match=r"not a readable CSV \(line 5: 'utf-8' codec can't "
                                             r"decode byte 0xe9 in position 190: invalid "):
        read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)


def test_label_values_are_listed_as_written(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, audio=False)
    corpus.csv.write_text(EDGE_CASES["every-problem"], encoding="utf-8")
    with pytest.raises(LabelFileError) as info:
        read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
    assert ("line 3: label values must be numbers in [0, 1]: ['abc', 1.5, nan]"
            in info.value.problems)
    corpus.csv.write_text(EDGE_CASES["integer-labels-bad-row"], encoding="utf-8")
    with pytest.raises(LabelFileError) as info:
        read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
    assert info.value.problems == ["line 3: label values must be numbers in [0, 1]: [0, -1, 1]"]


def test_a_longer_first_row_is_refused_not_shifted(tmp_path: Path) -> None:
    """pandas takes a first data row with one field more than the header as a row index and
    shifts every column (the old reader then failed with a TypeError, or, for whole-number
    first fields, read the shifted columns); the new reader refuses the file."""
    corpus = write_corpus(tmp_path, audio=False)
    for rows in ([r + "," for r in ROWS], [f"{i},{r}" for i, r in enumerate(ROWS)]):
        corpus.csv.write_text(_text(rows=rows), encoding="utf-8")
        with pytest.raises(LabelFileError) as info:
            read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
        assert info.value.problems == ["not a readable CSV (Expected 7 fields in line 2, saw 8)"]


def test_an_unnamed_first_column_keeps_its_text(tmp_path: Path) -> None:
    """With the first header cell empty pandas guessed that column's type, so a FileName of
    digits lost its leading zeros (``007`` read as ``7``); the new reader keeps the text."""
    corpus = write_corpus(tmp_path, audio=False)
    rows = [f"{i:03d}" + row[row.index(","):] for i, row in enumerate(ROWS, 7)]
    corpus.csv.write_text(_text(HEADER[len("FileName"):], rows), encoding="utf-8")
    table = read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
    assert table.file_names == ["007", "008", "009", "010", "011", "012"]
    assert _pandas_read_labels(corpus.label_dir, 1, corpus.audio_root,
                               check_audio=False).file_names == ["7", "8", "9", "10", "11", "12"]


# --------------------------------------------------------------------------- random files

_NAMES = ["", " a.wav", "x y.wav", "e,f.wav", 'q"t.wav', "s1.wav"]
_VALUES = ["0", "1", "0.5", "0.333333", "0.483333", "0.016667", "1.0", ".5", "5e-1", " 0.5", "",
           "abc", "nan", "inf", "-0.1", "1.5", "True", "false", "1_0", "-0", " ", "1e"]
_SPEAKERS = ["s1", "s2", "", " ", " s1"]
_SPLITS = ["Train", "Development", "Test", "Validation", "", " Train"]
_BLANKS = ["", " ", "\t", "  \t"]


def _field(rng: np.random.Generator, text: str) -> str:
    needs_quotes = any(c in text for c in ',"\r\n')
    if needs_quotes or rng.random() < 0.1:
        return '"' + text.replace('"', '""') + '"'
    return text


def _spelling(rng: np.random.Generator, p: float) -> str:
    """A soft label as some writer may spell it."""
    forms = [f"{p:.6f}", f"{p:.6g}", repr(p), f"{p:.17g}", f" {p:.6f}", f"{p:.6f}\t",
             f"{p:.6e}", f"{p:.4f}".lstrip("0")]
    return forms[rng.integers(len(forms))]


def _random_file(rng: np.random.Generator) -> str:
    """A valid fold (random soft labels, spellings, quoting, line ends, blank lines, column
    order), then with some probability a few random changes (bad values, names, splits,
    speakers, ragged rows, header changes, an unclosed quote)."""
    pick = lambda pool: pool[rng.integers(len(pool))]  # noqa: E731
    header = ["FileName", *CLASSES, "SpkrID", "Gender", "Split_Set"]
    if rng.random() < 0.3:
        header = [header[0], *rng.permutation(header[1:]).tolist()]
    if rng.random() < 0.1:
        header[0] = ""  # NNIME
    split_names = ["Train", "Development", "Test"]
    cells = []
    for i in range(rng.integers(3, 9)):
        split = split_names[i % 3]
        p = np.round(rng.dirichlet(np.ones(len(CLASSES))), 6)
        if rng.random() < 0.2:
            p = smooth(np.eye(len(CLASSES))[rng.integers(len(CLASSES))])
        cells.append({"FileName": f"{split}_{i}.wav", "SpkrID": f"spk_{split}", "Gender": "F",
                      "Split_Set": split}
                     | {c: _spelling(rng, float(v)) for c, v in zip(CLASSES, p)})
    broken = rng.random() < 0.6
    for _ in range(rng.integers(1, 4) if broken else 0):
        row = cells[rng.integers(len(cells))]
        change = rng.integers(6)
        if change == 0:
            row[pick(CLASSES)] = pick(_VALUES)
        elif change == 1:
            row["FileName"] = pick(_NAMES + [c["FileName"] for c in cells])
        elif change == 2:
            row["SpkrID"] = pick(_SPEAKERS)
        elif change == 3:
            row["Split_Set"] = pick(_SPLITS)
        elif change == 4:
            header.append(pick(["Anger", "", "Surprise", "EmoAct", "Anger.1"]))
        else:
            header.remove(pick(header[1:]))
    rows = []
    for row in cells:
        fields = [_field(rng, row.get(c or ("FileName" if j == 0 else c), "0"))
                  for j, c in enumerate(header)]
        if broken and rows and rng.random() < 0.03:
            fields.append("extra")
        elif broken and rng.random() < 0.05:
            fields = fields[:rng.integers(1, len(fields))]
        rows.append(",".join(fields))
        if rng.random() < 0.1:
            rows.append(pick(_BLANKS))
    end = pick(["\n", "\r\n", "\r"])
    if end == "\r":  # pandas drops a comma after a blank line ended by a bare \r (test below)
        rows = [row for row in rows if row.strip(" \t")]
    text = end.join([",".join(_field(rng, h) for h in header), *rows])
    if rng.random() < 0.8:
        text += end
    if rng.random() < 0.1:
        text = "\ufeff" + text
    if broken and rng.random() < 0.03:
        text += '"unclosed,1'
    return text


def _pandas_takes_an_index(path: Path) -> bool:
    try:
        return not isinstance(pd.read_csv(path, dtype=str).index, pd.RangeIndex)
    except (ValueError, UnicodeDecodeError):
        return False


def _random_files_agree(count: int, seed: int, tmp_path: Path) -> dict[str, int]:
    corpus = write_corpus(tmp_path, audio=False)
    rng = np.random.default_rng(seed)
    tally = {"table": 0, "error": 0}
    for _ in range(count):
        text = _random_file(rng)
        corpus.csv.write_text(text, encoding="utf-8", newline="")
        kwargs = {"check_audio": False, "speakerless": bool(rng.random() < 0.3),
                  "allow_speaker_overlap": bool(rng.random() < 0.5)}
        try:
            if _pandas_takes_an_index(corpus.csv):  # refused on purpose (test above)
                with pytest.raises(LabelFileError, match="not a readable CSV .Expected"):
                    read_labels(corpus.label_dir, 1, corpus.audio_root, **kwargs)
                continue
            result = assert_same(corpus.label_dir, 1, corpus.audio_root, **kwargs)
        except AssertionError:
            print(repr(text), kwargs)
            raise
        tally[result[0]] += 1
    return tally


def test_random_files_read_as_pandas_reads_them(tmp_path: Path) -> None:
    tally = _random_files_agree(400, 0, tmp_path)
    assert tally["table"] >= 20 and tally["error"] >= 200, tally


def test_a_nul_character_in_a_file_name_is_a_label_file_error(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, audio=False)
    corpus.csv.write_text(EDGE_CASES["nul-in-name"], encoding="utf-8")
    with pytest.raises(LabelFileError) as info:
        read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
    assert info.value.problems[0].startswith("line 4: path 's2\\x00a.wav' under the audio root")
    assert "NUL character" in info.value.problems[0]


def test_a_row_after_a_blank_line_ended_by_a_bare_cr_keeps_its_first_field(tmp_path: Path):
    """pandas (3.1) drops the first comma of a line that follows a skipped blank line ended by a
    lone carriage return, shifting that row's fields one column to the left (here the empty
    FileName would take the first label value); the new reader keeps the row as written."""
    corpus = write_corpus(tmp_path, audio=False)
    rows = [*ROWS[:2], "", ",0.0,1.0,0.0,spk2,Male,Development", *ROWS[3:]]
    corpus.csv.write_text(_text(rows=rows, end="\r"), encoding="utf-8", newline="")
    with pytest.raises(LabelFileError) as info:
        read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
    assert info.value.problems == ["line 4: empty FileName"]
    with pytest.raises(LabelFileError) as info:
        _pandas_read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
    assert "line 4: unknown split nan" in str(info.value)  # the shifted row


# --------------------------------------------------------------------------- real label folders


def test_relabel_test_folders(tmp_path: Path) -> None:
    relabel = HERE / "data" / "relabel"
    assert assert_same_folder(relabel / "Primary", tmp_path, check_audio=False) == 2
    expected = tmp_path / "expected"  # the relabelled folds, with Primary's config.json
    shutil.copytree(relabel / "expected", expected)
    shutil.copy(relabel / "Primary" / "config.json", expected)
    assert assert_same_folder(expected, tmp_path, check_audio=False) == 2


def test_demo_corpus_every_condition_and_fold(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    demo_emotion.build(root, seed=0, utterances_per_speaker=4)
    for condition in demo_emotion.CONDITIONS:
        assert assert_same_folder(root / condition, root / "audio") == demo_emotion.N_FOLDS


def test_every_emo_superb_condition_format(tmp_path: Path) -> None:
    """tests/test_audit_corpora.py's folders: each condition's classes, FileNames, SpkrIDs and
    partition folds (NNIME with its empty first header cell)."""
    from test_audit_corpora import NAMES, build

    for name in NAMES:
        folder = build(name, tmp_path / name)
        assert assert_same_folder(folder.label_dir, folder.audio_root,
                                  allow_speaker_overlap=True) == len(folder.folds)


@pytest.mark.slow
def test_recipes_on_the_real_corpora(test_data: Path, tmp_path: Path) -> None:
    """The EmoDB, CREMA-D and EmoGator recipes' label folders (SER_TEST_DATA): the audio is
    checked where the corpus is there (EmoDB); CREMA-D's 7,442 rows are read without audio, and
    with it (all but one clip missing: the same 7,441 problems)."""
    from emobench.corpora import crema_d, emodb, emogator

    emodb.prepare(test_data / "emodb", tmp_path / "emodb")
    folders = sorted(p.parent for p in (tmp_path / "emodb").glob("*/config.json"))
    assert len(folders) == 2
    for folder in folders:
        assert assert_same_folder(folder, test_data / "emodb" / "wav") >= 1
    crema_d.prepare(test_data / "crema-d", tmp_path / "crema")
    folder = tmp_path / "crema" / "Primary"
    assert assert_same_folder(folder, test_data / "crema-d", check_audio=False) == 5
    result = assert_same(folder, 1, test_data / "crema-d")
    assert result[0] == "error" and len(result[2]) == 7441
    emogator.prepare(test_data / "emogator", tmp_path / "emogator", emotion=True)
    assert assert_same_folder(tmp_path / "emogator" / "emotion", test_data / "emogator" / "mp3",
                              check_audio=False) == 1


# --------------------------------------------------------------------------- numbers


def _pandas_values(texts: list[str]) -> np.ndarray:
    frame = pd.read_csv(io.StringIO("x\n" + "\n".join(texts) + "\n"), keep_default_na=False,
                        na_values=[""])
    return frame["x"].to_numpy(np.float64)


def _same_bits(texts: list[str]) -> None:
    ours = label_csv.numbers(texts)
    theirs = _pandas_values(texts)
    assert theirs.dtype == np.float64 and len(theirs) == len(texts)
    differ = np.flatnonzero(ours.view(np.int64) != theirs.view(np.int64))
    assert differ.size == 0, [texts[i] for i in differ[:10]]
    assert (ours.view(np.int64) == np.array([float(t) for t in texts]).view(np.int64)).all()


def test_every_six_decimal_label_parses_to_the_same_bits() -> None:
    """All 1,000,001 values 0.000000 ... 1.000000, and their %.6g spellings."""
    grid = np.arange(1_000_001)
    _same_bits([f"{i / 1e6:.6f}" for i in grid.tolist()])
    _same_bits([f"{i / 1e6:.6g}" for i in grid[::7].tolist()])


def test_soft_labels_and_hard_cases_parse_to_the_same_bits() -> None:
    fractions = sorted({Fraction(k, n) for n in range(1, 61) for k in range(n + 1)})
    texts = [f"{float(f):.6f}" for f in fractions] + [repr(float(f)) for f in fractions]
    texts += ["0.333333", "0.483333", "0.016667", f"{1 / 7:.6f}", "0.142857", "0.95", "0.00625"]
    for c in range(2, 13):  # EMO-SUPERB smoothing of every vote fraction with up to 12 raters
        votes = np.array([[k / n] + [0.0] * (c - 1) for n in range(1, 13) for k in range(n + 1)])
        texts += [repr(v) for v in smooth(votes).ravel().tolist()]
    rng = np.random.default_rng(0)
    doubles = rng.random(50_000).tolist()
    texts += [repr(v) for v in doubles] + [f"{v:.17g}" for v in doubles]
    texts += [f"{v:.{rng.integers(1, 25)}f}" for v in doubles]
    # half-way points between neighbouring doubles, and just beside them (round-to-even cases)
    from decimal import Decimal, getcontext
    getcontext().prec = 80
    for v in doubles[:3000]:
        middle = (Decimal(v) + Decimal(float(np.nextafter(v, 2.0)))) / 2
        texts += [str(middle), str(middle + Decimal("1e-70")), str(middle - Decimal("1e-70"))]
    texts += ["9007199254740993", "2.2250738585072011e-308", "4.9e-324", "2.4703282292062328e-324",
              "1.7976931348623157e308", "1e-400", "0.30000000000000004", "1e400"]
    _same_bits(texts)


def test_number_spellings_are_pandas_numbers() -> None:
    """Which texts pandas reads as numbers (a column of that one text), and their value."""
    texts = ["0.5", ".5", "5.", "+.5", "-.5", "1e0", "1E-1", "1e", "e1", ".", "-", "0x1", "1_0",
             "١", "０.5", "nan", "NaN", "inf", "-inf", "+Infinity", "inF", "infinit", " 0.5",
             "0.5 ", "\t0.5", "\x0b0.5", "\x0c0.5", "\xa00.5", "0.5\xa0", "\u20030.5", "1",
             "01", "-0", "0.5.5", "1d0", "0 .5", "1.5e-3", "00.50", "True", " ", "#1"]
    for text in texts:
        frame = pd.read_csv(io.StringIO(f'x\n"{text}"\n'), keep_default_na=False,
                            na_values=[""])
        expected = pd.to_numeric(frame["x"], errors="coerce").to_numpy(np.float64)
        ours = label_csv.numbers([text])
        assert ours.view(np.int64).tolist() == expected.view(np.int64).tolist(), text


def test_random_text_splits_into_the_same_cells_as_in_pandas(tmp_path: Path) -> None:
    """label_csv.read_csv on random text of commas, quotes, line ends, spaces and tabs: the
    same column names and cells as pandas, or the same error; the two documented exceptions
    (a longer first row, a comma after a blank line ended by a lone carriage return) are
    counted, not compared."""
    rng = np.random.default_rng(0)
    pieces = [",", '"', "\n", "\r", " ", "\t", "a", "0", ".", "\r\n", "b,", '""']
    path = tmp_path / "x.csv"
    tally = {"same": 0, "longer first row": 0, "comma after a lone carriage return": 0}
    for _ in range(1500):
        text = "A,B,C\n" + "".join(pieces[i] for i in rng.integers(0, len(pieces),
                                                                    rng.integers(0, 40)))
        path.write_text(text, newline="")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            theirs = ("cells", list(frame.columns),
                      [tuple("" if v != v else v for v in frame[c])
                       for c in frame.columns])
        except (ValueError, pd.errors.ParserError) as exc:
            theirs = ("error", str(exc).replace("Error tokenizing data. C error: ", "").strip())
        try:
            ours = ("cells", *label_csv.read_csv(path))
            ours = (ours[0], ours[1], [tuple(column) for column in ours[2]])
        except label_csv.CsvError as exc:
            ours = ("error", str(exc))
        if ours == theirs:
            tally["same"] += 1
            continue
        records = [r for r in csv.reader(io.StringIO(text, newline=""))
                   if r and (len(r) > 1 or r[0].strip(" \t"))]
        if len(records) > 1 and len(records[1]) > len(records[0]):
            tally["longer first row"] += 1
        elif re.search(r"[\n\r][ \t]*\r(?!\n)[ \t\r]*,", text):
            tally["comma after a lone carriage return"] += 1
        else:
            assert ours == theirs, repr(text)
    assert tally["same"] > 1300, tally
