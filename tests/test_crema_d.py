"""CREMA-D recipe (corpora/crema_d.py): EMO-SUPERB label files from CREMA-D's vote tables.

Real-data tests read SER_TEST_DATA/crema-d (processedResults/tabulatedVotes.csv, 7,442 clips x
3 modalities, VideoDemographics.csv and the one real clip 1001_DFA_ANG_XX.wav); the input-error
tests build tiny CREMA-D folders.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emobench.corpora import partitions
from emobench.corpora.crema_d import (CLASSES, DEMOGRAPHICS, VOTE_TABLE, VOTES, compare_labels, majority,
                             prepare)
from emobench.corpora.registry import RECIPES
from emobench.corpora.emotion_labels import read_labels
from emobench.core.audio import num_frames
from emobench.orchestration.cli import main
from emobench.core.errors import UserError

EXPECTED = {1: (4509, 1470, 1463), 2: (4496, 1476, 1470), 3: (4490, 1476, 1476),
            4: (4409, 1557, 1476), 5: (4422, 1463, 1557)}
GROUPS = {"G1": range(1001, 1019), "G2": range(1019, 1037), "G3": range(1037, 1055),
          "G4": range(1055, 1073), "G5": range(1073, 1092)}
TEST_DEV = {1: ("G1", "G2"), 2: ("G2", "G3"), 3: ("G3", "G4"), 4: ("G4", "G5"), 5: ("G5", "G1")}
REAL_CLIP = "1001_DFA_ANG_XX.wav"


@pytest.fixture(scope="module")
def source(test_data: Path) -> Path:
    path = test_data / "crema-d"
    if not (path / VOTE_TABLE).is_file():
        pytest.fail(f"{path / VOTE_TABLE} is missing from SER_TEST_DATA")
    return path


@pytest.fixture(scope="module")
def voice(source: Path, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("crema_d_voice")
    written = prepare(source, target)
    folder = target / "Primary"
    assert written == [folder / "config.json"] + [folder / f"labels_consensus_{k}.csv"
                                                  for k in range(1, 6)]
    return folder


@pytest.fixture(scope="module")
def audiovisual(source: Path, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("crema_d_av")
    prepare(source, target, modality="audiovisual")
    return target / "Primary"


def read_fold(folder: Path, fold: int) -> pd.DataFrame:
    return pd.read_csv(folder / f"labels_consensus_{fold}.csv",
                       dtype={"SpkrID": str, "FileName": str})


def test_partition_file_matches_the_protocol():
    rule = partitions.load("crema_d")["conditions"]["Primary"]
    assert {g: [int(u) for u in us] for g, us in rule["groups"].items()} == \
        {g: list(r) for g, r in GROUPS.items()}
    folds = partitions.fold_units(rule)
    for fold, (test, dev) in TEST_DEV.items():
        assert folds[fold]["test"] == [str(u) for u in GROUPS[test]]
        assert folds[fold]["dev"] == [str(u) for u in GROUPS[dev]]
        assert rule["expected_rows"][fold] == dict(zip(("train", "dev", "test"), EXPECTED[fold]))
    assert RECIPES.get("crema_d") is prepare


@pytest.fixture(scope="module")
def fold1(voice: Path, source: Path):
    return read_labels(voice, 1, source, check_audio=False)


def test_fold_one_reads_as_an_emo_superb_label_file(fold1):
    assert fold1.classes == ["angry", "sad", "disgust", "fear", "neutral", "happy"]
    assert len(fold1) == 7442
    assert tuple(int((fold1.splits == s).sum()) for s in ("train", "dev", "test")) == EXPECTED[1]
    assert sorted({s for s, v in zip(fold1.speakers, fold1.splits) if v == "test"}) == \
        [str(u) for u in GROUPS["G1"]]
    # smoothed vote fractions: 0.95 p + 0.05 (1 - p) / 5 sums to 1 up to 6-decimal rounding
    assert np.abs(fold1.labels.sum(axis=1) - 1).max() <= 3e-6
    assert fold1.labels.min() >= 0.01 and fold1.labels.max() <= 0.95


def test_five_folds_with_the_released_counts(voice: Path):
    config = json.loads((voice / "config.json").read_text())
    assert config["categorical"]["emo_type"] == CLASSES
    assert config["data_split_type"] == {"train": "Train", "dev": "Development", "test": "Test"}
    assert config["vote_modality"] == "voice"
    split = {"Train": "train", "Development": "dev", "Test": "test"}
    first = read_fold(voice, 1)
    tested, developed = [], []
    for fold in range(1, 6):
        frame = read_fold(voice, fold)
        assert frame.drop(columns="Split_Set").equals(first.drop(columns="Split_Set"))
        counts = frame["Split_Set"].map(split).value_counts()
        assert tuple(int(counts[s]) for s in ("train", "dev", "test")) == EXPECTED[fold]
        per_speaker = frame.groupby("SpkrID")["Split_Set"].unique()
        assert len(per_speaker) == 91 and all(len(s) == 1 for s in per_speaker)
        of = per_speaker.str[0].map(split)
        test, dev = TEST_DEV[fold]
        assert sorted(of[of == "test"].index) == [str(u) for u in GROUPS[test]]
        assert sorted(of[of == "dev"].index) == [str(u) for u in GROUPS[dev]]
        tested += list(of[of == "test"].index)
        developed += list(of[of == "dev"].index)
    assert sorted(tested) == sorted(developed) == [str(u) for u in range(1001, 1092)]
    assert first.groupby("SpkrID")["Gender"].first().value_counts().to_dict() == \
        {"Male": 48, "Female": 43}
    assert list(first.columns) == ["FileName", *CLASSES, "SpkrID", "Gender", "Split_Set"]
    assert first["FileName"].is_monotonic_increasing


def test_labels_are_the_voice_votes(voice: Path, source: Path):
    frame = read_fold(voice, 1).set_index("FileName")
    # voice-only votes of 1001_DFA_ANG_XX (row 100062): A 6, D 2, N 1
    assert frame.loc[REAL_CLIP, CLASSES].tolist() == \
        [0.636667, 0.01, 0.218889, 0.01, 0.114444, 0.01]
    assert frame.loc[REAL_CLIP, ["SpkrID", "Gender", "Split_Set"]].tolist() == \
        ["1001", "Male", "Test"]
    # the majority classes equal the table's own emoVote (e.g. "N:S" for a tie) of every clip
    votes = pd.read_csv(source / VOTE_TABLE, dtype=str, keep_default_na=False)
    voice_rows = votes[votes.iloc[:, 0].str[0] == "1"].set_index("fileName")
    top = majority(frame[CLASSES].to_numpy())
    letters = [":".join(l for l in VOTES if row[CLASSES.index(VOTES[l])]) for row in top]
    assert letters == voice_rows.loc[frame.index.str[:-4], "emoVote"].tolist()
    # the numbers docs/crema_d.md gives
    single = top.sum(axis=1) == 1
    assert dict(zip(CLASSES, top[single].sum(axis=0).tolist())) == \
        {"angry": 986, "sad": 370, "disgust": 547, "fear": 645, "neutral": 3897, "happy": 353}
    assert int((~single).sum()) == 644


def test_the_real_clip_resolves_under_the_audio_root(fold1, voice: Path, source: Path):
    path = fold1.paths[fold1.file_names.index(REAL_CLIP)]
    assert path == (source / REAL_CLIP).resolve()
    frames, rate = num_frames(path)
    assert rate == 16000 and frames > 0
    assert json.loads((voice / "config.json").read_text())["audio_root"] == \
        str(source.resolve())  # no AudioWAV/ folder here: the source itself


def test_deterministic_and_independent_of_row_order(voice: Path, source: Path, tmp_path: Path):
    copy = tmp_path / "crema-d"
    (copy / VOTE_TABLE).parent.mkdir(parents=True)
    shutil.copy(source / DEMOGRAPHICS, copy / DEMOGRAPHICS)
    lines = (source / VOTE_TABLE).read_text().splitlines(keepends=True)
    order = np.random.RandomState(0).permutation(len(lines) - 1) + 1
    (copy / VOTE_TABLE).write_text(lines[0] + "".join(lines[i] for i in order))
    prepare(copy, tmp_path / "out")
    for fold in range(1, 6):
        name = f"labels_consensus_{fold}.csv"
        assert (tmp_path / "out" / "Primary" / name).read_bytes() == (voice / name).read_bytes()


def test_voice_and_audiovisual_differ(voice: Path, audiovisual: Path):
    result = compare_labels(voice, audiovisual, fold=3)
    assert result["matched"] == 7442 and result["only_ours"] == result["only_theirs"] == 0
    assert result["split_differs"] == 0 and result["split_agreement"] == 1.0
    assert result["ties_ours"] == 644 and result["ties_theirs"] == 420
    assert result["majority_disagree"] == 2883  # docs/crema_d.md
    assert json.loads((audiovisual / "config.json").read_text())["vote_modality"] == \
        "audiovisual"


def test_compare_reports_exactly_the_changes(voice: Path, tmp_path: Path):
    frame = read_fold(voice, 2)
    names = frame["FileName"].tolist()
    theirs = frame.copy().set_index("FileName")
    values = frame.set_index("FileName")[CLASSES].to_numpy(float)
    ordered = np.sort(values, axis=1)
    clear = [n for n, v in zip(names, ordered) if v[-1] - v[-2] > 0.05]  # one majority class
    # 1. another majority class: happy, where happy had no vote
    flipped = next(n for n in clear if theirs.loc[n, "happy"] == 0.01)
    theirs.loc[flipped, CLASSES] = [0.95 if c == "happy" else 0.01 for c in CLASSES]
    # 2. a small change that keeps the majority class
    nudged = next(n for n in clear if n != flipped)
    top = theirs.loc[nudged, CLASSES].astype(float).idxmax()
    low = theirs.loc[nudged, CLASSES].astype(float).idxmin()
    theirs.loc[nudged, top] -= 0.01
    theirs.loc[nudged, low] += 0.01
    # 3. a tie resolved to one of the tied classes: agrees (the majority sets intersect)
    tied = next(n for n in names if (majority(theirs.loc[[n], CLASSES].to_numpy(float))
                                     .sum() == 2) and n not in (flipped, nudged))
    first = CLASSES[int(np.argmax(theirs.loc[tied, CLASSES].to_numpy(float)))]
    theirs.loc[tied, CLASSES] = [0.95 if c == first else 0.01 for c in CLASSES]
    # 4. another split; 5. a row dropped; 6. a row added
    moved = names[-1]
    theirs.loc[moved, "Split_Set"] = "Train" if theirs.loc[moved, "Split_Set"] != "Train" \
        else "Test"
    dropped = names[20]
    theirs = theirs.drop(index=dropped)
    theirs.loc["9999_XXX_NEU_XX.wav"] = theirs.iloc[0]
    (tmp_path / "theirs").mkdir()
    theirs.reset_index().sample(frac=1, random_state=0).to_csv(
        tmp_path / "theirs" / "labels_consensus_2.csv", index=False)

    result = compare_labels(voice, tmp_path / "theirs", fold=2)
    assert result["rows_ours"] == 7442 and result["rows_theirs"] == 7442
    assert result["matched"] == 7441
    assert result["files"]["only_ours"] == [dropped]
    assert result["files"]["only_theirs"] == ["9999_XXX_NEU_XX.wav"]
    assert result["files"]["majority_disagree"] == [flipped]
    assert result["files"]["label_differs"] == sorted([flipped, nudged, tied])
    assert result["files"]["split_differs"] == [moved]
    assert result["majority_agreement"] == pytest.approx(7440 / 7441)
    assert result["split_agreement"] == pytest.approx(7440 / 7441)
    ours = frame.set_index("FileName")
    diff = sum(np.abs(ours.loc[n, CLASSES].to_numpy(float) - theirs.loc[n, CLASSES]
                      .to_numpy(float)).sum() for n in (flipped, nudged, tied))
    assert result["mean_abs_diff"] == pytest.approx(diff / (7441 * 6))
    assert result["ties_theirs"] == result["ties_ours"] - 1

    same = compare_labels(voice, voice, fold=2)
    assert same["majority_agreement"] == 1.0 and same["mean_abs_diff"] == 0.0
    assert same["label_differs"] == same["only_ours"] == same["split_differs"] == 0


def test_row_counts_are_checked_and_nothing_is_written(source: Path, tmp_path: Path):
    copy = tmp_path / "crema-d"
    (copy / VOTE_TABLE).parent.mkdir(parents=True)
    shutil.copy(source / DEMOGRAPHICS, copy / DEMOGRAPHICS)
    lines = (source / VOTE_TABLE).read_text().splitlines(keepends=True)
    (copy / VOTE_TABLE).write_text("".join(l for l in lines if '"1001_DFA_ANG_XX"' not in l))
    with pytest.raises(UserError, match=r"fold 1: .*'test': 1462.*expects"):
        prepare(copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_command_line(source: Path, tmp_path: Path, capsys):
    assert main(["-m", "prepare", "--recipe", "crema_d", "--source", str(source), "--target",
                 str(tmp_path), "-o", "modality=face"]) == 0
    assert str(tmp_path / "Primary" / "labels_consensus_5.csv") in capsys.readouterr().out
    assert json.loads((tmp_path / "Primary" / "config.json").read_text())["vote_modality"] == \
        "face"


# --- input errors, on tiny CREMA-D folders --------------------------------------------------

HEADER = '"","A","D","F","H","N","S","fileName","numResponses"\n'
ROWS = ['"100001",0,0,0,1,8,0,"1001_IEO_NEU_XX",9\n',
        '"100002",5,1,0,0,3,0,"1002_IEO_ANG_HI",9\n',
        '"300001",0,0,0,0,9,0,"1001_IEO_NEU_XX",9\n',
        '"300002",6,0,0,0,3,0,"1002_IEO_ANG_HI",9\n']
ACTORS = '"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Male","x","y"\n' \
         '1002,21,"Female","x","y"\n'


def tiny(root: Path, rows: list[str] = ROWS, header: str = HEADER, actors: str = ACTORS) -> Path:
    (root / VOTE_TABLE).parent.mkdir(parents=True)
    (root / VOTE_TABLE).write_text(header + "".join(rows))
    (root / DEMOGRAPHICS).write_text(actors)
    return root


@pytest.mark.parametrize("rows, header, actors, message", [
    (ROWS, HEADER.replace(',"S"', ""), ACTORS, r"(?s)tabulatedVotes.csv.*missing \['S'\]"),
    (ROWS + ['"100003",1,0,0,0,8,0,"1001_IEO_NEU_XX",9\n'], HEADER, ACTORS,
     r"(?s)tabulatedVotes.csv.*lines 2, 6: clip 1001_IEO_NEU_XX appears more than once"),
    (ROWS + ['"100003",0,0,0,0,0,0,"1001_DFA_HAP_LO",0\n'], HEADER, ACTORS,
     r"line 6: 1001_DFA_HAP_LO: no voice votes"),
    (ROWS + ['"100003",0,1.5,0,0,0,0,"1001_DFA_HAP_LO",1\n'], HEADER, ACTORS,
     r"line 6: 1001_DFA_HAP_LO: vote counts must be integers"),
    (ROWS + ['"100003",0,1,0,0,0,0,"1001_DFA_HAP_LO",2\n'], HEADER, ACTORS,
     r"votes sum to 1 but numResponses is '2'"),
    (ROWS + ['"400003",0,1,0,0,0,0,"1001_DFA_HAP_LO",1\n'], HEADER, ACTORS,
     r"line 6: row id '400003' is not a modality digit"),
    (ROWS + ['"100003",0,1,0,0,0,0,"1001_DFA_HAP",1\n'], HEADER, ACTORS,
     r"line 6: fileName '1001_DFA_HAP' is not a CREMA-D clip name"),
    (ROWS + ['"100003",0,1,0,0,0,0,"1003_DFA_HAP_LO",1\n'], HEADER, ACTORS,
     r"tabulatedVotes.csv: actors \['1003'\] are not in .*VideoDemographics.csv"),
    (ROWS, HEADER, ACTORS.replace('"Sex"', '"Gender"'),
     r"(?s)VideoDemographics.csv.*columns \['Sex'\] are missing"),
    (ROWS, HEADER, ACTORS + '1001,30,"Male","x","y"\n',
     r"(?s)VideoDemographics.csv.*lines 2, 4: actor 1001 appears more than once"),
    (ROWS + ['"100003",0,1,0,0,0,0,"1092_DFA_HAP_LO",1\n'], HEADER,
     ACTORS + '1092,30,"Male","x","y"\n', r"fold 1: actors \['1092'\] are in no split"),
])
def test_bad_inputs_name_the_file_and_the_problem(tmp_path, rows, header, actors, message):
    source = tiny(tmp_path / "src", rows, header, actors)
    with pytest.raises(UserError, match=message):
        prepare(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_files_and_options(tmp_path: Path):
    with pytest.raises(UserError, match="is not a folder"):
        prepare(tmp_path / "nowhere", tmp_path / "out")
    source = tiny(tmp_path / "src")
    with pytest.raises(UserError, match=r"modality must be one of \['voice', 'face', "
                                        r"'audiovisual'\], got 'audio'"):
        prepare(source, tmp_path / "out", modality="audio")
    (source / DEMOGRAPHICS).unlink()
    with pytest.raises(UserError, match=r"VideoDemographics.csv: file is missing"):
        prepare(source, tmp_path / "out")
    (source / VOTE_TABLE).unlink()
    with pytest.raises(UserError, match=r"processedResults/tabulatedVotes.csv: file is missing"):
        prepare(source, tmp_path / "out")


def test_compare_errors_name_the_file(voice: Path, tmp_path: Path):
    (tmp_path / "labels_consensus_1.csv").write_text("FileName,angry,Split_Set\na.wav,1,Test\n")
    with pytest.raises(UserError, match=r"(?s)labels_consensus_1.csv.*columns \['sad', "):
        compare_labels(voice, tmp_path)
    with pytest.raises(UserError, match=r"labels_consensus_4.csv: label file for fold 4 is "
                                        r"missing; present: \['labels_consensus_1.csv'\]"):
        compare_labels(voice, tmp_path, fold=4)
