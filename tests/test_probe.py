"""The probe task (-d probe) and cross-corpus cells, end to end on the generated demo corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from emobench.core import scores
from emobench.core.config import ConfigError
from emobench.downstream.probe import classifiers
from emobench.downstream.probe.features import speaker_standardize
from emobench.orchestration.cli import main

SMALL = ("probe.grids={logistic_regression: {C: [0.01, 1.0]}, svm: {kernel: [linear], C: [1.0]}, "
         "lda: {solver: [svd]}, qda: {solver: [eigen], shrinkage: [auto]}, "
         "random_forest: {n_estimators: [20], max_depth: [null]}}")


def train(name: str, *extra: str, task: str = "probe") -> Path:
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", task, "--demo", "-n", name,
                 "--device", "cpu", *extra]) == 0
    return Path("results/downstream") / name


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("probe")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def demo_run(workdir) -> Path:
    # max_iter 3: logistic regression cannot converge, and says so
    return train("probe", "-o", f"{SMALL},,probe.max_iter=3")


def test_probe_writes_scores_models_and_predictions(demo_run: Path):
    result = scores.read(demo_run / "scores.json")  # validated against the schema
    assert result["task"] == "probe" and result["main_metric"]["name"] == "accuracy"
    families = result["classifiers"]
    assert list(families) == ["logistic_regression", "svm", "lda", "qda", "random_forest"]
    chosen = result["selection"]["classifier"]
    # the selected family is the best on dev, and the main metric is its test accuracy
    assert families[chosen]["dev"]["accuracy"] == max(f["dev"]["accuracy"]
                                                     for f in families.values())
    assert result["main_metric"]["value"] == families[chosen]["test"]["accuracy"]
    for name, family in families.items():
        assert set(family["test"]) == {"accuracy", "uar", "macro_f1"}
        assert (demo_run / family["file"]).is_file()
        assert family["params"] in [point["params"] for point in family["grid"]]
    assert families["logistic_regression"]["params"] in ({"C": 0.01}, {"C": 1.0})
    assert result["counts"] == {"train": 240, "dev": 80, "test": 80}
    # the demo's classes are learnable: far above the constant baseline
    assert result["main_metric"]["value"] > result["baselines"]["test"]["accuracy"] + 0.2
    predictions = pd.read_csv(demo_run / "predictions.csv")
    assert len(predictions) == 160 and set(predictions["split"]) == {"dev", "test"}
    test = predictions[predictions["split"] == "test"]
    assert np.mean(test["truth"] == test["predicted"]) == pytest.approx(
        result["main_metric"]["value"])


def test_convergence_warnings_are_recorded_not_hidden(demo_run: Path):
    result = json.loads((demo_run / "scores.json").read_text())
    warned = result["classifiers"]["logistic_regression"]["warnings"]
    assert any(m.startswith("ConvergenceWarning") for m in warned) and all(
        n >= 1 for n in warned.values())
    assert any("logistic_regression" in w and "ConvergenceWarning" in w
               for w in result["warnings"])
    log = (demo_run / "log.log").read_text()
    assert "ConvergenceWarning" in log and "Traceback" not in log


def test_evaluate_reproduces_and_training_is_deterministic(demo_run: Path):
    first = json.loads((demo_run / "scores.json").read_text())
    assert main(["-m", "evaluate", "-e", str(demo_run), "--device", "cpu"]) == 0
    again = json.loads((demo_run / "evaluate_dev-best" / "scores.json").read_text())
    assert again["classifiers"] == first["classifiers"]
    rerun = train("probe_again", "-o", f"{SMALL},,probe.max_iter=3")
    assert json.loads((rerun / "scores.json").read_text())["classifiers"] == first["classifiers"]


def test_a_changed_model_file_is_refused(demo_run: Path, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(demo_run, copy)
    (copy / "models" / "svm.joblib").write_bytes(b"not the trained model")
    assert main(["-m", "evaluate", "-e", str(copy), "--device", "cpu"]) == 2


def test_speaker_standardisation_is_per_speaker():
    x = np.array([[1.0, 10.0], [3.0, 10.0], [100.0, 0.0], [300.0, 2.0]])
    out = speaker_standardize(x, ["a", "a", "b", "b"], "t")
    assert out.tolist() == [[-1.0, 0.0], [1.0, 0.0], [-1.0, -1.0], [1.0, 1.0]]
    with pytest.raises(ConfigError, match="SpkrID"):
        speaker_standardize(x, ["a", None, "b", "b"], "t")


def test_bad_grids_are_config_errors():
    with pytest.raises(ConfigError, match="not parameters of svm"):
        classifiers.check_families(["svm"], {"svm": {"C": [1], "depth": [2]}})
    with pytest.raises(Exception, match="unknown classifier family 'knn'"):
        classifiers.check_families(["knn"], {})
    with pytest.raises(ConfigError, match="unknown classifier families"):
        classifiers.check_families(["lda"], {"lda_x": {}})


def test_a_grid_that_cannot_be_fitted_names_the_family():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 50)), np.repeat([0, 1], 10)  # fewer samples than features
    splits = {"train": (x, y), "dev": (x, y)}
    with pytest.raises(Exception, match="probe.grids.qda: no grid point could be fitted"):
        classifiers.search("qda", {"reg_param": [0.0]}, splits, seed=0, max_iter=100,
                           standardize=True, refit="train", metric="accuracy")
    # the grid search itself records every failed point and goes on with the others
    found = classifiers.search("qda", [{"reg_param": [0.0]}, {"solver": ["eigen"],
                                                                "shrinkage": ["auto"]}],
                               splits, seed=0, max_iter=100, standardize=True, refit="train",
                               metric="accuracy")
    assert found.params == {"shrinkage": "auto", "solver": "eigen"}
    assert "error" in found.grid[0] and any("fit failed" in m for m in found.warnings)


AROUSAL = {"angry": "high", "happy": "high", "sad": "low", "neutral": None}


def write_cross(path: Path, mapping: dict, workdir: Path) -> Path:
    demo = workdir / "results" / "demo"
    audio = next(demo.glob("*/audio"))
    spec = {"source": "demo", "target": {"label_dir": str(audio.parent / "arousal"),
                                         "audio_root": str(audio), "corpus": "demo_arousal"},
            "mapping": mapping}
    path.write_text(yaml.safe_dump(spec))
    return path


def test_cross_corpus_cell_of_a_probe(demo_run: Path, workdir: Path):
    cross = write_cross(workdir / "cross.yaml", AROUSAL, workdir)
    assert main(["-m", "cross", "-e", str(demo_run), "-c", str(cross), "--device", "cpu"]) == 0
    result = scores.read(demo_run / "cross" / "demo_arousal_arousal" / "scores.json")
    block = result["cross_corpus"]
    assert block["source"] == "demo" and block["target"] == "demo_arousal"
    assert block["dropped_source_classes"] == ["neutral"] and len(block["mapping_sha256"]) == 64
    # every target row has a class that the mapping reaches (high and low both are)
    assert block["target_rows"] == block["evaluated_rows"] == 80 and block["dropped_rows"] == 0
    assert result["main_metric"]["split"] == "test" and 0 <= result["main_metric"]["value"] <= 1
    assert set(result["classifiers"]) == {"logistic_regression", "svm", "lda", "qda",
                                          "random_forest"}


def test_cross_corpus_drops_and_counts_unreached_target_classes(demo_run: Path, workdir: Path):
    cross = write_cross(workdir / "cross_high.yaml", {"angry": "high", "happy": "high"},
                        workdir)
    assert main(["-m", "cross", "-e", str(demo_run), "-c", str(cross), "-p",
                 str(workdir / "high_only"), "--device", "cpu"]) == 0
    block = json.loads((workdir / "high_only" / "scores.json").read_text())["cross_corpus"]
    assert block["dropped_target_classes"] == ["low"]
    assert block["dropped_rows"] == block["dropped_rows_per_class"]["low"] > 0
    assert block["evaluated_rows"] + block["dropped_rows"] == block["target_rows"]


def test_a_mapping_to_an_unknown_class_is_a_clear_error(demo_run: Path, workdir: Path, capsys):
    cross = write_cross(workdir / "bad.yaml", {"angry": "furious"}, workdir)
    assert main(["-m", "cross", "-e", str(demo_run), "-c", str(cross), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert str(cross) in err and "no class 'furious'" in err and "Traceback" not in err


def test_cross_corpus_cell_of_an_emotion_model(workdir: Path):
    run = train("emotion", "-o", "train.epochs=2", task="emotion")
    cross = write_cross(workdir / "cross_emotion.yaml", AROUSAL, workdir)
    assert main(["-m", "cross", "-e", str(run), "-c", str(cross), "--device", "cpu"]) == 0
    result = scores.read(run / "cross" / "demo_arousal_arousal" / "scores.json")
    assert result["task"] == "emotion" and result["cross_corpus"]["evaluated_rows"] == 80


def test_refit_on_train_and_dev_uses_both_and_keeps_the_dev_choice():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 4))
    y = (x[:, 0] > 0).astype(int)
    splits = {"train": (x[:40], y[:40]), "dev": (x[40:], y[40:])}
    grid = {"C": [0.01, 1.0]}
    common = dict(seed=0, max_iter=200, standardize=True, metric="accuracy")
    on_train = classifiers.search("logistic_regression", grid, splits, refit="train", **common)
    on_both = classifiers.search("logistic_regression", grid, splits, refit="train_dev",
                                 **common)
    assert on_train.params == on_both.params and on_train.grid == on_both.grid
    assert on_train.model[-1].n_features_in_ == 4
    assert on_both.model[0].n_samples_seen_ == 60 and on_train.model[0].n_samples_seen_ == 40


def test_layer_choice_and_functionals():
    import torch

    from emobench.downstream.probe.features import vectors

    mean, square = torch.rand(3, 2, 5), torch.rand(3, 2, 5) + 1
    assert vectors(mean, square, "mean", None).shape == (3, 10)  # hidden states concatenated
    assert np.allclose(vectors(mean, square, "mean", 1), mean[:, 1].numpy())
    assert vectors(mean, square, "mean_std", 0).shape == (3, 10)
    with pytest.raises(ConfigError, match="hidden states 0..1"):
        vectors(mean, square, "mean", 2)
