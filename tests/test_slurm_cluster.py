"""The local SLURM cluster (tests/slurm_cluster.py) and submitit against it.

Job functions are stdlib functions: functions defined in a test module do not unpickle in the
job (its process cannot import the test module), so real sweeps keep theirs in the package.
"""

from __future__ import annotations

import math
import operator
import os
import subprocess
import time

import pytest

submitit = pytest.importorskip("submitit")

pytestmark = pytest.mark.slurm


@pytest.fixture
def slurm(slurm_cluster):
    """The session's cluster with SLURM_CONF set in os.environ (submitit calls sbatch/sacct)."""
    with slurm_cluster.activate():
        yield slurm_cluster


@pytest.fixture
def executor(slurm, tmp_path):
    ex = submitit.AutoExecutor(folder=tmp_path / "jobs", cluster="slurm")
    ex.update_parameters(slurm_partition=slurm.partition, timeout_min=5, cpus_per_task=1)
    return ex


# states in which submitit does not count a job as done
UNFINISHED = ("UNKNOWN", "READY", "PENDING", "RUNNING", "REQUEUED", "COMPLETING", "PREEMPTED")


def finished(state):
    return state.upper() not in UNFINISHED


def wait_state(job, accept=finished, timeout=30.0):
    """Poll sacct (forced) until ``accept(job.state)``; return the state. (A result file is
    written before SLURM ends the job: right after result() the state may still be RUNNING.)"""
    end = time.monotonic() + timeout
    while True:
        job.get_info(mode="force")
        state = job.state
        if accept(state):
            return state
        if time.monotonic() > end:
            raise AssertionError(f"job {job.job_id} still {state!r} after {timeout} s")
        time.sleep(0.3)


def test_cluster_is_up(slurm):
    assert slurm.run("sinfo", "-h", "-o", "%T").stdout.strip() == "idle"
    assert slurm.run("sinfo", "-h", "-o", "%P").stdout.strip() == f"{slurm.partition}*"
    assert int(slurm.run("sinfo", "-h", "-o", "%c").stdout) == slurm.cpus == os.cpu_count()
    assert slurm.run_folder.is_dir() and str(slurm.run_folder).startswith("/tmp/")
    assert os.environ["SLURM_CONF"] == str(slurm.conf) == slurm.env["SLURM_CONF"]
    clusters = slurm.run("sacctmgr", "-n", "-P", "list", "cluster", "format=cluster").stdout
    assert slurm.cluster_name in clusters.split()


def test_single_job(executor):
    job = executor.submit(operator.add, 2, 3)
    assert job.result() == 5
    assert wait_state(job) == "COMPLETED"
    assert job.paths.stdout.exists()


def test_array(executor):
    jobs = executor.map_array(math.sqrt, [1, 4, 9])
    assert [job.result() for job in jobs] == [1.0, 2.0, 3.0]
    main_ids = {job.job_id.split("_")[0] for job in jobs}
    assert len(main_ids) == 1 and all("_" in job.job_id for job in jobs)


def test_dependency(executor):
    # the first job sleeps 1 s and returns the time it ended; the second the time it started
    first = executor.submit(subprocess.check_output, ["sh", "-c", "sleep 1; date +%s.%N"])
    executor.update_parameters(slurm_additional_parameters={"dependency": f"afterok:{first.job_id}"})
    second = executor.submit(time.time)
    assert second.result() >= float(first.result())
    assert wait_state(second) == "COMPLETED"


def test_failing_job(executor):
    job = executor.submit(subprocess.check_call, ["false"])
    assert wait_state(job) == "FAILED"
    error = job.exception()
    assert error is not None and "CalledProcessError" in str(error)
    assert job.paths.stderr.exists()
    with pytest.raises(submitit.core.utils.FailedJobError):
        job.result()


def test_cancelled_job(executor):
    job = executor.submit(time.sleep, 60)
    wait_state(job, lambda s: s == "RUNNING")
    job.cancel()
    state = wait_state(job, lambda s: s.startswith("CANCELLED"), timeout=20)
    assert state.startswith("CANCELLED")  # "CANCELLED by 0"
    assert job.done()
    # without sacct a cancelled job never counts as done and result() would hang; submitit
    # then waits _results_timeout_s (15 s) for a result file a cancelled job never writes
    job._results_timeout_s = 1
    error = job.exception()
    assert isinstance(error, submitit.core.utils.UncompletedJobError)
    assert "CANCELLED" in str(error)


def test_failed_start_stops_everything(slurm_cluster):
    """A start that fails half-way (all five daemons up) stops them and removes its folder;
    it runs beside the session's cluster on other ports."""
    from slurm_cluster import LocalSlurm, _alive

    class Broken(LocalSlurm):
        def _idle(self):
            self.seen = (self.run_folder, self.port, {n: p.pid for n, p in self._procs.items()})
            raise RuntimeError("injected failure")

    broken = Broken()
    with pytest.raises(RuntimeError, match="injected failure"):
        broken.start()
    run_folder, port, pids = broken.seen
    assert sorted(pids) == ["mariadbd", "munged", "slurmctld", "slurmd", "slurmdbd"]
    assert not any(_alive(pid) for pid in pids.values())
    assert not run_folder.exists() and broken.run_folder is None
    assert port != slurm_cluster.port
    # the session's cluster still works (its node may be finishing a previous test's job)
    deadline = time.monotonic() + 60
    while slurm_cluster.run("sinfo", "-h", "-o", "%T").stdout.strip() != "idle":
        assert time.monotonic() < deadline, "the session's cluster never became idle again"
        time.sleep(0.2)
