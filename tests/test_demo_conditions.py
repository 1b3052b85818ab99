"""The emotion demo's two label conditions (labels/, arousal/), chosen by data.condition in -c."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from emobench.core import scores
from emobench.orchestration.cli import main
from emobench.core.config import ConfigError
from emobench.downstream.emotion import task

CONFIGS = Path(__file__).parents[1] / "configs" / "emotion"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo_conditions")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)  # RESULTS (results/...) is relative to the cwd
        yield path


def train(config: str, name: str) -> Path:
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "--demo",
                 "-c", str(CONFIGS / config), "-n", name, "--folds", "1", "--device", "cpu",
                 "-o", "train.epochs=1"]) == 0
    return Path("results/downstream") / name


@pytest.fixture(scope="module")
def runs(workdir) -> dict[str, Path]:
    return {"labels": train("demo.yaml", "fb_labels"),
            "arousal": train("demo_arousal.yaml", "fb_arousal")}


def test_each_condition_trains_on_its_label_folder(runs: dict[str, Path]):
    classes = {"labels": ["angry", "sad", "neutral", "happy"], "arousal": ["high", "low"]}
    for condition, base in runs.items():
        result = scores.read(base / "fold1" / "scores.json")
        assert (result["corpus"], result["condition"], result["fold"]) == ("demo", condition, 1)
        assert list(result["per_class"]["f1"]["test"]) == classes[condition]
        assert sum(result["counts"].values()) == 400
        data = yaml.safe_load((base / "fold1" / "config.yaml").read_text())["config"]["data"]
        assert Path(data["label_dir"]).parts[-3:] == ("demo", "emotion", condition)
        assert data["condition"] == condition
        aggregate = json.loads((base / "aggregate.json").read_text())
        assert (aggregate["corpus"], aggregate["condition"]) == ("demo", condition)
    # The same fold: the same speakers in every split.
    counts = [scores.read(b / "fold1" / "scores.json")["counts"] for b in runs.values()]
    assert counts[0] == counts[1]


def test_the_table_has_one_column_per_condition(runs: dict[str, Path], capsys):
    assert main(["-m", "report", "-p", "results/downstream"]) == 0
    table = Path("results/downstream/report/table.md").read_text()
    assert "demo/labels" in table and "demo/arousal" in table


def test_an_unknown_demo_condition_is_refused(workdir: Path, capsys):
    config = workdir / "primary.yaml"
    config.write_text("data:\n  condition: Primary\n")
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "--demo", "-c",
                 str(config), "-n", "bad", "--device", "cpu", "-o", "train.epochs=1"]) == 2
    err = capsys.readouterr().err
    assert "data.condition='Primary'" in err and "['labels', 'arousal']" in err
    with pytest.raises(ConfigError, match="the demo corpus has the conditions"):
        task.demo(workdir / "unused", {"data": {"condition": "valence"}})
    assert not (workdir / "unused").exists()  # refused before anything is built


def test_demo_layer_defaults_to_labels(workdir: Path):
    root = workdir / "results" / "demo" / "emotion"
    for layers in (None, {}, {"data": {}}, {"data": {"condition": None}}):
        layer = task.demo(root, layers)["data"]
        assert (layer["condition"], Path(layer["label_dir"])) == ("labels", root / "labels")
    layer = task.demo(root, {"data": {"condition": "arousal"}})["data"]
    assert (layer["condition"], layer["corpus"]) == ("arousal", "demo")
    assert Path(layer["label_dir"]) == root / "arousal"
    assert Path(layer["audio_root"]) == root / "audio"
