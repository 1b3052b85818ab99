"""Sweeps of a task without folds: every cell is mean +- std over its seeds and the seed best on
validation, written as aggregate.json and shown in the report's table (paper 000's Table 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from emobench.core.resources import CHECKOUT as REPO_ROOT
from emobench.core.seeds import summarize
from emobench.orchestration import tables
from emobench.orchestration.cli import main


def test_a_multitask_sweep_writes_a_seed_table(tmp_path: Path):
    config = str(REPO_ROOT / "configs" / "multitask" / "demo.yaml")
    sweep = {"name": "seeds", "output": str(tmp_path / "seeds"), "upstreams": ["fbank_no_cmvn"],
             "conditions": [
                 {"name": "gender", "task": "multitask", "config": config, "demo": True,
                  "overrides": ["data.condition=gender"]},
                 {"name": "no_gender", "task": "multitask", "config": config, "demo": True,
                  "overrides": ["data.condition=no_gender", "targets.gender.weight=0"]}],
             "seeds": [3, 4], "overrides": ["train.epochs=2"], "local": {"workers": 2}}
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(sweep), encoding="utf-8")
    assert main(["-m", "sweep", "-c", str(path), "--launcher", "local"]) == 0
    output = tmp_path / "seeds"
    for condition in ("gender", "no_gender"):
        cell = json.loads((output / "fbank_no_cmvn" / condition / "aggregate.json").read_text())
        runs = {s: json.loads((output / "fbank_no_cmvn" / condition / f"seed{s}" /
                               "scores.json").read_text()) for s in (3, 4)}
        expected = summarize(runs, ("val", "ccc_mean", True))
        assert cell["aggregate"] == "seeds" and cell["seeds"] == [3, 4]
        assert cell["best_seed"] == expected["best_seed"]
        main_split = cell["main"]["split"]
        values = [runs[s]["metrics"][main_split]["ccc_mean"] for s in (3, 4)]
        assert cell["main"]["mean"] == pytest.approx(sum(values) / 2)
        assert cell["main"]["best"] == runs[expected["best_seed"]]["metrics"][main_split][
            "ccc_mean"]
        assert cell["main"]["std"] == pytest.approx(abs(values[0] - values[1]) / 2 ** 0.5)
    md = (output / "report" / "table.md").read_text()
    table = json.loads((output / "report" / "table.json").read_text())
    assert {c["condition"] for c in table["cells"]} == {"demo_dimensional/gender",
                                                        "demo_dimensional/no_gender"}
    cell = [c for c in table["cells"] if c["condition"].endswith("/gender")][0]
    ci = cell["ci"]  # the seeds' bootstrap interval (docs/statistics.md)
    assert ci["low"] <= cell["mean"] <= ci["high"]
    shown = (f"{cell['mean']:.4f} ± {cell['std']:.4f} ({cell['best_seed_value']:.4f}) "
             f"[{ci['low']:.4f}, {ci['high']:.4f}] n=2")
    assert shown in md, md
    assert "mean ± sample std over seeds, in brackets the seed best on validation" in md


def test_a_single_seed_shows_no_spread(tmp_path: Path):
    table = tables.Table(["c"], ["u"], {"u": None}, {("u", "c"): (0.5, 0.0, 1)},
                         best={("u", "c"): 0.5}, metric="val s")
    assert "| u | unknown | – | 0.5000 | 0.5000 (0.5000) n=1 |" in tables.markdown(table)
