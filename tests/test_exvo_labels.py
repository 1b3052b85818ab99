"""emobench.corpora.exvo_labels: reading and validating HUME-VB data_info.csv (tiny corpora in tmp_path)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emobench.corpora.exvo_labels import COUNTRIES, EMOTIONS, SPLITS, ExVoTable, read_data_info
from emobench.core.errors import LabelFileError

HEADER = ["File_ID", "Split", "Subject_ID", "Country", "Age", *EMOTIONS]


def emotion_value(row: int, k: int) -> float:
    """A distinct intensity per (row, emotion), so a column mix-up shows."""
    return round((k + 1) / 20 + row / 100, 3)


def default_rows() -> list[dict[str, str]]:
    base = [("[1]", "Train", "Speaker_1", "China", "25"),
            ("[2]", "Train", "Speaker_1", "USA", "30.5"),
            ("[3]", "Val", "Speaker_2", "2", "40"),
            ("[4]", "Val", "Speaker_2", " south africa ", "22"),
            ("[5]", "Test", "7", "Venezuela", "33"),
            ("[6]", "Test", "7", "", "")]
    rows = []
    for r, (fid, split, spk, country, age) in enumerate(base):
        row = dict(File_ID=fid, Split=split, Subject_ID=spk, Country=country, Age=age)
        row.update({e: "" if fid == "[6]" else str(emotion_value(r, k))
                    for k, e in enumerate(EMOTIONS)})
        rows.append(row)
    return rows


def write_exvo(root: Path, rows: list[dict[str, str]] | None = None,
               header: list[str] | None = None, wavs: bool = True) -> tuple[Path, Path]:
    """Write ``root/data_info.csv`` and ``root/wav/<id>.wav`` (16 kHz, 0.2 s of noise)."""
    rows = default_rows() if rows is None else rows
    header = header or HEADER
    audio = root / "wav"
    audio.mkdir(parents=True, exist_ok=True)
    path = root / "data_info.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore", restval="")
        writer.writeheader()
        writer.writerows(rows)
    rng = np.random.default_rng(0)
    for row in rows if wavs else []:
        token = row.get("File_ID", "").strip("[]")
        if token and "/" not in token and token.strip(".") and not (audio / f"{token}.wav").exists():
            sf.write(audio / f"{token}.wav", 0.1 * rng.standard_normal(3200), 16_000)
    return path, audio


def read(root: Path, rows=None, **kwargs) -> ExVoTable:
    path, audio = write_exvo(root, rows)
    return read_data_info(path, audio, **kwargs)


def test_reads_valid_file(tmp_path):
    table = read(tmp_path)
    assert len(table) == 6
    assert table.source == tmp_path / "data_info.csv"
    assert table.file_ids == ["[1]", "[2]", "[3]", "[4]", "[5]", "[6]"]
    assert table.paths == [(tmp_path / "wav" / f"{i}.wav").resolve() for i in range(1, 7)]
    assert table.speakers == ["Speaker_1", "Speaker_1", "Speaker_2", "Speaker_2", "7", "7"]
    assert table.splits.tolist() == ["train", "train", "val", "val", "test", "test"]
    assert table.emotions.shape == (6, 10) and table.emotions.dtype == np.float64
    assert table.age.dtype == np.float64 and table.country.dtype == np.int64
    assert table.labelled.tolist() == [True] * 5 + [False]
    assert table.country.tolist() == [0, 2, 2, 1, 3, -1]
    np.testing.assert_array_equal(table.age[:5], [25, 30.5, 40, 22, 33])
    assert np.isnan(table.age[5]) and np.isnan(table.emotions[5]).all()
    assert table.counts() == {"train": 2, "val": 2, "test": 2, "test_unlabelled": 1}
    assert SPLITS == ("train", "val", "test") and COUNTRIES[2] == "USA"


def test_columns_are_read_by_header_name(tmp_path):
    header = HEADER[::-1] + ["Country_string"]
    rows = default_rows()
    for row in rows:
        row["Country_string"] = "ignored" if not row["Country"].strip().isdigit() else "USA"
    path, audio = write_exvo(tmp_path, rows, header=header)
    table = read_data_info(path, audio)
    expected = [[emotion_value(r, k) for k in range(10)] for r in range(5)]
    np.testing.assert_array_equal(table.emotions[:5], expected)
    assert table.file_ids[0] == "[1]" and table.country.tolist()[:5] == [0, 2, 2, 1, 3]


@pytest.mark.parametrize("value,code", [("china", 0), ("SOUTH AFRICA", 1), (" USA ", 2),
                                        ("3", 3), ("0", 0)])
def test_country_names_and_codes(tmp_path, value, code):
    rows = default_rows()
    rows[0]["Country"] = value
    assert read(tmp_path, rows).country[0] == code


def test_subset_and_labelled_only(tmp_path):
    table = read(tmp_path)
    val = table.subset("val")
    assert val.file_ids == ["[3]", "[4]"] and val.splits.tolist() == ["val", "val"]
    assert val.emotions.shape == (2, 10) and val.speakers == ["Speaker_2"] * 2
    test = table.subset("test")
    assert test.labelled.tolist() == [True, False] and test.country.tolist() == [3, -1]
    scored = table.labelled_only()
    assert len(scored) == 5 and not np.isnan(scored.emotions).any()
    assert scored.counts() == {"train": 2, "val": 2, "test": 1, "test_unlabelled": 0}
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        table.subset("dev")


def test_check_audio_false_skips_audio(tmp_path):
    path, audio = write_exvo(tmp_path, wavs=False)
    assert len(read_data_info(path, audio, check_audio=False)) == 6
    with pytest.raises(LabelFileError, match=r"line 2: .*1\.wav: audio file does not exist"):
        read_data_info(path, audio)


# ---- errors -------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(LabelFileError, match=r"(?s)1 problem.*does not exist"):
        read_data_info(tmp_path / "nope.csv", tmp_path)


def test_unreadable_csv(tmp_path):
    (tmp_path / "data_info.csv").write_bytes(b"")
    with pytest.raises(LabelFileError, match="not a readable CSV"):
        read_data_info(tmp_path / "data_info.csv", tmp_path)


def test_missing_columns_with_suggestion(tmp_path):
    header = [("Amusment" if c == "Amusement" else c) for c in HEADER if c != "Age"]
    rows = [{("Amusment" if k == "Amusement" else k): v for k, v in r.items()}
            for r in default_rows()]
    path, audio = write_exvo(tmp_path, rows, header=header)
    with pytest.raises(LabelFileError) as err:
        read_data_info(path, audio)
    assert len(err.value.problems) == 2
    assert err.value.problems[0].startswith("required column 'Age' is missing (header: [")
    assert "required column 'Amusement' is missing" in err.value.problems[1]
    assert "did you mean 'Amusment'?" in err.value.problems[1]


@pytest.mark.parametrize("fid,problem", [
    ("", "line 3: empty File_ID"),
    ("2", r"line 3: File_ID '2' is not of the form \[id\]"),
    ("[a/b]", r"line 3: File_ID '\[a/b\]' is not of the form"),
    ("[..]", r"line 3: File_ID '\[\.\.\]' is not of the form"),
    ("[1]", r"lines 2, 3: duplicate File_ID '\[1\]'"),
])
def test_bad_file_id(tmp_path, fid, problem):
    rows = default_rows()
    rows[1]["File_ID"] = fid
    with pytest.raises(LabelFileError, match=problem):
        read(tmp_path, rows)


def test_split_names(tmp_path):
    rows = default_rows()
    rows[0]["Split"], rows[2]["Split"] = "train", "VAL"
    assert read(tmp_path, rows).splits.tolist()[:3] == ["train", "train", "val"]
    rows[1]["Split"] = "Dev"
    with pytest.raises(LabelFileError, match=r"line 3: unknown Split 'Dev' \(expected Train"):
        read(tmp_path, rows)


def test_empty_subject(tmp_path):
    rows = default_rows()
    rows[3]["Subject_ID"] = " "
    with pytest.raises(LabelFileError, match="line 5: empty Subject_ID"):
        read(tmp_path, rows)


@pytest.mark.parametrize("value", ["Brazil", "4", "-1", "2.0"])
def test_unknown_country(tmp_path, value):
    rows = default_rows()
    rows[2]["Country"] = value
    with pytest.raises(LabelFileError, match=rf"line 4: unknown country '{value}' \(known: China, "
                                             r"South Africa, USA, Venezuela, or their indices 0-3\)"):
        read(tmp_path, rows)


def test_country_string_disagreement(tmp_path):
    rows = default_rows()
    for row in rows:
        row["Country_string"] = "Venezuela" if row["File_ID"] == "[3]" else ""
    path, audio = write_exvo(tmp_path, rows, header=HEADER + ["Country_string"])
    with pytest.raises(LabelFileError, match="line 4: Country 2 means 'USA' but Country_string "
                                             "is 'Venezuela'"):
        read_data_info(path, audio)
    rows[2]["Country_string"] = "usa"
    path, audio = write_exvo(tmp_path, rows, header=HEADER + ["Country_string"])
    assert read_data_info(path, audio).country[2] == 2


@pytest.mark.parametrize("value", ["0", "120", "-3", "abc", "nan", "inf"])
def test_bad_age(tmp_path, value):
    rows = default_rows()
    rows[4]["Age"] = value
    with pytest.raises(LabelFileError, match=rf"line 6: Age must be a number in \(0, 120\), "
                                             rf"got '{value}'"):
        read(tmp_path, rows)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "x", "NaN"])
def test_bad_emotion(tmp_path, value):
    rows = default_rows()
    rows[0]["Horror"] = value
    with pytest.raises(LabelFileError, match=rf"line 2: Horror must be a number in \[0, 1\], "
                                             rf"got '{value}'"):
        read(tmp_path, rows)


def test_train_and_val_rows_need_every_label(tmp_path):
    rows = default_rows()
    rows[0]["Age"] = ""
    rows[3].update(Country="", Fear="", Surprise="")
    with pytest.raises(LabelFileError) as err:
        read(tmp_path, rows)
    assert err.value.problems == ["line 2: Train row without Age",
                                  "line 5: Val row without Country, Fear, Surprise"]


def test_test_row_with_some_labels(tmp_path):
    rows = default_rows()
    rows[5]["Age"] = "20"
    with pytest.raises(LabelFileError, match=r"line 7: Test row has only some labels, without "
                                             "Country, Awe, Excitement, .*, Surprise "
                                             r"\(a Test row carries all labels or none\)"):
        read(tmp_path, rows)


def test_missing_audio(tmp_path):
    path, audio = write_exvo(tmp_path)
    (audio / "4.wav").unlink()
    with pytest.raises(LabelFileError, match=r"line 5: .*4\.wav: audio file does not exist"):
        read_data_info(path, audio)


def test_zero_length_audio(tmp_path):
    path, audio = write_exvo(tmp_path)
    sf.write(audio / "2.wav", np.zeros(0), 16_000)
    with pytest.raises(LabelFileError,
                       match=r"line 3: .*2\.wav: zero-length WAV: audio has zero length"):
        read_data_info(path, audio)


def test_symlink_escaping_the_root(tmp_path):
    path, audio = write_exvo(tmp_path)
    outside = tmp_path / "secret.wav"
    (audio / "1.wav").rename(outside)
    (audio / "1.wav").symlink_to(outside)
    with pytest.raises(LabelFileError, match="line 2: path '1.wav' escapes the audio root"):
        read_data_info(path, audio)


def test_other_audio_extension(tmp_path):
    path, audio = write_exvo(tmp_path)
    for wav in audio.glob("*.wav"):
        wav.rename(wav.with_suffix(".flac.wav"))
    assert read_data_info(path, audio, audio_ext=".flac.wav").paths[0].name == "1.flac.wav"


def test_speaker_in_two_splits(tmp_path):
    rows = default_rows()
    rows[2]["Subject_ID"] = "Speaker_1"
    with pytest.raises(LabelFileError, match=r"speaker 'Speaker_1' appears in several splits: "
                                             r"Train \(line 2\), Val \(line 4\) \(leakage; set "
                                             r"data.allow_speaker_overlap=true"):
        read(tmp_path, rows)
    assert len(read(tmp_path, rows, allow_speaker_overlap=True)) == 6


def test_train_and_val_must_have_rows(tmp_path):
    rows = [r for r in default_rows() if r["Split"] == "Test"]
    with pytest.raises(LabelFileError) as err:
        read(tmp_path, rows)
    assert err.value.problems == ["no Train rows", "no Val rows"]


def test_all_problems_reported_at_once(tmp_path):
    rows = default_rows()
    rows[0]["Country"] = "Brazil"
    rows[1]["Split"] = "Dev"
    rows[2]["Awe"] = "2"
    rows[3]["Subject_ID"] = ""
    rows[4]["File_ID"] = "[1]"
    with pytest.raises(LabelFileError, match=r"5 problem\(s\)") as err:
        read(tmp_path, rows)
    text = str(err.value)
    for expected in ("line 2: unknown country 'Brazil'", "line 3: unknown Split 'Dev'",
                     "line 4: Awe must be a number in [0, 1], got '2'",
                     "line 5: empty Subject_ID", "lines 2, 6: duplicate File_ID '[1]'"):
        assert expected in text


# ---- targets and speaker_attributes (other vocal-burst corpora in this format) ---------------

def test_default_targets_are_emotions(tmp_path):
    table = read(tmp_path)
    assert table.targets == EMOTIONS
    assert table.subset("val").targets == EMOTIONS and table.labelled_only().targets == EMOTIONS


def test_targets_choose_and_order_the_columns(tmp_path):
    chosen = ("Surprise", "Awe", "Horror")
    table = read(tmp_path, targets=list(chosen))
    assert table.targets == chosen and table.emotions.shape == (6, 3)
    index = [EMOTIONS.index(c) for c in chosen]
    expected = [[emotion_value(r, k) for k in index] for r in range(5)]
    np.testing.assert_array_equal(table.emotions[:5], expected)
    assert np.isnan(table.emotions[5]).all() and table.labelled.tolist() == [True] * 5 + [False]
    assert table.country.tolist() == [0, 2, 2, 1, 3, -1]  # speaker attributes still read
    assert table.subset("train").emotions.shape == (2, 3)


def test_other_targets_ignore_unread_columns(tmp_path):
    rows = default_rows()
    rows[0]["Horror"] = "7"  # out of range, but not a target
    rows[1]["Fear"] = ""  # missing, but not a target
    table = read(tmp_path, rows, targets=("Awe", "Sadness"))
    assert table.labelled.tolist()[:2] == [True, True]
    with pytest.raises(LabelFileError, match="line 2: Horror must be a number in"):
        read(tmp_path, rows)


def test_custom_targets_are_validated(tmp_path):
    header = ["File_ID", "Split", "Subject_ID", "Country", "Age", "Joy", "Surprise (Negative)"]
    rows = default_rows()
    for r, row in enumerate(rows):
        row.update({"Joy": "" if r == 5 else "0.5", "Surprise (Negative)": "" if r == 5 else "1"})
    rows[2]["Joy"] = "1.01"
    rows[3]["Surprise (Negative)"] = ""
    path, audio = write_exvo(tmp_path, rows, header=header)
    with pytest.raises(LabelFileError) as err:
        read_data_info(path, audio, targets=("Joy", "Surprise (Negative)"))
    assert err.value.problems == ["line 5: Val row without Surprise (Negative)",
                                  "line 4: Joy must be a number in [0, 1], got '1.01'"]
    rows[2]["Joy"], rows[3]["Surprise (Negative)"] = "1", "0"
    path, audio = write_exvo(tmp_path, rows, header=header)
    table = read_data_info(path, audio, targets=("Joy", "Surprise (Negative)"))
    np.testing.assert_array_equal(table.emotions[:5], [[.5, 1], [.5, 1], [1, 1], [.5, 0], [.5, 1]])
    with pytest.raises(LabelFileError) as err:  # the default targets are not in this file
        read_data_info(path, audio)
    assert len(err.value.problems) == 10 and "required column 'Awe' is missing" in err.value.problems[0]


def test_missing_target_column_with_suggestion(tmp_path):
    path, audio = write_exvo(tmp_path)
    with pytest.raises(LabelFileError, match=r"required column 'Surprize' is missing .*; did you "
                                             r"mean 'Surprise'\?"):
        read_data_info(path, audio, targets=("Awe", "Surprize"))


@pytest.mark.parametrize("targets,error", [
    ((), "at least one column"), (("Awe", "Awe"), "twice"), ("Awe", "not the string"),
    (("Awe", ""), "non-empty"), (("Age",), "not intensity columns"),
    (("Subject_ID",), "not intensity columns")])
def test_bad_targets_argument(tmp_path, targets, error):
    path, audio = write_exvo(tmp_path)
    with pytest.raises((ValueError, TypeError), match=error):
        read_data_info(path, audio, targets=targets)


def test_without_speaker_attributes(tmp_path):
    header = [c for c in HEADER if c not in ("Country", "Age")]
    rows = default_rows()
    for row in rows:
        del row["Country"], row["Age"]
    path, audio = write_exvo(tmp_path, rows, header=header)
    with pytest.raises(LabelFileError) as err:
        read_data_info(path, audio)
    assert [p.split(" (")[0] for p in err.value.problems] == [
        "required column 'Country' is missing", "required column 'Age' is missing"]
    table = read_data_info(path, audio, speaker_attributes=False)
    assert len(table) == 6 and table.targets == EMOTIONS
    assert table.labelled.tolist() == [True] * 5 + [False]
    assert np.isnan(table.age).all() and table.age.dtype == np.float64
    assert table.country.tolist() == [-1] * 6 and table.country.dtype == np.int64
    expected = [[emotion_value(r, k) for k in range(10)] for r in range(5)]
    np.testing.assert_array_equal(table.emotions[:5], expected)
    assert table.counts() == {"train": 2, "val": 2, "test": 2, "test_unlabelled": 1}


def test_speaker_attributes_false_ignores_the_columns_when_present(tmp_path):
    rows = default_rows()
    rows[0]["Country"], rows[1]["Age"] = "Brazil", "-3"  # would be errors if read
    rows[2]["Country"], rows[3]["Age"] = "", ""  # would make Val rows unlabelled
    table = read(tmp_path, rows, speaker_attributes=False)
    assert table.labelled.tolist() == [True] * 5 + [False]
    assert table.country.tolist() == [-1] * 6 and np.isnan(table.age).all()


def test_labelled_depends_on_targets_only_without_speaker_attributes(tmp_path):
    rows = default_rows()
    rows[5].update(Country="China", Age="30")  # test row: attributes but no intensities
    assert read(tmp_path, rows, speaker_attributes=False).labelled.tolist()[5] is False
    with pytest.raises(LabelFileError, match="line 7: Test row has only some labels"):
        read(tmp_path, rows)
    rows = default_rows()
    rows[4]["Fear"] = ""
    with pytest.raises(LabelFileError, match=r"line 6: Test row has only some labels, without "
                                             r"Fear \(a Test"):
        read(tmp_path, rows, speaker_attributes=False)


def test_targets_and_no_speaker_attributes_together(tmp_path):
    header = ["File_ID", "Split", "Subject_ID", "Age", "Awe"]  # "Age" as an intensity target
    rows = [dict(File_ID=f"[{i}]", Split=s, Subject_ID=f"S{i // 2}", Age="0.25", Awe="1")
            for i, s in enumerate(["Train", "Train", "Val", "Val"])]
    path, audio = write_exvo(tmp_path, rows, header=header)
    table = read_data_info(path, audio, targets=("Awe", "Age"), speaker_attributes=False)
    np.testing.assert_array_equal(table.emotions, [[1, .25]] * 4)
    assert table.targets == ("Awe", "Age") and np.isnan(table.age).all()
