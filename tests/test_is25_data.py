"""IS25 data handling (docs/is25.md): the msp_podcast recipe and its errors, the demo_is25 corpus,
per-epoch undersampling, the O/X switch, the balanced validation, the [1, 7] mapping, the
submission files, and both IS25 configs trained end to end on the demo."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from emobench.core import scores
from emobench.core.config import ConfigError, resolve
from emobench.core.errors import LabelFileError, UserError
from emobench.core.resources import data_dir
from emobench.corpora import demo_is25, msp_podcast
from emobench.downstream.multitask import ranges, sampling, scoring, task
from emobench.downstream.multitask.config import MultitaskConfig
from emobench.downstream.multitask.is25_outputs import ATTRIBUTES_OUTPUT, CATEGORICAL
from emobench.downstream.multitask.outputs import Written
from emobench.orchestration.cli import main

# (speaker, split, classes): Train has N x6, A x3, F x2 and O x2, X x3; Development three rows of
# every primary class and one O, one X; Test1 four rows.
PLAN = [("11", "Train", "NNNAAF"), ("12", "Train", "NNNAFO"), ("Unknown", "Train", "OXXX"),
        ("21", "Development", "ASHUFDCNASHU"), ("22", "Development", "FDCNASHUFDCNOX"),
        ("31", "Test1", "NAOX"), ("41", "Test2", "NS")]


def tiny_release(root: Path, edit=None) -> Path:
    """An MSP-Podcast release of 48 rows (:data:`PLAN`) and two unlisted Test3 files."""
    rng = np.random.default_rng(0)
    rows = []
    for s, (speaker, split, classes) in enumerate(PLAN):
        for u, code in enumerate(classes):
            act = 5.5 if code in "AHUF" else 2.5
            rows.append({"FileName": f"MSP-PODCAST_{s:04d}_{u:04d}.wav", "EmoClass": code,
                         "EmoAct": f"{act + 0.1 * u:.2f}", "EmoVal": f"{3 + 0.2 * u % 3:.2f}",
                         "EmoDom": f"{4 + 0.1 * s:.2f}", "SpkrID": speaker,
                         "Gender": ["Female", "Male"][(s + u) % 2], "Split_Set": split})
    if edit:
        edit(rows)
    for folder in ("Audios", "Transcripts", "Labels"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    names = [r["FileName"] for r in rows] + ["MSP-PODCAST_test3_0001.wav",
                                              "MSP-PODCAST_test3_0002.wav"]
    for name in names:
        if name and "/" not in name:
            sf.write(root / "Audios" / name, 0.1 * rng.standard_normal(1600), 16000)
            (root / "Transcripts" / f"{Path(name).stem}.txt").write_text("we talked.\n")
    with open(root / "Labels" / "labels_consensus.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(msp_podcast.COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return root


def is25_config(name: str, table: Path, **handling) -> MultitaskConfig:
    layer = yaml.safe_load((data_dir("configs") / "is25" / f"{name}.yaml").read_text())
    layer["data"].update(data_info=str(table), audio_root=str(table.parents[1] / "Audios"),
                         cache_dir=None)
    layer["data_handling"].update(handling)
    cfg = resolve(MultitaskConfig, layer)
    task.check(cfg)
    return cfg


@pytest.fixture
def prepared(tmp_path) -> Path:
    return msp_podcast.prepare(tiny_release(tmp_path / "release"), tmp_path / "release" / "out",
                               test="Test1")[0]


# ---- the recipe ------------------------------------------------------------------------------

def test_the_recipe_keeps_train_dev_and_the_chosen_test_and_records_what_it_changed(prepared):
    frame = pd.read_csv(prepared, dtype=str, keep_default_na=False)
    assert Counter(frame["Split_Set"]) == {"Train": 16, "Development": 26, "Test": 4}
    assert not frame["FileName"].str.startswith("MSP-PODCAST_0006").any()  # Test2 left out
    unknown = frame[frame["SpkrID"].str.startswith("Unknown")]
    assert len(unknown) == 4 and unknown["SpkrID"].nunique() == 4  # one pseudo-speaker each
    record = yaml.safe_load(prepared.with_suffix(".json").read_text())
    assert record["left_out_rows"] == {"Test2": 2} and record["unknown_speaker_rows"] == 4
    assert record["split_names"]["Test1"] == "Test" and record["transcripts_missing"] == 0


def test_test3_is_the_unlisted_challenge_audio_without_labels(tmp_path):
    table = msp_podcast.prepare(tiny_release(tmp_path), tmp_path / "out")[0]
    test = pd.read_csv(table, dtype=str, keep_default_na=False).query("Split_Set == 'Test'")
    assert test["FileName"].tolist() == ["MSP-PODCAST_test3_0001.wav",
                                         "MSP-PODCAST_test3_0002.wav"]
    assert (test[["EmoClass", "EmoAct", "Gender"]] == "").all().all()
    cfg = is25_config("attributes", table)
    assert task.read(cfg).counts()["test_unlabelled"] == 2


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[0].update(EmoClass="Z"), "line 2: EmoClass 'Z' is not one of"),
    (lambda rows: rows[1].update(EmoAct="8"), "line 3: EmoAct must be a number in [1, 7]"),
    (lambda rows: rows[2].update(Split_Set="Dev"), "line 4: unknown Split_Set 'Dev'"),
    (lambda rows: rows[3].update(FileName=rows[4]["FileName"]), "lines 5, 6: duplicate FileName"),
    (lambda rows: rows[5].update(FileName="../x.wav"), "line 7: FileName '../x.wav' is not"),
    (lambda rows: rows[6].update(Gender="F"), "line 8: Gender 'F' is not one of"),
    (lambda rows: rows[7].update(SpkrID=""), "line 9: empty SpkrID"),
])
def test_the_recipe_names_the_file_and_line_of_a_bad_row(tmp_path, edit, message):
    with pytest.raises(LabelFileError) as error:
        msp_podcast.prepare(tiny_release(tmp_path, edit), tmp_path / "out", test="Test1")
    assert "labels_consensus.csv" in str(error.value) and message in str(error.value)
    assert not (tmp_path / "out").exists()


def test_the_recipe_names_missing_audio_and_transcripts_and_bad_options(tmp_path):
    root = tiny_release(tmp_path)
    (root / "Audios" / "MSP-PODCAST_0000_0001.wav").unlink()
    (root / "Transcripts" / "MSP-PODCAST_0001_0000.txt").unlink()
    (root / "Transcripts" / "MSP-PODCAST_0001_0001.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(LabelFileError) as error:
        msp_podcast.prepare(root, tmp_path / "out", test="Test1")
    text = str(error.value)
    assert "line 3: Audios/MSP-PODCAST_0000_0001.wav does not exist" in text
    assert "line 8: Transcripts/MSP-PODCAST_0001_0000.txt does not exist" in text
    assert "line 9: Transcripts/MSP-PODCAST_0001_0001.txt is not UTF-8" in text
    (root / "Audios" / "MSP-PODCAST_0000_0001.wav").write_bytes(b"")
    (root / "Transcripts" / "MSP-PODCAST_0001_0001.txt").write_text("ok\n")
    table = msp_podcast.prepare(root, tmp_path / "out", test="Test1", require_transcripts=False)
    assert yaml.safe_load(table[1].read_text())["transcripts_missing"] == 1
    with pytest.raises(UserError, match="test='Test4'"):
        msp_podcast.prepare(root, tmp_path / "out", test="Test4")
    (root / "Labels" / "labels_consensus.csv").write_text("FileName,EmoClas\n")
    with pytest.raises(LabelFileError, match="'EmoClass' is missing.*did you mean 'EmoClas'"):
        msp_podcast.prepare(root, tmp_path / "out")


# ---- data handling ---------------------------------------------------------------------------

def train_classes(cfg, table) -> np.ndarray:
    return sampling.class_values(cfg, table)[table.splits == "train"]


def test_undersampling_gives_equal_class_counts_every_epoch(prepared):
    cfg = is25_config("attributes", prepared)
    table = task.read(cfg)
    classes = train_classes(cfg, table)
    batches, steps = sampling.epoch_batches(cfg, table, seed=5)
    epochs = [np.concatenate([b.numpy() for b in batches(e)]) for e in range(4)]
    for rows in epochs:  # N A F O X; the rarest (A... F: 2, O: 2) sets the count
        assert Counter(classes[rows].tolist()) == {c: 2 for c in ("A", "F", "N", "O", "X")}
        assert len(set(rows.tolist())) == len(rows) and steps == -(-len(rows) // 32)
    assert len({tuple(r) for r in epochs}) > 1  # other rows of the large classes
    again = np.concatenate([b.numpy() for b in sampling.epoch_batches(cfg, table, 5)[0](2)])
    assert (again == epochs[2]).all()  # seeded by the run's seed and the epoch
    four = sampling.epoch_batches(is25_config("attributes", prepared, per_class=4), table, 5)
    assert set(Counter(classes[np.concatenate([b.numpy() for b in four[0](0)])]).values()) == {4}
    whole = is25_config("attributes", prepared, balance_ambiguous=False)
    rows = np.concatenate([b.numpy() for b in sampling.epoch_batches(whole, table, 5)[0](0)])
    assert Counter(classes[rows].tolist()) == {"A": 2, "F": 2, "N": 2, "O": 2, "X": 3}


def test_ox_inclusion_changes_the_training_set_by_exactly_the_ox_rows(prepared):
    with_ox = task.read(is25_config("attributes", prepared))
    without = task.read(is25_config("attributes", prepared, train_ambiguous=False))
    frame = pd.read_csv(prepared, dtype=str)
    ox = set(frame.query("Split_Set == 'Train' and EmoClass in ['O', 'X']")["FileName"])
    rows = {(s, i) for s, i in zip(with_ox.splits, with_ox.file_ids)}
    assert rows - {(s, i) for s, i in zip(without.splits, without.file_ids)} == \
        {("train", i) for i in ox} and len(ox) == 5
    assert without.subset("val").file_ids == with_ox.subset("val").file_ids
    assert without.subset("test").file_ids == with_ox.subset("test").file_ids
    cfg = is25_config("attributes", prepared, train_ambiguous=False)
    record = sampling.record(cfg, without, seed=1)
    assert record["ambiguous_training_rows"] == {"in_table": 5, "trained": 0, "left_out": 5}
    assert sampling.record(is25_config("attributes", prepared), with_ox, 1)[
        "ambiguous_training_rows"]["trained"] == 5


def test_the_balanced_validation_has_k_rows_per_primary_class(prepared):
    cfg = is25_config("attributes", prepared, val_per_class=2)
    table = task.read(cfg)
    classes = sampling.class_values(cfg, table)
    picks = [sampling.validation_rows(cfg, table, seed) for seed in (1, 2, 3)]
    for keep in picks:
        assert (table.splits[keep] == "val").all()
        assert Counter(classes[keep].tolist()) == {c: 2 for c in msp_podcast.CLASSES}
    assert len({tuple(np.flatnonzero(k)) for k in picks}) > 1  # seeded
    record = sampling.record(cfg, table, seed=1)["validation"]
    assert record["k"] == 2 and record["rows"] == 16 and record["of"] == 26
    assert (sampling.validation_rows(is25_config("attributes", prepared), table, 1)
            == (table.splits == "val")).all()


def test_categorical_o_and_x_rows_have_no_class_but_stay_labelled(prepared):
    cfg = is25_config("categorical", prepared)
    table = task.read(cfg)
    ox = np.isin(sampling.class_values(cfg, table), ["O", "X"])
    assert not (table.splits[ox] == "train").any()  # train_ambiguous: false
    assert ox.sum() == 4 and not table.present["emotion"][ox].any() and table.labelled[ox].all()


def test_predictions_map_onto_1_to_7(prepared):
    cfg = is25_config("attributes", prepared, minmax="train")
    table = task.read(cfg)
    targets = scoring.build_targets(cfg, table)
    rng = np.random.default_rng(0)
    pred = {t.name: (rng.normal(4, 0.5, (len(table), 1)) if t.kind.name == "regression"
                     else rng.dirichlet([1, 1], len(table))) for t in targets}
    train = table.splits == "train"
    mapped = ranges.map_by_split(cfg, targets, pred, table.splits)
    a, raw = mapped["arousal"][:, 0], pred["arousal"][:, 0]
    assert a[train].min() == pytest.approx(1) and a[train].max() == pytest.approx(7)
    slope = 6 / (raw[train].max() - raw[train].min())
    inside = ~train & (raw > raw[train].min()) & (raw < raw[train].max())
    assert np.allclose(a[inside], 1 + slope * (raw[inside] - raw[train].min()))
    assert (a >= 1).all() and (a <= 7).all() and (mapped["gender"] == pred["gender"]).all()
    split = ranges.map_by_split(is25_config("attributes", prepared, minmax="split"), targets,
                                pred, table.splits)
    for s in ("train", "val", "test"):
        rows = table.splits == s
        assert split["valence"][rows].min() == pytest.approx(1)
        assert split["valence"][rows].max() == pytest.approx(7)
    wide = {**pred, "arousal": pred["arousal"] * 3 - 8}
    clipped = ranges.map_by_split(is25_config("attributes", prepared, minmax="clip"), targets,
                                  wide, table.splits)["arousal"]
    assert (clipped == np.clip(wide["arousal"], 1, 7)).all() and (clipped == 1).any()


@pytest.mark.parametrize("handling, message", [
    ({"class_column": None}, "undersample needs data_handling.class_column"),
    ({"undersample": False, "per_class": 3}, "undersample is false"),
    ({"val_per_class": 0}, "val_per_class must be >= 1"),
    ({"val_classes": ["A", "O"]}, "name an ambiguous class"),
])
def test_bad_data_handling_keys_are_named(prepared, handling, message):
    with pytest.raises(ConfigError, match=message):
        is25_config("attributes", prepared, **handling)


def test_no_label_is_for_categorical_targets_and_not_a_class(prepared):
    layer = yaml.safe_load((data_dir("configs") / "is25" / "categorical.yaml").read_text())
    layer["data"].update(data_info=str(prepared), audio_root="a")
    layer["targets"][0]["no_label"] = ["O", "a"]
    with pytest.raises(ConfigError, match="no_label .* names a declared class"):
        task.check(resolve(MultitaskConfig, layer))


def test_the_submission_csvs_parse_back_to_the_predictions(prepared, tmp_path):
    for name, writer in (("attributes", ATTRIBUTES_OUTPUT), ("categorical", CATEGORICAL)):
        cfg = is25_config(name, prepared)
        table = task.read(cfg)
        targets = scoring.build_targets(cfg, table)
        rng = np.random.default_rng(1)
        pred = {t.name: (rng.uniform(1, 7, (len(table), 1)) if t.kind.name == "regression"
                         else rng.dirichlet(np.ones(len(t.labels)), len(table))) for t in targets}
        out = tmp_path / name
        out.mkdir()
        writer.write(Written(out, cfg, table, targets, pred, {}, "test"))
        for split in ("val", "test"):
            got = pd.read_csv(out / f"is25_{name}_{split}.csv", dtype={"EmoClass": str})
            rows = np.flatnonzero(table.splits == split)
            order = np.argsort(np.asarray(table.file_ids)[rows], kind="stable")
            assert got["FileName"].tolist() == [table.file_ids[i] for i in rows[order]]
            if name == "attributes":
                assert list(got.columns) == ["FileName", "EmoAct", "EmoVal", "EmoDom"]
                for column, target in zip(("EmoAct", "EmoVal", "EmoDom"),
                                          ("arousal", "valence", "dominance")):
                    assert np.allclose(got[column], pred[target][rows[order], 0], atol=1e-6)
            else:
                assert list(got.columns) == ["FileName", "EmoClass"]
                best = pred["emotion"][rows[order]].argmax(axis=1)
                assert got["EmoClass"].tolist() == [msp_podcast.CLASSES[b] for b in best]


# ---- the demo corpus -------------------------------------------------------------------------

def test_the_demo_corpus_is_deterministic_and_in_the_release_layout(tmp_path):
    a = demo_is25.build(tmp_path / "a", utterances_per_speaker=2)
    b = demo_is25.build(tmp_path / "b", utterances_per_speaker=2)
    manifest = yaml.safe_load((a / "MANIFEST.json").read_text())
    assert manifest == yaml.safe_load((b / "MANIFEST.json").read_text())
    mtime = (a / "MANIFEST.json").stat().st_mtime_ns
    assert demo_is25.build(tmp_path / "a", utterances_per_speaker=2) == a  # reused
    assert (a / "MANIFEST.json").stat().st_mtime_ns == mtime
    assert demo_is25.build(tmp_path / "c", seed=1, utterances_per_speaker=2) != a
    assert yaml.safe_load((tmp_path / "c" / "MANIFEST.json").read_text())["sha256"] != \
        manifest["sha256"]
    labels = pd.read_csv(a / "Labels" / "labels_consensus.csv", dtype=str)
    assert len(labels) == 48 and len(list((a / "Audios").iterdir())) == 56  # + 8 Test3 files
    for stem in labels["FileName"].str[:-4]:
        assert (a / "Transcripts" / f"{stem}.txt").read_text(encoding="utf-8").strip()
    speakers = labels.groupby("SpkrID")["Split_Set"].nunique()
    assert (speakers == 1).all() and set(labels["Split_Set"]) == {"Train", "Development",
                                                                 "Test1"}
    table = msp_podcast.prepare(a, a / "prepared", test="Test1")[0]  # what demo() does
    assert Counter(pd.read_csv(table)["Split_Set"]) == {"Train": 32, "Development": 8, "Test": 8}


# ---- both configs, end to end on the demo ----------------------------------------------------

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("is25")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


def demo_run(name: str, *extra: str) -> tuple[dict, Path]:
    config = data_dir("configs") / "is25" / f"{name}.yaml"
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "multitask", "--demo", "-c",
                 str(config), "-n", name, "--device", "cpu", *extra]) == 0
    run = Path("results/downstream") / name
    return scores.read(run / "scores.json"), run


@pytest.mark.slow
def test_the_attributes_config_beats_the_constant_on_every_ccc(workdir):
    # the paper's system with the demo's random tiny text model in place of RoBERTa-Large
    result, run = demo_run("attributes", "-o", "train.epochs=25,,model.text.upstream=tiny_random")
    for split in ("val", "test"):
        for target in ("arousal", "valence", "dominance"):
            got = result["metrics"][split][f"{target}_ccc"]
            assert got > result["baselines"][split][f"{target}_ccc"] + 0.1, (split, target, got)
    handling = result["data_handling"]
    assert handling["undersample"]["rows_per_epoch"] == 10 * handling["undersample"]["per_class"]
    assert handling["ambiguous_training_rows"]["trained"] > 0
    submitted = pd.read_csv(run / "is25_attributes_test.csv")
    frame = pd.read_csv(run / "predictions.csv").query("split == 'test'").set_index("FileName")
    assert np.allclose(submitted["EmoAct"], frame.loc[submitted["FileName"], "arousal_pred"],
                       atol=1e-6)
    assert submitted[["EmoAct", "EmoVal", "EmoDom"]].stack().between(1, 7).all()


@pytest.mark.slow
def test_the_categorical_config_beats_the_constant_on_macro_f1(workdir):
    result, run = demo_run("categorical", "-o", "train.epochs=25")
    for split in ("val", "test"):
        assert result["metrics"][split]["f1_macro"] > result["baselines"][split]["f1_macro"]
    assert result["data_handling"]["ambiguous_training_rows"]["trained"] == 0
    assert set(result["targets"]["emotion"]["labels"]) == set(msp_podcast.CLASSES)
    submitted = pd.read_csv(run / "is25_categorical_test.csv", dtype=str)
    frame = pd.read_csv(run / "predictions.csv", dtype=str).query("split == 'test'")
    assert dict(zip(submitted["FileName"], submitted["EmoClass"])) == \
        dict(zip(frame["FileName"], frame["emotion_pred"]))
