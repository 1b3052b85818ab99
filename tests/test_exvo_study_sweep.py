"""Sweeps of the seed-000 paper's Table 2: early-fusion rows (comma upstreams, ``fuse:``) and
hybrid rows (``hybrids:``, ``-m fuse`` per condition and seed), as a job graph and for real on
the HUME-VB demo corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from emobench.core.config import ConfigError
from emobench.orchestration.cli import main
from emobench.orchestration.sweep import graph, spec
from emobench.upstream import make_tiny

REPO = Path(__file__).parents[1]
HUME = str(REPO / "configs/exvo_mtl/hume_vb.yaml")


def _conditions(demo: bool = False) -> list[dict]:
    return [{"name": s, "task": "exvo_mtl", "config": HUME, "demo": demo,
             "overrides": [f"model.system={s}", f"data.condition={s}"]} for s in ("sys1", "sys2")]


def _plan(tmp_path: Path, upstreams: list, hybrids=(), seeds=(1, 2)) -> graph.Plan:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "upstreams": upstreams,
                                    "hybrids": list(hybrids), "seeds": list(seeds),
                                    "conditions": _conditions()}, sort_keys=False))
    return graph.build(spec.load(path), tmp_path)


def test_comma_upstreams_and_fused_entries_share_their_parts_extraction(tmp_path: Path):
    plan = _plan(tmp_path, [
        "fbank_no_cmvn",
        {"name": "er", "upstream": "raw_cnn", "ckpt": "/m/er.ckpt"},
        "wavlm,fbank_no_cmvn",  # canonical per upstream: the row wavlm_large+fbank_no_cmvn
        {"name": "er+fbank", "fuse": ["er", "fbank_no_cmvn"]},
        {"name": "mix", "upstream": "raw_cnn,egemaps", "ckpt": "/m/er.ckpt,"}])
    out = tmp_path / "results/sweeps/s"
    assert [c.upstream for c in plan.cells[:5]] == [
        "fbank_no_cmvn", "er", "wavlm_large+fbank_no_cmvn", "er+fbank", "mix"]
    assert {c.upstream: c.kind for c in plan.cells[:5]}["er+fbank"] == "early fusion"
    # one extraction job per upstream x checkpoint x corpus, whichever rows read it
    extract = {n.key: n for n in plan.stage("extract")}
    assert sorted(extract) == [f"extract/{u}/hume_vb/1of1"
                               for u in ("egemaps", "er", "fbank_no_cmvn", "wavlm_large")]
    for node in extract.values():
        assert len(node.commands) == 2  # sys1 and sys2: no command twice
    assert extract["extract/er/hume_vb/1of1"].commands[0][:6] == [
        "-m", "extract", "-u", "raw_cnn", "-k", "/m/er.ckpt"]
    fused = plan.nodes["train/er+fbank/sys2/seed2"]
    assert fused.commands[0][:6] == ["-m", "train", "-u", "raw_cnn,fbank_no_cmvn",
                                     "-k", "/m/er.ckpt,"]
    assert fused.expdir == str(out / "er+fbank/sys2/seed2")
    assert fused.deps == ["extract/er/hume_vb/1of1", "extract/fbank_no_cmvn/hume_vb/1of1"]
    plain = plan.nodes["train/wavlm_large+fbank_no_cmvn/sys1/seed1"]
    assert plain.commands[0][2:4] == ["-u", "wavlm_large,fbank_no_cmvn"] and "-k" not in \
        plain.commands[0]
    assert plan.nodes["train/mix/sys1/seed1"].commands[0][2:6] == [
        "-u", "raw_cnn,egemaps", "-k", "/m/er.ckpt,"]
    assert plan.nodes["train/mix/sys1/seed1"].deps == ["extract/er/hume_vb/1of1",
                                                      "extract/egemaps/hume_vb/1of1"]
    # a single upstream's run keeps the identity it had before rows had components
    single = plan.nodes["train/fbank_no_cmvn/sys1/seed1"]
    assert single.commands[0][:4] == ["-m", "train", "-u", "fbank_no_cmvn"]
    assert plan.rows[0].identity() == {"name": "fbank_no_cmvn", "ckpt": None,
                                       "normalize": False, "overrides": []}
    assert len({n.config_hash for n in plan.stage("train")}) == len(plan.stage("train"))


def test_an_extraction_without_a_single_row_is_named_by_its_upstream(tmp_path: Path):
    plan = _plan(tmp_path, [{"name": "both", "upstream": "raw_cnn,fbank_no_cmvn",
                             "ckpt": "/m/er.ckpt,"}], seeds=[1])
    keys = sorted(n.key for n in plan.stage("extract"))
    assert len(keys) == 2 and keys[0] == "extract/fbank_no_cmvn/hume_vb/1of1"
    assert keys[1].startswith("extract/raw_cnn@")


@pytest.mark.parametrize("upstreams, hybrids, message", [
    ([{"name": "a", "upstream": "raw_cnn,fbank", "ckpt": "x,y,z"}], [], "2 upstreams"),
    (["fbank", {"name": "f", "fuse": ["fbank", "nope"]}], [], "fuse names 'nope'"),
    (["fbank", "egemaps", {"name": "f", "fuse": ["fbank", "egemaps"]},
      {"name": "g", "fuse": ["f", "fbank"]}], [], "not a single-upstream entry"),
    (["fbank", {"name": "f", "fuse": ["fbank"], "ckpt": "x"}], [], "give none here"),
    (["fbank"], [{"name": "h", "from": {"emotion": "fbank"}}], "one source for each"),
    (["fbank"], [{"name": "h", "auto": ["fbank", "x"]}], r"names \['x'\]"),
    (["fbank"], [{"name": "h", "auto": ["fbank"], "from": {"age": "fbank"}}], "either"),
    (["fbank"], [{"name": "fbank", "auto": ["fbank"]}], "appear twice"),
])
def test_bad_rows_are_refused_naming_the_entry(tmp_path: Path, upstreams, hybrids, message):
    with pytest.raises(ConfigError, match=message):
        _plan(tmp_path, upstreams, hybrids)


def test_hybrid_rows_are_fuse_jobs_after_the_runs_they_combine(tmp_path: Path):
    plan = _plan(tmp_path, ["fbank_no_cmvn", {"name": "er", "upstream": "raw_cnn",
                                              "ckpt": "/m/er.ckpt"}],
                 [{"name": "er+fbank", "from": {"emotion": "er", "age": "er",
                                                "country": "fbank_no_cmvn"}},
                  {"name": "best", "auto": ["fbank_no_cmvn", "er"]}])
    out = tmp_path / "results/sweeps/s"
    fuse = sorted(k for k in plan.nodes if k.startswith("fuse/"))
    assert fuse == [f"fuse/{h}/{c}/seed{s}" for h in ("best", "er+fbank")
                    for c in ("sys1", "sys2") for s in (1, 2)]
    node = plan.nodes["fuse/er+fbank/sys2/seed1"]
    assert node.stage == "train" and node.deps == ["train/er/sys2/seed1",
                                                   "train/fbank_no_cmvn/sys2/seed1"]
    er, fbank = out / "er/sys2/seed1", out / "fbank_no_cmvn/sys2/seed1"
    assert node.commands == [["-m", "fuse", "--from",
                              f"emotion={er},age={er},country={fbank}",
                              "-p", str(out / "er+fbank/sys2/seed1")]]
    assert plan.nodes["fuse/best/sys1/seed2"].commands == [[
        "-m", "fuse", "--from", "auto", "-e",
        f"{out / 'fbank_no_cmvn/sys1/seed2'},{out / 'er/sys1/seed2'}",
        "-p", str(out / "best/sys1/seed2")]]
    assert set(fuse) <= set(plan.nodes["aggregate"].deps)
    cell = next(c for c in plan.cells if c.upstream == "er+fbank" and c.condition == "sys1")
    assert cell.kind == "hybrid" and cell.note == "emotion, age from er; country from fbank_no_cmvn"
    assert [r["key"] for r in cell.runs] == ["fuse/er+fbank/sys1/seed1", "fuse/er+fbank/sys1/seed2"]
    # a hybrid is redone when a source run's identity changes, not otherwise
    again = _plan(tmp_path, ["fbank_no_cmvn", {"name": "er", "upstream": "raw_cnn",
                                               "ckpt": "/m/other.ckpt"}],
                  [{"name": "er+fbank", "from": {"emotion": "er", "age": "er",
                                                 "country": "fbank_no_cmvn"}}])
    assert again.nodes["fuse/er+fbank/sys2/seed1"].config_hash != node.config_hash


def test_a_hybrid_needs_a_task_that_fuse_combines(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "s", "upstreams": ["fbank"], "hybrids": [{"name": "h", "auto": ["fbank"]}],
        "conditions": [{"name": "demo", "config": str(REPO / "configs/emotion/demo.yaml"),
                        "demo": True}]}))
    with pytest.raises(ConfigError, match="not a multitask or exvo_mtl task"):
        graph.build(spec.load(path), tmp_path)


def test_the_real_hume_vb_sweep_file_dry_runs(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    sweep = REPO / "configs/sweeps/exvo_study.yaml"
    assert main(["-m", "sweep", "-c", str(sweep), "--launcher", "slurm", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "10 upstream rows + 2 hybrid rows x 2 conditions -> 24 table cells, 153 jobs" in text
    plan = graph.build(spec.load(sweep), REPO)
    assert len(plan.stage("extract")) == 8 * 4  # 8 upstream x checkpoint, 4 shards; no fusion
    wavlm = plan.nodes["train/wavlm_large/sys2/seed3"].commands[0]
    assert "model.functionals=mean_std" in wavlm and "model.system=sys2" in wavlm
    fused = plan.nodes["train/raw_er+wavlm/sys1/seed1"]
    assert fused.commands[0][2:6] == ["-u", "raw_cnn,wavlm_large",
                                      "-k", "results/downstream/raw_exvo_er/dev-best.ckpt,"]
    assert fused.deps == [f"extract/{u}/hume_vb/{i}of4" for u in ("raw_er", "wavlm_large")
                          for i in range(1, 5)]
    assert plan.nodes["fuse/raw_er+zff_cr/sys2/seed5"].deps == [
        "train/raw_er/sys2/seed5", "train/zff_cr/sys2/seed5"]


def _s_mtl(folder: Path) -> tuple[float, float]:
    scores = json.loads((folder / "scores.json").read_text())
    return scores["metrics"]["val"]["s_mtl"], scores["metrics"]["test"]["s_mtl"]


@pytest.mark.slow
def test_a_demo_sweep_with_a_fused_and_a_hybrid_row(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "raw.ckpt"
    make_tiny("raw_cnn", raw, seed=0)  # a random embedding CNN: 20 dims like a trained one
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({
        "name": "study", "output": str(tmp_path / "out"), "seeds": [1, 2], "device": "cpu",
        "upstreams": ["fbank_no_cmvn", {"name": "raw", "upstream": "raw_cnn", "ckpt": str(raw)},
                      {"name": "raw+fbank", "fuse": ["raw", "fbank_no_cmvn"]}],
        "hybrids": [{"name": "hyb", "from": {"emotion": "fbank_no_cmvn", "age": "raw",
                                             "country": "fbank_no_cmvn"}}],
        "conditions": _conditions(demo=True)[:1], "overrides": ["train.epochs=1"],
        "cache_dir": str(tmp_path / "cache")}, sort_keys=False))
    assert main(["-m", "sweep", "-c", str(path)]) == 0
    out = tmp_path / "out"
    status = json.loads((out / ".sweep/status.json").read_text())
    assert status["counts"] == {"done": 2 + 6 + 2 + 1}  # extraction, training, fuse, table
    # the hybrid's cell: mean, std and best-on-val of -m fuse of each seed's source runs, by hand
    by_hand = {}
    for seed in (1, 2):
        fbank, rawrun = out / f"fbank_no_cmvn/sys1/seed{seed}", out / f"raw/sys1/seed{seed}"
        ref = tmp_path / f"ref{seed}"
        assert main(["-m", "fuse", "--from",
                     f"emotion={fbank},age={rawrun},country={fbank}", "-p", str(ref)]) == 0
        by_hand[seed] = _s_mtl(ref)
        assert by_hand[seed] == _s_mtl(out / f"hyb/sys1/seed{seed}")
    table = json.loads((out / "report/table.json").read_text())
    cells = {c["upstream"]: c for c in table["cells"]}
    test = [by_hand[s][1] for s in (1, 2)]
    assert cells["hyb"]["mean"] == pytest.approx(np.mean(test))
    assert cells["hyb"]["std"] == pytest.approx(np.std(test, ddof=1))
    best = max((1, 2), key=lambda s: by_hand[s][0])
    assert cells["hyb"]["best_seed_value"] == pytest.approx(by_hand[best][1])
    assert table["kinds"] == {"raw+fbank": "early fusion", "hyb": "hybrid"}
    assert table["rows"] == ["fbank_no_cmvn", "raw", "raw+fbank", "hyb"][:2] + table["rows"][2:]
    assert table["rows"][2:] == ["raw+fbank", "hyb"]  # the paper's sections: fusion, hybrids
    markdown = (out / "report/table.md").read_text()
    assert "| hyb (hybrid) |" in markdown and "| raw+fbank (early fusion) |" in markdown
    assert "- hyb (hybrid): emotion, country from fbank_no_cmvn; age from raw" in markdown
    fused = json.loads((out / "raw+fbank/sys1/seed1/scores.json").read_text())
    assert [u["name"] for u in fused["upstreams"]] == ["raw_cnn", "fbank_no_cmvn"]
    # a rerun skips every finished job and rebuilds the same table
    assert main(["-m", "sweep", "-c", str(path)]) == 0
    again = json.loads((out / ".sweep/status.json").read_text())
    assert again["counts"] == {"skipped": 10, "done": 1}
    assert json.loads((out / "report/table.json").read_text())["cells"] == table["cells"]
