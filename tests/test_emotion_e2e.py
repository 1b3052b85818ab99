"""The emotion task end to end on the generated demo corpus, through the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from emobench.core import scores
from emobench.orchestration.cli import main

EPOCHS = 8


def train(name: str, *extra: str) -> Path:
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "--demo", "-n", name,
                 "--device", "cpu", "-o", f"train.epochs={EPOCHS}", *extra]) == 0
    return Path("results/downstream") / name


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def demo_run(workdir) -> Path:
    return train("demo")


def test_train_writes_every_output(demo_run: Path):
    names = {p.name for p in demo_run.iterdir()}
    for expected in ("config.yaml", "log.log", "dev-best.ckpt", "last.ckpt", "scores.json",
                     "predictions.csv", "dev_fold1_predict.txt", "dev_fold1_truth.txt",
                     "test_fold1_predict.txt", "test_fold1_truth.txt", "layer_weights.json",
                     "layer_weights.svg"):
        assert expected in names, expected
    assert any(n.startswith("events.out.tfevents") for n in names)
    assert not [n for n in names if n.endswith(".tmp")]

    resolved = yaml.safe_load((demo_run / "config.yaml").read_text())
    assert resolved["config"]["train"]["epochs"] == EPOCHS
    assert resolved["run"]["upstream"]["name"] == "fbank_no_cmvn"
    assert resolved["config"]["data"]["label_dir"].endswith("labels")

    result = scores.read(demo_run / "scores.json")  # validates against the schema
    assert result["task"] == "emotion" and result["corpus"] == "demo" and result["fold"] == 1
    assert result["toolkit"]["version"] and result["seed"] == 1337
    assert re.fullmatch(r"[0-9a-f]{64}", result["upstream"]["checkpoint_sha256"])
    test = result["metrics"]["test"]
    assert result["main_metric"] == {"name": "macro_f1", "split": "test",
                                     "value": test["macro_f1"], "higher_is_better": True}
    assert test["macro_f1"] > result["baselines"]["test"]["macro_f1"] + 0.15
    assert set(result["per_class"]["f1"]["test"]) == {"angry", "sad", "neutral", "happy"}
    assert result["counts"] == {"train": 240, "dev": 80, "test": 80}
    assert 1 <= result["selection"]["epoch"] <= EPOCHS

    # checkpoints are plain data: loadable with weights_only=True
    best = torch.load(demo_run / "dev-best.ckpt", weights_only=True)
    assert best["classes"] == ["angry", "sad", "neutral", "happy"]

    weights = json.loads((demo_run / "layer_weights.json").read_text())["weights"]
    assert weights == pytest.approx([1.0])  # fbank has one hidden state

    predictions = pd.read_csv(demo_run / "predictions.csv")
    assert len(predictions) == 160 and set(predictions["split"]) == {"dev", "test"}
    lines = (demo_run / "test_fold1_predict.txt").read_text().splitlines()
    assert len(lines) == 80
    first = predictions[predictions["split"] == "test"].iloc[0]
    assert lines[0] == f"{first['FileName']} {first['predicted'] if isinstance(first['predicted'], str) else ''}"

    log = (demo_run / "log.log").read_text()
    assert "selected epoch" in log and "best constant" in log


def test_evaluate_reproduces_the_test_scores(demo_run: Path):
    assert main(["-m", "evaluate", "-e", str(demo_run / "dev-best.ckpt"), "--device", "cpu"]) == 0
    again = scores.read(demo_run / "evaluate_dev-best" / "scores.json")
    first = scores.read(demo_run / "scores.json")
    assert again["metrics"] == first["metrics"]
    assert again["baselines"] == first["baselines"]
    assert ((demo_run / "evaluate_dev-best" / "test_fold1_predict.txt").read_text()
            == (demo_run / "test_fold1_predict.txt").read_text())


def test_evaluate_from_another_working_directory_reproduces_the_scores(demo_run: Path,
                                                                       tmp_path, monkeypatch):
    """Stored paths are absolute: evaluate runs from anywhere, on the same files, same scores."""
    run = demo_run.absolute()  # before leaving the run's working directory
    checkpoint = run / "dev-best.ckpt"
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for key in ("label_dir", "audio_root", "cache_dir"):
        assert Path(saved["config"]["data"][key]).is_absolute(), key
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["-m", "evaluate", "-e", str(checkpoint), "-p", "again", "--device", "cpu"]) == 0
    again = scores.read(elsewhere / "again" / "scores.json")
    first = scores.read(run / "scores.json")
    assert again["metrics"] == first["metrics"] and again["baselines"] == first["baselines"]
    assert ((elsewhere / "again" / "test_fold1_predict.txt").read_text()
            == (run / "test_fold1_predict.txt").read_text())
    assert not (elsewhere / "results").exists()  # nothing re-extracted or rebuilt here


def test_training_is_deterministic_for_a_seed(demo_run: Path):
    again = train("demo_again")
    a = torch.load(demo_run / "dev-best.ckpt", weights_only=True)["model"]
    b = torch.load(again / "dev-best.ckpt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (scores.read(again / "scores.json")["metrics"]
            == scores.read(demo_run / "scores.json")["metrics"])


def test_resume_continues_exactly(demo_run: Path):
    part = train("part", "-o", "train.epochs=3")
    assert torch.load(part / "last.ckpt", weights_only=True)["state"]["epoch"] == 3
    assert main(["-m", "train", "-e", str(part), "--device", "cpu",
                 "-o", f"train.epochs={EPOCHS}"]) == 0
    a = torch.load(demo_run / "last.ckpt", weights_only=True)
    b = torch.load(part / "last.ckpt", weights_only=True)
    assert b["state"]["epoch"] == EPOCHS and b["state"]["step"] == a["state"]["step"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert (scores.read(part / "scores.json")["metrics"]
            == scores.read(demo_run / "scores.json")["metrics"])


def test_fbank_with_cmvn_warns_that_pooled_features_are_constant(workdir):
    run = train("cmvn", "-u", "fbank", "-o", "train.epochs=1")
    warnings = scores.read(run / "scores.json")["warnings"]
    assert any("no per-utterance variance" in w and "CMVN" in w for w in warnings)


def test_layer_and_normalize_flags_are_recorded(workdir):
    run = train("flags", "-l", "0", "--upstream_feature_normalize", "-o", "train.epochs=1")
    result = scores.read(run / "scores.json")
    assert result["upstream"]["layer"] == 0 and result["upstream"]["normalize"] is True


def test_the_test_split_is_never_read_during_training(workdir, monkeypatch):
    import emobench.downstream.emotion.task as task
    from emobench.core import audio

    phase, loaded = ["training"], []
    real_load, real_evaluate = audio.load, task.evaluate_checkpoint

    def load(path, *args, **kwargs):
        loaded.append((phase[0], Path(path).name))
        return real_load(path, *args, **kwargs)

    def evaluate(*args, **kwargs):
        phase[0] = "final evaluation"
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(audio, "load", load)
    monkeypatch.setattr(task, "evaluate_checkpoint", evaluate)
    train("no_peeking", "-o", "train.epochs=2,,data.cache_dir=fresh_cache")
    labels = pd.read_csv(Path("results/demo/emotion/labels/labels_consensus_1.csv"))
    test_files = set(labels.loc[labels["Split_Set"] == "Test", "FileName"])
    read_in = {p: {name for ph, name in loaded if ph == p} for p in ("training",
                                                                    "final evaluation")}
    assert read_in["training"] and not read_in["training"] & test_files
    assert test_files <= read_in["final evaluation"]


@pytest.mark.parametrize("standardize", [False, True])
def test_pooled_and_frame_paths_train_the_same_model(workdir, tmp_path, standardize):
    """Per-layer time-means (the default path) vs the upstream on every batch, same seed and
    batch order, on a tiny multi-layer upstream so that the layer weights are really learned."""
    from emobench.upstream import make_tiny

    spec = make_tiny("wavlm_large", tmp_path / "wavlm.ckpt")
    runs = {}
    for path in ("pooled", "frames"):
        run = train(f"path_{path}_{standardize}", "-u", "wavlm_large", "-k", spec.path,
                    "-o", f"train.epochs=3,,train.feature_path={path},,train.lr=1e-3,,"
                    f"model.standardize_features={str(standardize).lower()}")
        runs[path] = run
    a, b = (torch.load(runs[p] / "last.ckpt", weights_only=True)["model"] for p in runs)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-4, rtol=1e-3)
    weights = [json.loads((runs[p] / "layer_weights.json").read_text())["weights"] for p in runs]
    assert len(weights[0]) == spec.hidden_states and weights[0] != [1 / 3] * 3
    assert weights[0] == pytest.approx(weights[1], abs=1e-5)
    sa, sb = (scores.read(runs[p] / "scores.json") for p in runs)
    assert (sa["feature_path"], sb["feature_path"]) == ("pooled", "frames")
    for split in ("dev", "test"):
        for name, value in sa["metrics"][split].items():
            assert value == pytest.approx(sb["metrics"][split][name], abs=1e-4), (split, name)


def test_nonlinear_head_runs_on_the_frames_path(workdir):
    run = train("cnn", "-o", "train.epochs=2,,model.head=cnn_self_attention,,model.hidden_dim=32")
    result = scores.read(run / "scores.json")
    assert result["feature_path"] == "frames"
    assert "nonlinear before the pooling" in (run / "log.log").read_text()
    from emobench.downstream.emotion.config import EmotionConfig
    from emobench.downstream.emotion.task import check
    from emobench.core.config import ConfigError, resolve

    config = resolve(EmotionConfig, {"data": {"label_dir": "x", "audio_root": "y"}},
                     "model.head=cnn_self_attention,,train.feature_path=pooled,,train.epochs=1")
    with pytest.raises(ConfigError, match="needs train.feature_path=frames"):
        check(config)
