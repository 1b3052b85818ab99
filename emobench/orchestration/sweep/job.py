"""What one sweep job does, in its own process (a local worker or a SLURM job).

``extract``: run its ``-m extract`` command lines, then write a done marker. ``train``: mark the
run folder (``sweep_run.json``: config hash, status, pid, host, attempt), resume from
``last.ckpt`` when the marker shows an interrupted run of the same config (``-a``), else start
afresh; mark it done at the end. ``aggregate``: fold aggregates and the table
(:mod:`emobench.orchestration.sweep.collect`).

:class:`SweepJob` is submitit-checkpointable: a job that SLURM preempts or times out is requeued
with the same payload and resumes from its last epoch. Run by hand::

    python -m emobench.orchestration.sweep.job <job.json>
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import submitit

from emobench.core import io


class JobFailed(RuntimeError):
    """A command of the job exited with an error."""


def _run(argv: list[str]) -> None:
    from emobench.orchestration.cli import main

    print("run_downstream.py " + " ".join(argv), flush=True)
    code = main(argv)
    if code != 0:
        raise JobFailed(f"run_downstream.py {' '.join(argv)} exited with {code}")


def _marker(expdir: Path) -> dict[str, Any]:
    try:
        return json.loads((expdir / "sweep_run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_marker(expdir: Path, payload: dict[str, Any], status: str, attempt: int) -> None:
    io.write_json(expdir / "sweep_run.json", {
        "config_hash": payload["config_hash"], "key": payload["key"], "status": status,
        "attempt": attempt, "pid": os.getpid(), "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "time": time.time()})


def train(payload: dict[str, Any]) -> None:
    from emobench.orchestration.sweep.graph import run_finished

    expdir = Path(payload["expdir"])
    if run_finished(expdir, payload["config_hash"]):
        print(f"{expdir}: finished earlier with the same config; nothing to do", flush=True)
        return
    previous = _marker(expdir)
    same = previous.get("config_hash") == payload["config_hash"]
    resume = same and (expdir / "last.ckpt").is_file()
    attempt = int(previous.get("attempt", 0)) + 1 if same else 1
    expdir.mkdir(parents=True, exist_ok=True)
    _write_marker(expdir, payload, "running", attempt)
    (command,) = payload["commands"]
    if resume:
        print(f"{expdir}: resuming the interrupted run (attempt {attempt})", flush=True)
        command = [*command, "-a"]
    _run(command)
    _write_marker(expdir, payload, "done", attempt)


def extract(payload: dict[str, Any]) -> None:
    from emobench.orchestration.sweep.graph import extract_done_marker

    for command in payload["commands"]:
        _run(command)
    io.write_json(extract_done_marker(Path(payload["sweep_dir"]), payload["key"]),
                  {"key": payload["key"], "config_hash": payload["config_hash"]})


def aggregate(payload: dict[str, Any]) -> None:
    from emobench.orchestration.sweep import collect

    collect.run(Path(payload["sweep_dir"]) / "plan.json")


STAGES = {"extract": extract, "train": train, "aggregate": aggregate}


def run(payload: dict[str, Any]) -> None:
    """Run one job in this process (from its workdir, where relative paths point)."""
    os.chdir(payload["workdir"])
    if payload["workdir"] not in sys.path:
        sys.path.insert(0, payload["workdir"])
    print(f"sweep job {payload['key']} (pid {os.getpid()}, host {socket.gethostname()}, "
          f"SLURM job {os.environ.get('SLURM_JOB_ID', '-')}, "
          f"CUDA_VISIBLE_DEVICES {os.environ.get('CUDA_VISIBLE_DEVICES', '-')})", flush=True)
    STAGES[payload["stage"]](payload)


class SweepJob(submitit.helpers.Checkpointable):
    """The submitit callable: requeued with the same payload on preemption or timeout."""

    def __call__(self, payload: dict[str, Any]) -> str:
        run(payload)
        return payload["key"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m emobench.orchestration.sweep.job <job.json>", file=sys.stderr)
        return 2
    run(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
