"""SERAB's nine corpus recipes (corpora/serab*.py) on synthetic trees with the real naming rules.

The trees (tests/serab_trees.py) hold empty placeholder files: the recipes read names, not
audio. Small trees pass the count check through the explicit expected_utterances /
expected_speakers parameters; full-grid trees pass SERAB's Table 1 counts unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import serab_trees
from emobench.corpora import partitions, serab_corpora
from emobench.corpora.emotion_labels import read_labels
from emobench.corpora.registry import RECIPES
from emobench.corpora.serab_split import boundaries, seeded_split
from emobench.core.errors import UserError
from emobench.orchestration.cli import main

TABLE1 = {"aesdd": (604, 6), "cafe": (864, 12), "crema_d": (7442, 91), "emodb": (535, 10),
          "emovo": (588, 6), "iemocap4": (5531, 10), "ravdess": (1440, 24), "savee": (480, 4),
          "shemo": (3000, 87)}  # SERAB, Table 1: utterances, speakers


def run(name: str, source: Path, target: Path, files: dict | None = None, **options):
    """Run recipe serab_<name>; with ``files``, check the counts against those files."""
    if files is not None:
        options.setdefault("expected_utterances", len(files))
        options.setdefault("expected_speakers", len({spk for spk, _ in files.values()}))
    return RECIPES.get(f"serab_{name}")(source, target, **options)


def read(target: Path) -> tuple[pd.DataFrame, dict]:
    folder = target / "SERAB"
    frame = pd.read_csv(folder / "labels_consensus_1.csv", dtype=str, keep_default_na=False)
    return frame, json.loads((folder / "serab_recipe.json").read_text())


def check_written(name: str, target: Path, files: dict, audio_root: Path) -> pd.DataFrame:
    """Labels, speakers and the split agree with the tree; the emotion task reads the files."""
    frame, summary = read(target)
    assert sorted(frame["FileName"]) == sorted(files)
    classes = list(serab_corpora.SPECS[name].classes if name in serab_corpora.SPECS
                   else frame.columns[1:-3])
    truth = frame["FileName"].map(files)
    assert (frame["SpkrID"] == truth.str[0]).all()
    assert (frame[classes].astype(float).idxmax(axis=1) == truth.str[1]).all()
    units = summary["split"]["units"]
    split_names = {"train": "Train", "dev": "Development", "test": "Test"}
    unit_of = frame["SpkrID"].str[:5] if name == "iemocap4" else frame["SpkrID"]
    expected = unit_of.map({u: split_names[s] for s, us in units.items() for u in us})
    assert (frame["Split_Set"] == expected).all()
    assert units == seeded_split(set(unit_of), summary["split"]["fractions"], 0)
    assert all((audio_root / name).is_file() for name in frame["FileName"])
    table = read_labels(target / "SERAB", 1, audio_root, check_audio=False)
    assert len(table) == len(files) and table.classes == classes
    return frame


# --- the split ------------------------------------------------------------------------------

def test_seeded_split_is_deterministic_and_independent_of_input_order():
    units = [f"{k:02d}" for k in range(1, 25)]
    first = seeded_split(units)
    assert seeded_split(list(reversed(units)) + units[:3]) == first
    assert [len(first[s]) for s in ("train", "dev", "test")] == [14, 5, 5]
    assert seeded_split(units, seed=1) != first
    assert sorted(sum(first.values(), [])) == units


def test_split_boundaries_follow_the_floating_point_rule():
    assert boundaries(91, (0.7, 0.1, 0.2)) == [0, 63, 72, 91]  # 0.7 + 0.1 = 0.7999999999999999
    assert boundaries(10, (0.7, 0.1, 0.2)) == [0, 7, 7, 10]  # hence an empty dev split here
    assert boundaries(5) == [0, 3, 4, 5] and boundaries(87) == [0, 52, 69, 87]
    with pytest.raises(UserError, match="would be empty"):
        seeded_split([f"{k}" for k in range(10)], (0.7, 0.1, 0.2))
    with pytest.raises(UserError, match="summing to 1"):
        boundaries(10, (0.5, 0.2, 0.2))


def test_the_seeded_split_reproduces_the_emodb_partition_file():
    spec = partitions.load("emodb")
    serab = spec["conditions"]["SERAB"]["folds"][1]
    split = seeded_split(str(u) for u in spec["units"])
    assert {s: sorted(u) for s, u in split.items()} == {s: sorted(serab[s]) for s in serab}


# --- every corpus on a small tree -----------------------------------------------------------

SMALL = {
    "aesdd": lambda root: serab_trees.aesdd(root),
    "cafe": lambda root: serab_trees.cafe(root)[:2],
    "crema_d": lambda root: serab_trees.crema_d(root),
    "emovo": lambda root: serab_trees.emovo(root),
    "ravdess": lambda root: serab_trees.ravdess(root),
    "savee": lambda root: serab_trees.savee(root),
    "shemo": lambda root: serab_trees.shemo(root),
    "iemocap4": lambda root: serab_trees.iemocap(root),
}
AUDIO_ROOT = {"crema_d": "AudioWAV", "iemocap4": "IEMOCAP_full_release"}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_tree_writes_labels_and_the_seeded_split(name, tmp_path):
    source, files = SMALL[name](tmp_path / "corpus")
    written = run(name, source, tmp_path / "out", files)
    assert [p.name for p in written] == ["config.json", "labels_consensus_1.csv",
                                         "serab_recipe.json"]
    check_written(name, tmp_path / "out", files, source / AUDIO_ROOT.get(name, ""))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_the_table1_count_check_refuses_a_wrong_tree_and_writes_nothing(name, tmp_path):
    source, files = SMALL[name](tmp_path / "corpus")
    speakers = len({spk for spk, _ in files.values()})
    utterances, table_speakers = TABLE1[name]
    message = (f"expects {utterances} utterances of {table_speakers} speakers, found "
               f"{len(files)} utterances of {speakers} speakers")
    with pytest.raises(UserError, match=message) as error:
        run(name, source, tmp_path / "out")
    note = (serab_corpora.SPECS[name].count_note or "Nothing was written.").replace(
        "\n", " ")
    assert note in str(error.value) and str(error.value).endswith("Nothing was written.")
    with pytest.raises(UserError, match=f"expects {len(files) + 1} utterances"):
        run(name, source, tmp_path / "out", files, expected_utterances=len(files) + 1)
    assert not (tmp_path / "out").exists()


UNMATCHED = {  # below the audio root: follows no naming rule (often: in the wrong folder)
    "aesdd": "Acted Emotional Speech Dynamic Database/anger/d01 (1).wav",
    "cafe": "CaFE_48k/Joie/Fort/01-J-1-1.wav",
    "crema_d": "1092_DFA_ANG_XX.wav",
    "emovo": "EMOVO/f1/dis-f2-b1.wav",
    "ravdess": "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-01-01-02.wav",
    "savee": "AudioData/DC/n31.wav",
    "shemo": "female/F01X01.wav",
}


@pytest.mark.parametrize("name", sorted(UNMATCHED))
def test_a_file_matching_no_naming_rule_is_listed(name, tmp_path):
    source, files = SMALL[name](tmp_path / "corpus")
    audio_root = source / AUDIO_ROOT.get(name, "")
    serab_trees.touch(audio_root, UNMATCHED[name])
    serab_trees.touch(audio_root, "extra/song 03-02-01.wav")
    with pytest.raises(UserError) as error:
        run(name, source, tmp_path / "out", files)
    message = str(error.value)
    assert "2 audio file(s) match no" in message
    lines = message.splitlines()
    assert f"  {UNMATCHED[name]}" in lines and "  extra/song 03-02-01.wav" in lines
    assert not (tmp_path / "out").exists()


# --- full-grid trees pass Table 1 unchanged ---------------------------------------------------

@pytest.mark.parametrize("name", ["aesdd", "cafe", "emovo", "ravdess", "savee"])
def test_a_full_tree_of_the_real_design_passes_table1(name, tmp_path):
    built = getattr(serab_trees, name)(tmp_path / "corpus", full=True)
    source, files = built[:2]
    run(name, source, tmp_path / "out")
    frame = check_written(name, tmp_path / "out", files, source)
    _, summary = read(tmp_path / "out")
    assert (len(frame), frame["SpkrID"].nunique()) == TABLE1[name]
    assert summary["checked_against"]["from"] == "SERAB's Table 1"


def test_aesdd_leaves_out_the_unreadable_file_by_rule_and_counts_it(tmp_path):
    source, files = serab_trees.aesdd(tmp_path / "corpus", full=True)
    run("aesdd", source, tmp_path / "out")
    _, summary = read(tmp_path / "out")
    (rule, excluded), = summary["excluded"].items()
    assert excluded == {"count": 1, "files": [
        "Acted Emotional Speech Dynamic Database/sadness/s05 (3).wav"]}
    assert "data' chunk" in rule
    assert summary["split"]["units"] == {"train": ["6", "3", "2"], "dev": ["4"], "test": ["1", "5"]}


def test_cafe_neutral_is_excluded_and_counted_by_default_and_kept_on_request(tmp_path):
    source, files, neutrals = serab_trees.cafe(tmp_path / "corpus", full=True)
    run("cafe", source, tmp_path / "out")
    frame, summary = read(tmp_path / "out")
    assert "neutral" not in frame.columns and len(frame) == 864
    (excluded,) = summary["excluded"].values()
    assert excluded["count"] == 72 == len(neutrals)
    run("cafe", source, tmp_path / "all", neutral=True)
    frame = check_written("cafe_all", tmp_path / "all", {**files, **neutrals}, source)
    assert len(frame) == 936 and list(frame.columns)[-4] == "neutral"


def test_decomposed_unicode_folder_names_match(tmp_path):
    import unicodedata

    source, files, _ = serab_trees.cafe(tmp_path / "corpus", neutral=False)
    old = source / "CaFE_48k" / "Colère"
    old.rename(source / "CaFE_48k" / unicodedata.normalize("NFD", "Colère"))
    run("cafe", source, tmp_path / "out", files)
    names = read(tmp_path / "out")[0]["FileName"]
    assert len(names) == len(files) and all((source / name).is_file() for name in names)
    assert names.str.contains(unicodedata.normalize("NFD", "Colère")).sum() == 6


def test_skipped_files_are_counted(tmp_path):
    source, files = serab_trees.emovo(tmp_path / "corpus")
    serab_trees.touch(source, "__MACOSX/EMOVO/f1/._dis-f1-b1.wav")
    run("emovo", source, tmp_path / "out", files)
    assert read(tmp_path / "out")[1]["skipped"] == {"macOS metadata (._*, __MACOSX/)": 1,
                                                    "not audio (.wav)": 1}


def test_savee_flat_copies_give_the_same_split(tmp_path):
    source, files = serab_trees.savee(tmp_path / "flat", full=True, flat=True)
    run("savee", source, tmp_path / "out")
    frame = check_written("savee", tmp_path / "out", files, source)
    assert read(tmp_path / "out")[1]["split"]["units"] == {"train": ["JK", "KL"], "dev": ["JE"],
                                                           "test": ["DC"]}
    assert set(frame["Gender"]) == {"Male"}


def test_ravdess_and_emovo_gender_from_the_names(tmp_path):
    source, files = serab_trees.ravdess(tmp_path / "r")
    run("ravdess", source, tmp_path / "out", files)
    frame = read(tmp_path / "out")[0]
    assert frame.groupby("SpkrID")["Gender"].agg(set).to_dict() == {
        "01": {"Male"}, "02": {"Female"}, "17": {"Male"}}


# --- IEMOCAP ------------------------------------------------------------------------------

def test_iemocap_merges_excited_into_happy_and_splits_by_session(tmp_path):
    source, files = serab_trees.iemocap(tmp_path / "corpus")
    run("iemocap4", source, tmp_path / "out", files)
    frame, summary = read(tmp_path / "out")
    excited = frame["FileName"].str.endswith("Ses01F_impro01_M000.wav")
    assert frame.loc[excited, "SpkrID"].tolist() == ["Ses01M"]
    assert frame.loc[excited, ["happy"]].astype(float).iloc[0, 0] == 0.95
    assert summary["split"]["units"] == seeded_split([f"Ses0{k}" for k in range(1, 6)])
    assert [len(summary["split"]["units"][s]) for s in ("train", "dev", "test")] == [3, 1, 1]
    assert {r: e["count"] for r, e in summary["excluded"].items()} == {
        "label 'fru': not one of the four classes": 5,
        "label 'xxx': not one of the four classes": 5}
    assert frame.groupby("Split_Set")["SpkrID"].nunique().sum() == 10


def test_iemocap_refuses_unknown_labels_missing_audio_and_stray_label_files(tmp_path):
    source, files = serab_trees.iemocap(tmp_path / "corpus")
    evaluation = source / "IEMOCAP_full_release/Session2/dialog/EmoEvaluation"
    path = evaluation / "Ses02F_impro01.txt"
    path.write_text(path.read_text().replace("\tang\t", "\tangry\t"))
    (source / "IEMOCAP_full_release" / next(iter(files))).unlink()
    with pytest.raises(UserError) as error:
        run("iemocap4", source, tmp_path / "out", files)
    assert "Ses02F_impro01.txt:" in str(error.value) and "unknown label 'angry'" in str(error.value)
    assert "audio Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav is missing" \
        in str(error.value)
    (evaluation / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="match no IEMOCAP .4 classes. naming rule"):
        run("iemocap4", source, tmp_path / "out", files)
    assert not (tmp_path / "out").exists()


# --- the command line and the real EmoDB copy --------------------------------------------------

def test_prepare_mode_runs_a_recipe_with_explicit_counts(tmp_path, capsys):
    source, files = serab_trees.shemo(tmp_path / "corpus")
    assert main(["-m", "prepare", "--recipe", "serab_shemo", "--source", str(source),
                 "--target", str(tmp_path / "out"), "-o",
                 f"expected_utterances={len(files)},,expected_speakers=4,,seed=3"]) == 0
    summary = read(tmp_path / "out")[1]
    assert summary["split"]["seed"] == 3
    assert summary["checked_against"]["from"].startswith("the given")
    assert main(["-m", "prepare", "--recipe", "serab_shemo", "--source", str(source),
                 "--target", str(tmp_path / "table1")]) == 2
    assert "expects 3000 utterances of 87 speakers, found 48" in capsys.readouterr().err


def test_serab_emodb_writes_the_emodb_recipes_serab_fold_byte_for_byte(test_data, tmp_path):
    from emobench.corpora import emodb

    emodb.prepare(test_data / "emodb", tmp_path / "old")
    run("emodb", test_data / "emodb", tmp_path / "new")
    for name in ("config.json", "labels_consensus_1.csv"):
        assert (tmp_path / "new" / "SERAB" / name).read_bytes() == \
            (tmp_path / "old" / "SERAB" / name).read_bytes()
    summary = read(tmp_path / "new")[1]
    assert summary["found"] == {"utterances": 535, "speakers": 10}
    assert summary["split"]["rows"] == {"train": 344, "dev": 107, "test": 84}
