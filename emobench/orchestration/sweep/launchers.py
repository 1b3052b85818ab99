"""Where sweep jobs run: a registry of launchers (``--launcher local|slurm``).

A launcher submits nodes (with their JSON payloads) and reports each job's state as one of
``pending``, ``running``, ``done`` or ``failed``; the engine (:mod:`emobench.orchestration.sweep.engine`) does
the rest (order, retries, skipping). ``local`` runs N worker processes on this machine (with
``local.gpus``: one process per GPU, each seeing only its own GPU); ``slurm`` submits job arrays
through submitit, with ``afterok`` dependencies from training arrays to their extraction jobs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

from emobench.core.registry import Registry
from emobench.orchestration.sweep.graph import Node
from emobench.orchestration.sweep.spec import SweepSpec

LAUNCHERS = Registry("launcher")


@dataclass
class Handle:
    key: str
    id: str  # process id or SLURM job id
    log: str  # where the job's output goes
    job: Any = None  # the launcher's own object (Popen, submitit Job)
    extra: dict[str, Any] = field(default_factory=dict)


class Launcher(Protocol):
    supports_dependencies: bool

    def submit(self, nodes: Sequence[Node], payloads: Sequence[Path],
               after: Sequence[Handle]) -> list[Handle]: ...

    def state(self, handle: Handle) -> str: ...

    def cancel(self, handle: Handle) -> None: ...

    def close(self) -> None: ...


def visible_gpus() -> list[int] | None:
    """Indices of the GPUs this process sees (None when there is none)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return list(range(count)) or None


class LocalLauncher:
    """``workers`` job processes at a time (``python -m emobench.orchestration.sweep.job <payload>``)."""

    supports_dependencies = False

    def __init__(self, spec: SweepSpec, sweep_dir: Path, workdir: Path):
        self.gpus = visible_gpus() if spec.local.gpus == "auto" else spec.local.gpus
        self.slots: list[int | None] = (list(self.gpus) if self.gpus
                                        else [None] * spec.local.workers)
        self.busy: dict[int, Handle] = {}  # slot index -> running handle
        self.queue: list[Handle] = []
        self.logs = sweep_dir / "logs"
        self.workdir = workdir
        self.count = 0

    def submit(self, nodes, payloads, after=()) -> list[Handle]:
        handles = []
        for node, payload in zip(nodes, payloads):
            self.count += 1
            log = self.logs / f"{node.key.replace('/', '__')}.{self.count}.log"
            handle = Handle(node.key, "queued", str(log), extra={"payload": str(payload)})
            self.queue.append(handle)
            handles.append(handle)
        self._start()
        return handles

    def environment(self, slot: int) -> dict[str, str]:
        """The job's environment: with GPUs, only the slot's GPU is visible."""
        env = dict(os.environ)
        gpu = self.slots[slot]
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        return env

    def _start(self) -> None:
        for slot in range(len(self.slots)):
            if slot in self.busy or not self.queue:
                continue
            handle = self.queue.pop(0)
            Path(handle.log).parent.mkdir(parents=True, exist_ok=True)
            with open(handle.log, "ab") as out:
                handle.job = subprocess.Popen(
                    [sys.executable, "-m", "emobench.orchestration.sweep.job", handle.extra["payload"]],
                    stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir,
                    env=self.environment(slot), start_new_session=True)
            handle.id = str(handle.job.pid)
            handle.extra["slot"] = slot
            self.busy[slot] = handle

    def _reap(self) -> None:
        for slot, handle in list(self.busy.items()):
            if handle.job.poll() is not None:
                del self.busy[slot]

    def state(self, handle: Handle) -> str:
        self._reap()
        self._start()
        if handle.job is None:
            return "pending" if handle in self.queue else "failed"
        code = handle.job.poll()
        if code is None:
            return "running"
        handle.extra["exit_code"] = code
        if code != 0:
            handle.extra["error"] = _last_line(handle.log)
        return "done" if code == 0 else "failed"

    def cancel(self, handle: Handle) -> None:
        if handle in self.queue:
            self.queue.remove(handle)
        elif handle.job is not None and handle.job.poll() is None:
            os.killpg(handle.job.pid, signal.SIGTERM)
            try:
                handle.job.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(handle.job.pid, signal.SIGKILL)
                handle.job.wait()
        self._reap()

    def close(self) -> None:
        for handle in list(self.busy.values()):
            self.cancel(handle)


