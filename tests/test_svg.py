"""The layer-weight figure as SVG (emobench/core/svg.py): what it draws, measured on the parsed
document; bad weights refused; a training run writes it and never imports matplotlib."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from emobench.core import svg

NS = {"s": svg.NAMESPACE}


def parse(path: Path) -> ET.Element:
    return ET.fromstring(path.read_text(encoding="utf-8"))


def bars(root: ET.Element) -> list[dict[str, float]]:
    return [{k: float(r.get(k)) for k in ("x", "y", "width", "height", "data-weight")}
            for r in root.iterfind("s:rect[@class='bar']", NS)]


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{{{svg.NAMESPACE}}}text")]


@pytest.mark.parametrize("weights", [[0.1, 0.5, 0.2, 0.2], [1.0], [0.0, 0.0, 1.0],
                                     [1 / 25] * 25, [0.001, 0.999]])
def test_one_bar_per_hidden_state_with_height_proportional_to_its_weight(tmp_path, weights):
    path = svg.layer_weights(weights, "apc layer weights (emotion)", tmp_path / "w.svg")
    root = parse(path)
    found = bars(root)
    assert len(found) == len(weights)
    assert [b["data-weight"] for b in found] == weights
    assert [b["x"] for b in found] == sorted(b["x"] for b in found)  # hidden state 0 first
    base = {round(b["y"] + b["height"], 2) for b in found}
    assert len(base) == 1  # every bar stands on the x axis
    scale = max(b["height"] for b in found) / max(weights)  # px per unit of weight
    for b, w in zip(found, weights):
        assert b["height"] == pytest.approx(w * scale, abs=2e-3)
    # the dashed uniform line at 1/L, on the same scale
    line = root.find("s:line[@class='uniform']", NS)
    assert line.get("stroke-dasharray") and line.get("y1") == line.get("y2")
    assert float(line.get("y1")) == pytest.approx(base.pop() - scale / len(weights), abs=2e-3)
    assert float(line.get("data-value")) == pytest.approx(1 / len(weights))
    labels = texts(root)
    assert [str(i) for i in range(len(weights))] == [t for t in labels if t.isdigit()]
    assert {"uniform", "hidden state (0 = input features)", "softmax weight"} <= set(labels)


def test_y_axis_starts_at_zero_with_a_few_labelled_ticks(tmp_path):
    root = parse(svg.layer_weights([0.1, 0.5, 0.2, 0.2], "t", tmp_path / "w.svg"))
    ticks = [t for t in texts(root) if "." in t]
    assert ticks == ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5"]
    zero = root.find("s:text[.='0.0']", NS)
    half = root.find("s:text[.='0.5']", NS)
    tall = bars(root)[1]  # weight 0.5
    assert float(zero.get("y")) == pytest.approx(tall["y"] + tall["height"], abs=2e-3)
    assert float(half.get("y")) == pytest.approx(tall["y"], abs=2e-3)
    for top in (1e-3, 0.04, 0.3, 0.5, 0.77, 1.0):
        grid, decimals = svg.ticks(top)
        assert grid[0] == 0 and grid[-1] >= top and 3 <= len(grid) <= 6
        assert len({f"{v:.{decimals}f}" for v in grid}) == len(grid)  # labels all differ


def test_title_and_names_are_escaped(tmp_path):
    title = 'up<stream> & "corpus" \'x\'\x07 layer weights'
    path = svg.layer_weights([0.5, 0.5], title, tmp_path / "w.svg")
    raw = path.read_text(encoding="utf-8")
    assert "up&lt;stream&gt; &amp; &quot;corpus&quot;" in raw and "<stream>" not in raw
    root = parse(path)
    shown = title.replace("\x07", "\ufffd")  # a character XML forbids: replaced, still parses
    assert root.find("s:title", NS).text == shown
    assert root.find("s:text[@class='title']", NS).text == shown


@pytest.mark.parametrize("weights, problem", [
    ([0.5, float("nan")], "layer weight 1 is nan"),
    ([float("inf")], "layer weight 0 is inf"),
    ([-0.1, 1.1], "layer weight 0 is -0.1"),
    ([0.2, 1.5], "layer weight 1 is 1.5"),
    (["0.5"], "layer weight 0 is '0.5'"),
    ([True], "layer weight 0 is True"),
    ([], "no layer weights"),
])
def test_bad_weights_are_refused_and_nothing_is_written(tmp_path, weights, problem):
    path = tmp_path / "layer_weights.svg"
    with pytest.raises(ValueError, match="layer_weights.svg") as error:
        svg.layer_weights(weights, "t", path)
    assert problem in str(error.value)
    assert not list(tmp_path.iterdir())


def test_numpy_weights_are_accepted(tmp_path):
    import numpy as np

    weights = np.array([0.25, 0.75], dtype=np.float32)
    found = bars(parse(svg.layer_weights(list(weights), "t", tmp_path / "w.svg")))
    assert [b["data-weight"] for b in found] == [0.25, 0.75]
    assert math.isclose(found[1]["height"], 3 * found[0]["height"], rel_tol=1e-4)


def test_importing_the_training_modules_does_not_import_matplotlib():
    code = ("import sys\nimport emobench.core.plots, emobench.downstream.common\n"
            "import emobench.downstream.multitask.upstreams\n"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


@pytest.mark.slow  # about 20 s: the demo corpus, one epoch, in a fresh interpreter
def test_a_training_run_writes_the_svg_without_importing_matplotlib(tmp_path):
    code = ("import json, sys\nfrom emobench.orchestration.cli import main\n"
            "rc = main(['-m', 'train', '-u', 'fbank_no_cmvn', '-d', 'emotion', '--demo', '-n', "
            "'demo', '--device', 'cpu', '-o', 'train.epochs=1'])\n"
            "print(json.dumps({'rc': rc, 'matplotlib': sorted(m for m in sys.modules "
            "if m.split('.')[0] == 'matplotlib')}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"rc": 0, "matplotlib": []}
    run = tmp_path / "results" / "downstream" / "demo"
    assert not list(run.glob("*.png"))
    root = parse(run / "layer_weights.svg")
    weights = json.loads((run / "layer_weights.json").read_text())["weights"]
    assert [b["data-weight"] for b in bars(root)] == weights == [1.0]  # fbank: one hidden state
    assert root.find("s:title", NS).text == "fbank_no_cmvn layer weights (emotion, fold 1)"
