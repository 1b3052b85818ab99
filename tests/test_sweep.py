"""Sweeps with the local launcher: job graph, skipping, failures, retries after a kill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emobench.orchestration.cli import main
from emobench.core.config import ConfigError
from emobench.orchestration.sweep import graph, spec
from sweep_helpers import cells, one_by_one, status, sweep_killing_one_run, write_sweep
from emobench.upstream import make_tiny


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


def test_sweep_files_are_checked(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nupstreams: [fbank, fbank]\nconditions: [iemocap]\n")
    with pytest.raises(ConfigError, match=r"s\.yaml.*upstreams \['fbank'\] appear twice"):
        spec.load(path)
    path.write_text("name: s\nupstreams: [fbank]\nconditions: [iemocap]\nshards: 2\n")
    with pytest.raises(ConfigError, match=r"s\.yaml.*unknown config key 'shards'"):
        spec.load(path)
    path.write_text("name: s\nupstreams: []\nconditions: [iemocap]\n")
    with pytest.raises(ConfigError, match="'upstreams' must be a non-empty list"):
        spec.load(path)


def test_graph_of_the_paper_table_without_its_data():
    plan = graph.build(spec.load(Path(__file__).parents[1] / "configs/sweeps/emo_superb.yaml"))
    train = plan.stage("train")
    assert len(plan.cells) == 16 * 9
    assert len(train) == 16 * 31  # folds: 5+5+1+5+5+1+5+1+1... the registry's 31 per upstream
    extract = plan.stage("extract")
    assert len(extract) == 16 * 6 * 4  # upstream x corpus x 4 shards
    node = plan.nodes["train/wavlm_large/iemocap/fold3/seed1337"]
    assert node.deps == [f"extract/wavlm_large/iemocap/{i}of4" for i in range(1, 5)]
    assert node.commands[0][:8] == ["-m", "train", "-u", "wavlm_large", "-d", "emotion", "-c",
                                    "configs/emotion/iemocap.yaml"]
    assert sorted(plan.nodes["aggregate"].deps) == sorted(n.key for n in train)
    assert len({n.config_hash for n in train}) == len(train)  # every run its own identity


def test_partial_failure_rerun_and_table_equals_runs_one_by_one(workdir: Path):
    ckpt = workdir / "tiny_apc.ckpt"  # missing at first: its extraction jobs raise
    upstreams = [{"name": "fbank_no_cmvn"}, {"name": "apc_960hr", "ckpt": str(ckpt)}]
    sweep = write_sweep(workdir / "partial.yaml", "partial", upstreams, folds=[1, 2],
                        retries=0, extract={"shards": 2})
    output = workdir / "partial"
    assert main(["-m", "sweep", "-c", str(sweep)]) == 1
    first = status(output)
    failed = sorted(first["failed"])
    assert failed == ["extract/apc_960hr/demo/1of2", "extract/apc_960hr/demo/2of2"]
    for key in failed:  # reported with its log, which names the problem
        (log,) = first["failed"][key]
        assert "tiny_apc.ckpt" in Path(log).read_text()
    assert len(first["blocked"]) == 4  # apc x 2 conditions x 2 folds
    assert first["jobs"]["aggregate"]["state"] == "done"
    table = json.loads((output / "report" / "table.json").read_text())
    assert set(cells(table)) == {("fbank_no_cmvn", "demo/labels"),
                                 ("fbank_no_cmvn", "demo/arousal")}
    assert "apc_960hr" in table["rows"] and table["average"]["apc_960hr"] is None
    (row,) = [line for line in (output / "report/table.md").read_text().splitlines()
              if line.startswith("| apc_960hr |")]
    assert row.endswith("| – | – | – |")  # Average and both conditions missing

    stamps = {p: p.stat().st_mtime_ns for p in (output / "fbank_no_cmvn").rglob("scores.json")}
    assert len(stamps) == 4
    make_tiny("apc_960hr", ckpt, seed=0)
    assert main(["-m", "sweep", "-c", str(sweep)]) == 0
    second = status(output)
    ran = sorted(k for k, j in second["jobs"].items() if j["state"] == "done")
    assert ran == ["aggregate", *failed, *(f"train/apc_960hr/{c}/fold{f}/seed1337"
                                          for c in ("demo", "demo_arousal") for f in (1, 2))]
    assert second["counts"]["skipped"] == 4 + 2  # fbank_no_cmvn's runs and extractions
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # finished runs untouched
    swept = cells(json.loads((output / "report" / "table.json").read_text()))
    reference = cells(one_by_one(workdir / "reference", upstreams, folds="1,2"))
    assert len(swept) == 4 and swept == reference


def test_changed_config_reruns_only_the_changed_cells(workdir: Path):
    up = [{"name": "fbank_no_cmvn"}]
    sweep = write_sweep(workdir / "change.yaml", "change", up, conditions=("demo",), folds=[1],
                        local={"gpus": [4, 7]}, extract={"shards": 2})
    assert main(["-m", "sweep", "-c", str(sweep)]) == 0
    # one worker per listed GPU, each job seeing only its own (on this CPU machine: unused)
    logs = (workdir / "change" / ".sweep" / "logs").glob("extract__*.log")
    seen = {line.rsplit("CUDA_VISIBLE_DEVICES ", 1)[1].rstrip(")")
            for log in logs for line in log.read_text().splitlines()
            if line.startswith("sweep job")}
    assert seen == {"4", "7"}
    assert main(["-m", "sweep", "-c", str(sweep)]) == 0
    assert status(workdir / "change")["counts"] == {"skipped": 3, "done": 1}
    write_sweep(workdir / "change.yaml", "change", up, conditions=("demo",), folds=[1], epochs=3,
                local={"gpus": [4, 7]}, extract={"shards": 2})
    assert main(["-m", "sweep", "-c", str(sweep)]) == 0
    jobs = status(workdir / "change")["jobs"]
    assert jobs["train/fbank_no_cmvn/demo/fold1/seed1337"]["state"] == "done"  # redone
    config = (workdir / "change/fbank_no_cmvn/demo/fold1/config.yaml").read_text()
    assert "epochs: 3" in config


def test_a_killed_job_is_retried_and_resumes(workdir: Path):
    up = [{"name": "fbank_no_cmvn"}]
    sweep = write_sweep(workdir / "kill.yaml", "kill", up, conditions=("demo",), folds=[1],
                        epochs=20, retries=1)
    expdir = workdir / "kill" / "fbank_no_cmvn" / "demo" / "fold1"
    job = sweep_killing_one_run(sweep, expdir)
    assert job["history"][0]["exit_code"] == -9
    marker = json.loads((expdir / "sweep_run.json").read_text())
    assert marker["status"] == "done" and marker["attempt"] == 2
    # the resumed run ends where an uninterrupted one does
    ref = workdir / "kill_ref"
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "-c",
                 str(Path(__file__).parents[1] / "configs/emotion/demo.yaml"), "--demo",
                 "-o", "train.epochs=20", "-o", "data.fold=1", "-p", str(ref)]) == 0
    resumed = json.loads((expdir / "scores.json").read_text())["metrics"]
    assert resumed == json.loads((ref / "scores.json").read_text())["metrics"]


def test_graph_of_a_task_without_folds(tmp_path: Path):
    path = tmp_path / "exvo.yaml"
    config = Path(__file__).parents[1] / "configs/exvo_mtl/hume_vb.yaml"
    path.write_text(f"name: exvo\nupstreams: [fbank_no_cmvn, wavlm]\nseeds: [1, 2, 3]\n"
                    f"conditions: [{{name: hume_vb, task: exvo_multitask, config: {config}}}]\n")
    plan = graph.build(spec.load(path), tmp_path)
    assert sorted(plan.nodes) == sorted(
        ["aggregate", "extract/fbank_no_cmvn/hume_vb/1of1", "extract/wavlm_large/hume_vb/1of1"]
        + [f"train/{u}/hume_vb/seed{s}" for u in ("fbank_no_cmvn", "wavlm_large")
           for s in (1, 2, 3)])
    node = plan.nodes["train/wavlm_large/hume_vb/seed2"]
    assert node.expdir == str(tmp_path / "results/sweeps/exvo/wavlm_large/hume_vb/seed2")
    assert "data.fold" not in " ".join(node.commands[0]) and "exvo_mtl" in node.commands[0]
    assert plan.nodes["extract/wavlm_large/hume_vb/1of1"].commands == [
        ["-m", "extract", "-u", "wavlm_large", "-d", "exvo_mtl", "-c", str(config),
         "--shard", "1/1"]]


def submitted_extract_and_train(state_of_log):
    """An engine with extract/a and train/a (afterok) submitted, the aggregation waiting; the
    launcher reports ``state_of_log(<key>.log)`` for each job."""
    from types import SimpleNamespace

    from emobench.orchestration.sweep.engine import Engine

    nodes = {"extract/a": SimpleNamespace(deps=[], after="ok"),
             "train/a": SimpleNamespace(deps=["extract/a"], after="ok"),
             "aggregate": SimpleNamespace(deps=["train/a"], after="any")}
    launcher = SimpleNamespace(state=lambda handle: state_of_log(handle.log),
                               cancel=lambda handle: None)
    engine = Engine(SimpleNamespace(nodes=nodes, spec=SimpleNamespace(retries=0)), launcher,
                    log=lambda *args: None)
    for key in ("extract/a", "train/a"):
        engine.state[key], engine.attempts[key] = "submitted", 1
        engine.handles[key] = SimpleNamespace(extra={}, log=f"{key}.log")
        engine.history[key].append({"attempt": 1})
    return engine


def test_a_job_ended_for_its_failed_dependency_is_blocked_not_failed():
    """SLURM ends a job whose afterok dependency failed (kill-on-invalid-dep); when one poll sees
    both, the dependent is blocked (its own run never started), not a failure of its own."""
    engine = submitted_extract_and_train(lambda log: "failed")
    engine._poll()
    assert engine.state == {"extract/a": "failed", "train/a": "blocked", "aggregate": "waiting"}
    assert engine.history["train/a"][-1] == {"blocked_by": "extract/a",
                                             "reason": "extract/a failed"}


def test_a_dependent_cancelled_before_its_dependency_is_seen_to_fail_is_blocked():
    """SLURM may report the dependent's cancel while its dependency still looks running (the
    race seen in CI): the dependent waits for its dependency's end and is then blocked."""
    seen = {"extract/a.log": "running", "train/a.log": "failed"}
    engine = submitted_extract_and_train(seen.__getitem__)
    engine._poll()
    assert engine.state["train/a"] == "submitted"  # not a failure of its own: not decided yet
    seen["extract/a.log"] = "failed"
    engine._poll()
    assert engine.state == {"extract/a": "failed", "train/a": "blocked", "aggregate": "waiting"}
    assert engine.history["train/a"][-1] == {"blocked_by": "extract/a",
                                             "reason": "extract/a failed"}