def _last_line(path: str | None) -> str | None:
    """The last non-empty line of a log (a job's error message), if any."""
    try:
        lines = [line for line in Path(path).read_text(errors="replace").splitlines()
                 if line.strip()] if path else []
    except OSError:
        return None
    return lines[-1][-500:] if lines else None


FAILED = ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
          "DEADLINE", "PREEMPTED", "REVOKED")
PENDING = ("PENDING", "REQUEUED", "CONFIGURING", "SUSPENDED", "UNKNOWN", "RESV_DEL_HOLD",
           "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED")


def slurm_state(state: str) -> str:
    """A SLURM job state (as sacct/squeue write it) as the engine's state.

    >>> [slurm_state(s) for s in ("COMPLETED", "CANCELLED by 0", "RUNNING", "PENDING")]
    ['done', 'failed', 'running', 'pending']
    """
    word = state.split()[0] if state else "UNKNOWN"
    if word == "COMPLETED":
        return "done"
    if word in FAILED:
        return "failed"
    if word in ("RUNNING", "COMPLETING"):
        return "running"
    return "pending"


class SlurmLauncher:
    """Job arrays through submitit: one array per submission batch, with ``afterok``
    dependencies and ``--kill-on-invalid-dep``; jobs are checkpointable (requeued on preemption
    or timeout, resuming their run)."""

    supports_dependencies = True

    def __init__(self, spec: SweepSpec, sweep_dir: Path, workdir: Path):
        import submitit  # noqa: F401  (a clear ImportError here, not in the middle of a sweep)

        self.spec = spec
        self.folder = sweep_dir / "slurm"
        self.workdir = workdir
        self.last_update = float("-inf")

    def _executor(self, node: Node, after: Sequence[Handle]):
        import submitit

        res = node.resources
        executor = submitit.SlurmExecutor(folder=self.folder / "%j")
        params: dict[str, Any] = {
            "job_name": f"emobench-{self.spec.name}-{node.stage}", "time": res.time_min,
            "cpus_per_task": res.cpus, "mem": f"{int(res.mem_gb * 1024)}MB",
            "array_parallelism": self.spec.slurm.array_parallelism,
            "additional_parameters": {"chdir": str(self.workdir), **self.spec.slurm.additional},
        }
        if res.gpus:
            params["gpus_per_node"] = res.gpus
        for key in ("partition", "account", "qos"):
            value = getattr(self.spec.slurm, key)
            if value:
                params[key] = value
        if after:
            params["dependency"] = "afterok:" + ":".join(h.id for h in after)
            params["additional_parameters"]["kill-on-invalid-dep"] = "yes"
        executor.update_parameters(**params)
        return executor

    def submit(self, nodes, payloads, after=()) -> list[Handle]:
        import json

        from emobench.orchestration.sweep.job import SweepJob

        executor = self._executor(nodes[0], after)
        data = [json.loads(Path(p).read_text(encoding="utf-8")) for p in payloads]
        if len(nodes) == 1:
            jobs = [executor.submit(SweepJob(), data[0])]
        else:
            with executor.batch():
                jobs = [executor.submit(SweepJob(), d) for d in data]
        return [Handle(n.key, j.job_id, str(j.paths.stdout), job=j,
                       extra={"stderr": str(j.paths.stderr)}) for n, j in zip(nodes, jobs)]

    def state(self, handle: Handle) -> str:
        """From one ``sacct`` call for all jobs per ``slurm.poll_seconds`` (submitit's own
        watcher backs off to minutes between calls for long jobs)."""
        watcher = handle.job.watcher
        if time.monotonic() - self.last_update >= self.spec.slurm.poll_seconds:
            watcher.update()
            self.last_update = time.monotonic()
        raw = watcher.get_state(handle.job.job_id, mode="cache")
        handle.extra["slurm_state"] = raw
        state = slurm_state(raw)
        if state == "failed":
            handle.extra["error"] = _last_line(handle.extra.get("stderr")) or raw
        return state

    def cancel(self, handle: Handle) -> None:
        try:
            handle.job.cancel(check=False)
        except Exception:  # already over
            pass

    def close(self) -> None:
        pass


LAUNCHERS.register("local", LocalLauncher, description="worker processes on this machine")
LAUNCHERS.register("slurm", SlurmLauncher, description="SLURM job arrays through submitit")
