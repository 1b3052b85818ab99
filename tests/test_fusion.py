"""Early fusion (``-u a,b``: one input branch per upstream, concatenated) and hybrid fusion
(``-m fuse``: each target's predictions from a chosen experiment, rescored) of the multitask
task, through the command line on a small corpus in HUME-VB's format (exvo_mtl)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from emobench.core import scores
from emobench.core.config import load_yaml
from emobench.corpora import demo_hume_vb
from emobench.orchestration.cli import main

KEYS = ("metrics", "baselines", "per_class", "main_metric", "targets", "counts", "corpus",
        "condition", "task", "upstream", "seed", "notes")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("fusion")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def small(workdir) -> Path:
    return demo_hume_vb.build(workdir / "small", seed=3, speakers_per_country=4,
                              bursts_per_speaker=6)


def train(data_info: Path, name: str, upstream: str, *extra: str, epochs: int = 3) -> Path:
    assert main(["-m", "train", "-u", upstream, "-d", "exvo_mtl", "-n", name, "--device", "cpu",
                 "-o", f"data.data_info={data_info},,data.audio_root={data_info.parent / 'wav'}"
                 f",,train.epochs={epochs}", *extra]) == 0
    return Path("results/downstream") / name


@pytest.fixture(scope="module")
def single(small) -> Path:
    return train(small, "single", "fbank_no_cmvn")


@pytest.fixture(scope="module")
def fused(small) -> Path:
    return train(small, "fused", "fbank_no_cmvn,fbank_no_cmvn", "--seed", "7")


def load(folder: Path) -> dict:
    return scores.read(folder / "scores.json")


def test_single_upstream_records_are_unchanged(single: Path):
    saved = torch.load(single / "dev-best.ckpt", map_location="cpu", weights_only=True)
    assert isinstance(saved["feature_dim"], int) and isinstance(saved["upstream_sha256"], str)
    assert "inputs.featurizer.weights" in saved["model"]
    assert "upstreams" not in load(single) and load(single)["upstream"]["name"] == "fbank_no_cmvn"
    assert "upstreams" not in load_yaml(single / "config.yaml")["run"]
    assert set(json.loads((single / "layer_weights.json").read_text())) == {
        "upstream", "layer", "normalize", "weights"}


def test_early_fusion_concatenates_each_upstreams_weighted_features(single: Path, fused: Path):
    one = torch.load(single / "dev-best.ckpt", map_location="cpu", weights_only=True)
    two = torch.load(fused / "dev-best.ckpt", map_location="cpu", weights_only=True)
    width = one["feature_dim"]
    assert two["feature_dim"] == [width, width]
    assert two["upstream_sha256"] == [one["upstream_sha256"]] * 2
    # one featurizer and standardisation per branch; the trunk (Sys-1) sees both, concatenated
    for k in (0, 1):
        assert f"inputs.branches.{k}.featurizer.weights" in two["model"]
        assert two["model"][f"inputs.branches.{k}.feature_mean"].shape[1] == width
    assert two["model"]["trunk.0.weight"].shape[1] == 2 * width
    assert one["model"]["trunk.0.weight"].shape[1] == width

    result = load(fused)
    assert result["upstream"]["name"] == "fbank_no_cmvn+fbank_no_cmvn"
    assert [u["name"] for u in result["upstreams"]] == ["fbank_no_cmvn"] * 2
    assert result["upstreams"][0]["checkpoint_sha256"] == one["upstream_sha256"]
    assert result["metrics"]["val"]["s_mtl"] >= 0 and result["selection"]["epoch"] >= 1
    assert len(load_yaml(fused / "config.yaml")["run"]["upstreams"]) == 2
    weights = json.loads((fused / "layer_weights.json").read_text())
    assert [w["upstream"] for w in weights["upstreams"]] == ["fbank_no_cmvn"] * 2
    assert all(abs(sum(w["weights"]) - 1) < 1e-6 for w in weights["upstreams"])
    assert (fused / "layer_weights_1_fbank_no_cmvn.svg").is_file()
    assert (fused / "layer_weights_2_fbank_no_cmvn.svg").is_file()

    # the fused checkpoint evaluates to the same scores
    assert main(["-m", "evaluate", "-e", str(fused), "-p", "evaluated", "--device", "cpu"]) == 0
    assert load(Path("evaluated"))["metrics"] == result["metrics"]


def test_a_comma_list_is_refused_where_it_cannot_be_fused(small, capsys):
    assert main(["-m", "train", "-u", "fbank_no_cmvn,fbank", "-d", "emotion", "--demo"]) == 2
    assert "task emotion takes one upstream" in capsys.readouterr().err
    assert main(["-m", "train", "-u", "fbank_no_cmvn,fbank", "-d", "exvo_mtl", "-k", "a.pt",
                 "-o", f"data.data_info={small}"]) == 2
    assert "1 checkpoint(s) for the 2 upstreams" in capsys.readouterr().err
    assert main(["-m", "train", "-u", "fbank_no_cmvn,fbank", "-l", "0", "-d", "exvo_mtl"]) == 2
    assert "-l 0 with several upstreams" in capsys.readouterr().err


def fuse(*args: str) -> dict:
    assert main(["-m", "fuse", *args]) == 0
    return load(Path(args[args.index("-p") + 1]))


def test_hybrid_of_an_experiment_with_itself_reproduces_it(single: Path):
    result = fuse("--from", "emotion=single,country=single,age=single", "-p", "self")
    original = load(single)
    for key in KEYS:
        assert result[key] == original[key], key
    for name in ("predictions.csv", "ExVo-Multi_emobench_1.csv"):
        assert (Path("self") / name).read_bytes() == (single / name).read_bytes(), name
    assert result["sources"]["age"] == {
        "expdir": str(single.absolute()), "upstream": "fbank_no_cmvn", "seed": 1337,
        "epoch": original["selection"]["epoch"], "criterion": "val_mae",
        "value": original["metrics"]["val"]["mae"]}
    assert result["selection"]["method"] == "explicit"


def test_auto_hybrid_is_at_least_as_good_as_each_on_validation(single: Path, fused: Path):
    sources = [load(single), load(fused)]
    result = fuse("--from", "auto", "-e", f"single,{fused}", "-p", "auto")
    val = result["metrics"]["val"]
    print({"single": sources[0]["metrics"]["val"], "fused": sources[1]["metrics"]["val"],
           "hybrid": val})
    # each target's validation metric is the best of the sources' (S_MTL is monotone in them)
    assert val["ccc"] == max(s["metrics"]["val"]["ccc"] for s in sources)
    assert val["uar"] == max(s["metrics"]["val"]["uar"] for s in sources)
    assert val["mae"] == min(s["metrics"]["val"]["mae"] for s in sources)
    assert all(val["s_mtl"] >= s["metrics"]["val"]["s_mtl"] for s in sources)
    assert result["selection"] == {"metric": "val_s_mtl", "method": "auto",
                                   "value": val["s_mtl"]}
    assert result["seed"] == 1337 and result["warnings"]  # the sources' seeds differ
    folders = {s["expdir"] for s in result["sources"].values()}
    if len(folders) == 2:  # a real hybrid
        assert result["upstream"]["name"] == "hybrid:fbank_no_cmvn|fbank_no_cmvn+fbank_no_cmvn"
    # the same choice from a YAML file
    Path("auto.yaml").write_text(f"auto: [single, {fused}]\n")
    again = fuse("--from", "auto.yaml", "-p", "auto_yaml")
    assert again["metrics"] == result["metrics"] and again["sources"] == result["sources"]


def test_experiments_that_differ_are_refused(single: Path, fused: Path, capsys):
    other = Path("other")
    shutil.copytree(single, other)
    changed = json.loads((other / "scores.json").read_text())
    changed["corpus"] = "elsewhere"
    (other / "scores.json").write_text(json.dumps(changed))
    assert main(["-m", "fuse", "--from", "auto", "-e", f"{single},other", "-p", "x"]) == 2
    err = capsys.readouterr().err
    assert str(single.absolute()) in err and str(other.absolute()) in err and "corpus" in err
    assert not Path("x").exists()  # nothing written

    rows = Path("rows")
    shutil.copytree(single, rows)
    with np.load(rows / "predictions.npz") as data:
        arrays = dict(data)
    arrays["split"] = arrays["split"][::-1].copy()
    np.savez(rows / "predictions.npz", **arrays)
    assert main(["-m", "fuse", "--from", "emotion=rows,age=single,country=single",
                 "-p", "x"]) == 2
    assert "rows (ids or splits" in capsys.readouterr().err

    assert main(["-m", "fuse", "--from", "emotion=single,age=single", "-p", "x"]) == 2
    assert "no source for ['country']" in capsys.readouterr().err
    shutil.rmtree(rows)
    (single / "predictions.npz").rename("kept.npz")
    try:
        assert main(["-m", "fuse", "--from", "auto", "-e", "single", "-p", "x"]) == 2
        assert "predictions.npz" in capsys.readouterr().err
    finally:
        Path("kept.npz").rename(single / "predictions.npz")


def test_several_upstreams_extract_and_resume(small: Path, fused: Path):
    data = f"data.data_info={small},,data.audio_root={small.parent / 'wav'}"
    assert main(["-m", "extract", "-u", "fbank_no_cmvn,fbank", "-d", "exvo_mtl", "-o", data,
                 "--device", "cpu"]) == 0
    assert {p.name for p in Path("results/cache").iterdir()} >= {"fbank_no_cmvn", "fbank"}
    # resuming reads both upstreams back from config.yaml and trains on
    resumed = Path("resumed")
    shutil.copytree(fused, resumed)
    assert main(["-m", "train", "-e", str(resumed), "-o", "train.epochs=4", "--device", "cpu"]) == 0
    saved = torch.load(resumed / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["state"]["epoch"] == 4 and saved["feature_dim"] == [240, 240]
    assert [u["name"] for u in load(resumed)["upstreams"]] == ["fbank_no_cmvn"] * 2
