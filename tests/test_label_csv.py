"""read_labels without pandas (corpora/label_csv.py): the same LabelTable, and the same problems,
as the pandas reader it replaced (tests/helpers_pandas_labels.py, kept there as the reference).

Each comparison runs both readers on one folder and asserts the same outcome, field by field
(labels bit for bit, in the same memory layout), or the same LabelFileError and log warnings.
Here: hand-written edge cases, the demo corpus, every EMO-SUPERB condition's format
(tests/test_audit_corpora.py's folders, the NNIME empty header cell included), tests/data/relabel
and (slow, SER_TEST_DATA) the EmoDB, CREMA-D and EmoGator recipes' folders; random files and the
numbers: tests/test_label_csv_random.py. Three documented differences have their own tests (a
longer first row, a comma after a blank line ended by a lone carriage return, a headerless
first column of digits).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emobench.corpora import demo_emotion
from emobench.corpora.emotion_labels import LabelFileError, read_labels
from helpers_labels import write_corpus
from helpers_pandas_labels import assert_same, assert_same_folder, pandas_read_labels

HERE = Path(__file__).parent


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
    assert pandas_read_labels(corpus.label_dir, 1, corpus.audio_root,
                               check_audio=False).file_names == ["7", "8", "9", "10", "11", "12"]


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
        pandas_read_labels(corpus.label_dir, 1, corpus.audio_root, check_audio=False)
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


