"""EmoGator recipe (corpora/emogator.py): data_info.csv from the file names, speaker split, CLI.

Real-corpus tests read SER_TEST_DATA/emogator (4,500 mp3 files of 50 contributors); the others
use tiny folders of empty files, since the recipe reads file names only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emobench.corpora import partitions
from emobench.corpora.emogator import AUDIO_DIR, AUDIO_EXT, categories, prepare, split_speakers
from emobench.corpora.registry import RECIPES
from emobench.corpora.exvo_labels import read_data_info
from emobench.orchestration.cli import main
from emobench.core.errors import LabelFileError, UserError

NAMES = ["Adoration", "Amusement", "Anger", "Awe", "Confusion", "Contempt", "Contentment",
         "Desire", "Disappointment", "Disgust", "Distress", "Ecstasy", "Elation", "Embarrassment",
         "Fear", "Guilt", "Interest", "Neutral", "Pain", "Pride", "Realization", "Relief",
         "Romantic Love", "Sadness", "Serenity", "Shame", "Surprise (Negative)",
         "Surprise (Positive)", "Sympathy", "Triumph"]


@pytest.fixture(scope="module")
def source(test_data: Path) -> Path:
    path = test_data / "emogator"
    if not (path / "mp3").is_dir():
        pytest.fail(f"{path}/mp3 is missing from SER_TEST_DATA")
    return path


@pytest.fixture(scope="module")
def prepared(source: Path, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("emogator")
    assert prepare(source, target) == [target / "data_info.csv"]
    return target / "data_info.csv"


def split_of_speakers(frame: pd.DataFrame) -> dict[str, str]:
    per = frame.groupby("Subject_ID")["Split"].unique()
    assert all(len(s) == 1 for s in per), "a speaker is in two splits"
    return {spk: s[0] for spk, s in per.items()}


def fake_corpus(root: Path, speakers: int = 3, names: list[str] | None = None) -> Path:
    """Empty files with EmoGator names (2 categories x 2 instances per speaker)."""
    audio = root / AUDIO_DIR
    audio.mkdir(parents=True)
    for k in range(1, speakers + 1):
        for category in ("01", "30"):
            for instance in (1, 2):
                (audio / f"{k:06d}-{category}-{instance}{AUDIO_EXT}").touch()
    for name in names or []:
        (audio / name).touch()
    return root


# ---- the spec -------------------------------------------------------------------------------

def test_categories_in_the_spec():
    assert categories() == NAMES
    spec = partitions.load("emogator")
    assert spec["split"]["order"] == ["Test", "Val", "Train"]
    assert "emogator" in RECIPES and RECIPES.get("emogator") is prepare


# ---- real corpus ----------------------------------------------------------------------------

def test_prepare_real_corpus(prepared: Path):
    frame = pd.read_csv(prepared, dtype={"Subject_ID": str})
    assert list(frame.columns) == ["File_ID", "Split", "Subject_ID", *NAMES]
    assert len(frame) == 4500 and frame["File_ID"].is_unique
    assert frame["File_ID"].iloc[0] == "[000001-01-1]"
    assert frame["Subject_ID"].iloc[0] == "Speaker_000001"
    onehot = frame[NAMES].to_numpy()
    assert set(np.unique(onehot)) == {0.0, 1.0}
    np.testing.assert_array_equal(onehot.sum(axis=1), 1.0)
    category = frame["File_ID"].str.slice(8, 10).astype(int)  # [NNNNNN-EE-I]
    np.testing.assert_array_equal(onehot.argmax(axis=1), category - 1)
    assert (frame[NAMES].sum() == 150).all()  # 50 speakers x 3 instances
    split = split_of_speakers(frame)
    assert len(split) == 50
    assert pd.Series(split).value_counts().to_dict() == {"Train": 30, "Val": 10, "Test": 10}
    assert frame["Split"].value_counts().to_dict() == {"Train": 2700, "Val": 900, "Test": 900}


def test_split_is_deterministic(source: Path, prepared: Path, tmp_path: Path):
    again = prepare(source, tmp_path / "same", seed=0)[0]
    assert again.read_bytes() == prepared.read_bytes()
    other = pd.read_csv(prepare(source, tmp_path / "other", seed=1)[0])
    first = split_of_speakers(pd.read_csv(prepared))
    second = split_of_speakers(other)
    assert first != second and sorted(first) == sorted(second)
    assert pd.Series(second).value_counts().to_dict() == {"Train": 30, "Val": 10, "Test": 10}


def test_prepared_file_reads_with_the_exvo_reader(source: Path, prepared: Path):
    table = read_data_info(prepared, source / "mp3", audio_ext=".mp3", targets=NAMES,
                           speaker_attributes=False, check_audio=False)
    assert len(table) == 4500 and table.emotions.shape == (4500, 30)
    assert table.targets == tuple(NAMES) and table.labelled.all()
    assert table.counts() == {"train": 2700, "val": 900, "test": 900, "test_unlabelled": 0}
    assert np.isnan(table.age).all() and (table.country == -1).all()
    assert table.paths[0] == (source / "mp3" / "000001-01-1.mp3").resolve()
    np.testing.assert_array_equal(table.emotions.sum(axis=1), 1.0)


def test_prepared_file_reads_with_audio_check(source: Path, prepared: Path):
    start = time.perf_counter()
    table = read_data_info(prepared, source / "mp3", audio_ext=".mp3", targets=NAMES,
                           speaker_attributes=False, check_audio=True)
    assert len(table) == 4500 and all(p.is_file() for p in table.paths)
    assert time.perf_counter() - start < 120  # about 4 s here: every mp3 header is read


def test_cli_prepare_with_options(source: Path, prepared: Path, tmp_path: Path, capsys):
    target = tmp_path / "cli"
    code = main(["-m", "prepare", "--recipe", "emogator", "--source", str(source),
                 "--target", str(target), "-o", "seed=3"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(target / "data_info.csv")
    expected = prepare(source, tmp_path / "direct", seed=3)[0]
    assert (target / "data_info.csv").read_bytes() == expected.read_bytes()
    assert expected.read_bytes() != prepared.read_bytes()
    code = main(["-m", "prepare", "--recipe", "emogator", "--source", str(source),
                 "--target", str(target), "-o", "seed=3,,test_speakers=0.3", "-o", "val_speakers=0.1"])
    assert code == 0
    split = split_of_speakers(pd.read_csv(target / "data_info.csv"))
    assert pd.Series(split).value_counts().to_dict() == {"Train": 30, "Test": 15, "Val": 5}


# ---- fake folders: the recipe reads names only ------------------------------------------------

def test_fake_corpus_of_empty_files(tmp_path: Path, caplog):
    source = fake_corpus(tmp_path / "src", speakers=3)
    with caplog.at_level(logging.INFO, logger="emobench"):
        written = prepare(source, tmp_path / "out")
    frame = pd.read_csv(written[0], dtype=str)
    assert len(frame) == 12 and frame["Split"].value_counts().to_dict() == {
        "Train": 4, "Val": 4, "Test": 4}  # 3 speakers: one per split
    assert frame.loc[0, "File_ID"] == "[000001-01-1]"
    assert frame.loc[0, "Adoration"] == "1.0" and frame.loc[2, "Triumph"] == "1.0"
    assert f"audio root {(source / 'mp3').resolve()}, extension .mp3" in caplog.text
    assert "speakers Train 1 / Val 1 / Test 1, files Train 4 / Val 4 / Test 4" in caplog.text
    table = read_data_info(written[0], source / "mp3", audio_ext=".mp3", targets=NAMES,
                           speaker_attributes=False, check_audio=False)
    assert table.counts()["train"] == 4


def test_malformed_names_are_listed(tmp_path: Path):
    bad = ["000001-01-1.wav", "1-01-1.mp3", "000001-31-1.mp3", "000001-00-2.mp3",
           "000001-01.mp3", "notes.txt", "000002-05-1.MP3"]
    source = fake_corpus(tmp_path / "src", names=bad)
    (source / "mp3" / "sub").mkdir()
    with pytest.raises(LabelFileError) as err:
        prepare(source, tmp_path / "out")
    text = str(err.value)
    assert "8 problem(s)" in text and str(source / "mp3") in text
    for name in ("000001-01-1.wav", "1-01-1.mp3", "000001-01.mp3", "notes.txt",
                 "000002-05-1.MP3"):
        assert f"{name}: not an EmoGator file name NNNNNN-EE-I.mp3" in text
    assert "000001-31-1.mp3: category 31 is not in 01-30" in text
    assert "000001-00-2.mp3: category 00 is not in 01-30" in text
    assert "sub: not a file" in text
    assert not (tmp_path / "out").exists()


def test_missing_or_empty_audio_folder(tmp_path: Path):
    with pytest.raises(UserError, match=r"not a folder"):
        prepare(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "src").mkdir()
    with pytest.raises(UserError, match=r"src/mp3: EmoGator audio folder does not exist"):
        prepare(tmp_path / "src", tmp_path / "out")
    (tmp_path / "src" / "mp3").mkdir()
    with pytest.raises(UserError, match="no EmoGator files"):
        prepare(tmp_path / "src", tmp_path / "out")


def test_too_few_speakers(tmp_path: Path):
    source = fake_corpus(tmp_path / "src", speakers=2)
    with pytest.raises(UserError, match=r"2 speaker\(s\); .* needs at least 3"):
        prepare(source, tmp_path / "out")


@pytest.mark.parametrize("options,error", [
    ({"seed": "1"}, "seed must be an integer"), ({"seed": -1}, "seed must be an integer"),
    ({"seed": 1.5}, "seed must be an integer"), ({"seed": True}, "seed must be an integer"),
    ({"val_speakers": 0}, r"val_speakers must be a fraction in \(0, 1\)"),
    ({"test_speakers": 1.0}, "test_speakers must be a fraction"),
    ({"test_speakers": "a"}, "test_speakers must be a fraction"),
    ({"val_speakers": 0.5, "test_speakers": 0.5}, "must be below 1")])
def test_bad_options(tmp_path: Path, options, error):
    source = fake_corpus(tmp_path / "src")
    with pytest.raises(UserError, match=error):
        prepare(source, tmp_path / "out", **options)


def test_split_rule():
    rule = partitions.load("emogator")["split"]
    speakers = [f"{k:06d}" for k in range(50)]

    def sizes(n, val, test, seed=0):
        split = split_speakers(speakers[:n], rule, seed, {"Val": val, "Test": test})
        assert sorted(split) == speakers[:n]
        return {s: list(split.values()).count(s) for s in ("Train", "Val", "Test")}

    assert sizes(50, 0.2, 0.2) == {"Train": 30, "Val": 10, "Test": 10}
    assert sizes(50, 0.01, 0.01) == {"Train": 48, "Val": 1, "Test": 1}  # at least one each
    assert sizes(3, 0.45, 0.45) == {"Train": 1, "Val": 1, "Test": 1}  # Train keeps one
    assert sizes(4, 0.4, 0.4) == {"Train": 1, "Val": 2, "Test": 1}  # Test gives up one on a tie
    assert sizes(5, 0.3, 0.3) == {"Train": 1, "Val": 2, "Test": 2}  # 1.5 rounds up
    # deterministic: the seed's permutation of the sorted speakers, cut Test, Val, Train
    split = split_speakers(speakers[::-1], rule, 7, {"Val": 0.2, "Test": 0.2})
    order = [speakers[i] for i in np.random.RandomState(7).permutation(50)]
    assert [split[s] for s in order] == ["Test"] * 10 + ["Val"] * 10 + ["Train"] * 30


# ---- command line ---------------------------------------------------------------------------

def test_cli_fake_corpus_with_options(tmp_path: Path, capsys):
    source = fake_corpus(tmp_path / "src", speakers=10)
    code = main(["-m", "prepare", "--recipe", "emogator", "--source", str(source),
                 "--target", str(tmp_path / "out"), "-o", "config.seed=2,,test_speakers=0.3"])
    assert code == 0, capsys.readouterr().err
    frame = pd.read_csv(tmp_path / "out" / "data_info.csv")
    assert pd.Series(split_of_speakers(frame)).value_counts().to_dict() == {
        "Train": 5, "Test": 3, "Val": 2}


@pytest.mark.parametrize("override,message", [
    ("sed=3", "recipe 'emogator' has no option 'sed'; did you mean: seed? (its options are: "
              "seed, val_speakers, test_speakers"),
    ("seed=1,,colour=red", "recipe 'emogator' has no option 'colour' (its options are: seed, "
                           "val_speakers, test_speakers"),
    ("seed=x", "seed must be an integer in [0, 2**32), got 'x'"),
    ("seed", "override 'seed' is not of the form key=value")])
def test_cli_bad_option(tmp_path: Path, capsys, override, message):
    source = fake_corpus(tmp_path / "src")
    code = main(["-m", "prepare", "--recipe", "emogator", "--source", str(source),
                 "--target", str(tmp_path / "out"), "-o", override])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_cli_recipe_lists_its_options(tmp_path: Path, capsys):
    code = main(["-m", "prepare", "--recipe", "emodb", "--source", str(tmp_path),
                 "--target", str(tmp_path / "out"), "-o", "seed=1"])
    err = capsys.readouterr().err
    assert code == 2 and "recipe 'emodb' has no option 'seed'" in err
    assert "its options are: multitask" in err


def test_cli_unknown_recipe(tmp_path: Path, capsys):
    code = main(["-m", "prepare", "--recipe", "emogater", "--source", str(tmp_path),
                 "--target", str(tmp_path / "out")])
    assert code == 2 and "unknown recipe 'emogater'; did you mean: emogator?" in capsys.readouterr().err
