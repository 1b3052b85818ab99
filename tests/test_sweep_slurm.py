"""Sweeps on a real single-node SLURM cluster (started by the tests), through submitit."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from emobench.orchestration.cli import main
from sweep_helpers import (cells, one_by_one, status, sweep_killing_one_run, wait_for_checkpoint,
                           write_sweep)
from emobench.upstream import make_tiny

pytestmark = pytest.mark.slurm

SMALL = {"extract": {"gpus": 0, "cpus": 1, "mem_gb": 1, "time_min": 20},
         "train": {"gpus": 0, "cpus": 1, "mem_gb": 1, "time_min": 20},
         "aggregate": {"gpus": 0, "cpus": 1, "mem_gb": 1, "time_min": 10}}


@pytest.fixture(scope="module")
def cluster(slurm_cluster):
    with slurm_cluster.activate():
        yield slurm_cluster


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, cluster):
    path = tmp_path_factory.mktemp("slurm_sweep")
    path.chmod(0o755)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


def slurm_sweep(workdir: Path, name: str, upstreams, **kwargs) -> Path:
    return write_sweep(workdir / f"{name}.yaml", name, upstreams, resources=SMALL,
                       slurm={"partition": "debug", "poll_seconds": 0.5}, **kwargs)


def test_sweep_on_slurm_equals_the_runs_one_by_one(workdir: Path):
    upstreams = [{"name": "fbank_no_cmvn"}]
    for name in ("apc_960hr", "tera_960hr"):
        upstreams.append({"name": name, "ckpt": make_tiny(name, workdir / f"{name}.ckpt").path})
    sweep = slurm_sweep(workdir, "table", upstreams, extract={"shards": 2})
    assert main(["-m", "sweep", "-c", str(sweep), "--launcher", "slurm"]) == 0
    result = status(workdir / "table")
    assert result["counts"] == {"done": 3 * 2 + 3 * 2 * 5 + 1}
    train = [j for k, j in result["jobs"].items() if j["stage"] == "train"]
    # one array per upstream x corpus: SLURM ids <array>_<index>, three distinct arrays
    arrays = {j["history"][-1]["id"].split("_")[0] for j in train}
    assert len(arrays) == 3 and all("_" in j["history"][-1]["id"] for j in train)
    swept = json.loads((workdir / "table" / "report" / "table.json").read_text())
    # the same runs, reading the features the sweep's extraction jobs cached (the cache itself
    # is checked against the upstream on the fly in test_feature_cache.py, and test_sweep.py
    # compares with runs that extract their own)
    reference = one_by_one(workdir / "reference", upstreams, own_cache=False)
    assert len(cells(swept)) == 3 * 2
    assert cells(swept) == cells(reference)
    assert (workdir / "table" / "report" / "radar.png").is_file() is False  # two conditions
    assert (workdir / "table" / "report" / "layer_weights_apc_960hr.png").is_file()


def test_a_killed_slurm_job_is_retried_and_resumes(workdir: Path):
    sweep = slurm_sweep(workdir, "kill", [{"name": "fbank_no_cmvn"}], conditions=("demo",),
                        folds=[2], epochs=20, retries=1)
    expdir = workdir / "kill" / "fbank_no_cmvn" / "demo" / "fold2"
    job = sweep_killing_one_run(sweep, expdir, "--launcher", "slurm")
    assert job["history"][0]["state"] == "failed"  # SLURM's state of the killed job

def test_a_raising_slurm_job_is_reported_then_only_missing_cells_rerun(workdir: Path):
    ckpt = workdir / "later.ckpt"
    sweep = slurm_sweep(workdir, "raise", [{"name": "fbank_no_cmvn"},
                                           {"name": "apc_960hr", "ckpt": str(ckpt)}],
                        conditions=("demo",), folds=[1], retries=0)
    assert main(["-m", "sweep", "-c", str(sweep), "--launcher", "slurm"]) == 1
    first = status(workdir / "raise")
    assert list(first["failed"]) == ["extract/apc_960hr/demo/1of1"]
    job = first["jobs"]["extract/apc_960hr/demo/1of1"]
    assert job["history"][0]["state"] == "failed"
    stderr = Path(job["history"][0]["stderr"]).read_text()
    assert "later.ckpt" in stderr  # the job's own log says what went wrong
    assert first["blocked"] == ["train/apc_960hr/demo/fold1/seed1337"]
    make_tiny("apc_960hr", ckpt)
    assert main(["-m", "sweep", "-c", str(sweep), "--launcher", "slurm"]) == 0
    second = status(workdir / "raise")["jobs"]
    assert second["train/fbank_no_cmvn/demo/fold1/seed1337"]["state"] == "skipped"
    assert second["train/apc_960hr/demo/fold1/seed1337"]["state"] == "done"


def test_a_preempted_slurm_job_is_requeued_and_resumes(workdir: Path, cluster):
    """SLURM's preemption/time-limit signal (USR2): the checkpointable job requeues itself and
    resumes its run; the sweep needs no retry (retries: 0)."""
    sweep = slurm_sweep(workdir, "preempt", [{"name": "fbank_no_cmvn"}], conditions=("demo",),
                        folds=[3], epochs=20, retries=0)
    expdir = workdir / "preempt" / "fbank_no_cmvn" / "demo" / "fold3"
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.update(
        code=main(["-m", "sweep", "-c", str(sweep), "--launcher", "slurm"])))
    thread.start()
    try:
        marker = wait_for_checkpoint(expdir)
        job_id = marker["slurm_job_id"]
        cluster.run("scancel", "--signal=USR2", job_id)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # SLURM holds a requeued job ~2 min: release it
            state = cluster.run("squeue", "-h", "-j", job_id, "-o", "%T", check=False).stdout
            if "PENDING" in state:
                cluster.run("scontrol", "update", f"JobId={job_id}", "StartTime=now")
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"job {job_id} was not requeued")
    finally:
        thread.join()
    assert result["code"] == 0
    job = status(workdir / "preempt")["jobs"]["train/fbank_no_cmvn/demo/fold3/seed1337"]
    assert job["state"] == "done" and job["attempts"] == 1  # requeued by SLURM, not resubmitted
    log = Path(job["history"][0]["log"]).read_text() + Path(job["history"][0]["stderr"]).read_text()
    assert "this job is preempted" in log and f"Requeued job {job_id}" in log
    assert "resuming the interrupted run (attempt 2)" in log
