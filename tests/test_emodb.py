"""EmoDB recipe on the real corpus (SER_TEST_DATA/emodb): partitions and a short training run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from emobench.corpora.emodb import CLASSES, prepare
from emobench.corpora.emotion_labels import read_labels
from emobench.core import scores
from emobench.orchestration.cli import main
from emobench.core.resources import CHECKOUT as REPO_ROOT


@pytest.fixture(scope="module")
def emodb(test_data: Path, tmp_path_factory) -> tuple[Path, Path]:
    source = test_data / "emodb"
    target = tmp_path_factory.mktemp("emodb_labels")
    written = prepare(source, target)
    assert len(written) == 2 + 1 + 5  # two config.json, SERAB fold, five speaker folds
    return source, target


def test_serab_split_counts_and_speakers(emodb):
    source, target = emodb
    table = read_labels(target / "SERAB", 1, source / "wav")
    assert table.classes == CLASSES
    by_split = {s: sorted({table.speakers[i] for i in range(len(table)) if table.splits[i] == s})
                for s in ("train", "dev", "test")}
    assert by_split == {"train": ["08", "09", "11", "13", "15", "16"], "dev": ["10", "14"],
                        "test": ["03", "12"]}
    assert [(table.splits == s).sum() for s in ("train", "dev", "test")] == [344, 107, 84]
    frame = pd.read_csv(target / "SERAB" / "labels_consensus_1.csv", dtype={"SpkrID": str})
    acted = frame["FileName"].str[5].map({"W": "angry", "L": "boredom", "E": "disgust",
                                          "A": "fear", "F": "happy", "T": "sad", "N": "neutral"})
    assert (frame[CLASSES].idxmax(axis=1) == acted).all()
    assert frame[CLASSES].max(axis=1).eq(0.95).all()


def test_five_speaker_folds_test_and_dev_every_speaker_once(emodb):
    source, target = emodb
    tested, developed = [], []
    for fold in range(1, 6):
        table = read_labels(target / "Speaker5", fold, source / "wav")
        tested += sorted({s for s, split in zip(table.speakers, table.splits) if split == "test"})
        developed += sorted({s for s, split in zip(table.speakers, table.splits) if split == "dev"})
    speakers = ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
    assert sorted(tested) == speakers and sorted(developed) == speakers


@pytest.mark.slow
def test_short_training_beats_the_constant_baseline(emodb, tmp_path):
    source, target = emodb
    expdir = tmp_path / "exp"
    config = REPO_ROOT / "configs" / "emotion" / "emodb.yaml"
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "-c", str(config),
                 "-p", str(expdir), "--device", "cpu", "-o",
                 f"data.label_dir={target / 'SERAB'},,data.audio_root={source / 'wav'},,"
                 "train.epochs=15"]) == 0
    result = scores.read(expdir / "scores.json")
    assert result["corpus"] == "emodb" and result["condition"] == "SERAB"
    assert result["counts"] == {"train": 344, "dev": 107, "test": 84}
    assert result["metrics"]["test"]["macro_f1"] > result["baselines"]["test"]["macro_f1"]


def test_the_multitask_tables_carry_sex_and_age_from_the_documentation(test_data, tmp_path):
    from emobench.corpora.emodb import SPEAKER_AGES
    from emobench.corpora import partitions

    written = prepare(test_data / "emodb", tmp_path, multitask=True)
    assert len(written) == 2 + 2 * (1 + 5)
    frame = pd.read_csv(tmp_path / "multitask" / "SERAB_1.csv", dtype={"SpkrID": str})
    assert list(frame.columns) == ["FileName", "Split_Set", "SpkrID", "emotion", "Gender", "Age"]
    sex = {str(k): v for k, v in partitions.load("emodb")["units"].items()}
    per_speaker = frame.groupby("SpkrID")[["Gender", "Age"]].agg(set)
    assert {s: (g, a) for s, (g, a) in per_speaker.iterrows()} == {
        s: ({sex[s]}, {SPEAKER_AGES[s]}) for s in sex}
    assert SPEAKER_AGES == {"03": 31, "08": 34, "09": 21, "10": 32, "11": 26, "12": 30,
                            "13": 32, "14": 35, "15": 25, "16": 31}
    assert frame["Split_Set"].value_counts().to_dict() == {"Train": 344, "Development": 107,
                                                           "Test": 84}


@pytest.mark.slow
def test_multitask_emotion_sex_and_age_train_from_yaml_only(test_data, tmp_path):
    prepare(test_data / "emodb", tmp_path / "labels", multitask=True)
    expdir = tmp_path / "exp"
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "multitask", "-c",
                 str(REPO_ROOT / "configs" / "multitask" / "emodb.yaml"), "-p", str(expdir),
                 "--device", "cpu", "-o",
                 f"data.data_info={tmp_path / 'labels' / 'multitask' / 'SERAB_1.csv'},,"
                 f"data.audio_root={test_data / 'emodb' / 'wav'},,train.epochs=15,,"
                 f"data.cache_dir={tmp_path / 'cache'}"]) == 0
    result = scores.read(expdir / "scores.json")
    assert result["task"] == "multitask" and result["corpus"] == "emodb"
    assert result["counts"] == {"train": 344, "val": 107, "test": 84, "test_unlabelled": 0}
    test, base = result["metrics"]["test"], result["baselines"]["test"]
    assert test["emotion_macro_f1"] > base["emotion_macro_f1"]
    assert test["sex_uar"] > base["sex_uar"]  # the test speakers (03, 12) are both male
    assert result["targets"]["age"]["labels"] == ["Age"]
