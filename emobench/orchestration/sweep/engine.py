"""Run a sweep's job graph on a launcher: skip what is finished, submit in dependency order,
retry failed or killed jobs (they resume), and report every failure with its log.

Job states: ``skipped`` (finished earlier with the same config), ``waiting``, ``submitted``,
``done``, ``failed`` (after ``retries`` resubmissions; its log paths are reported) and
``blocked`` (an extraction it needs failed). The aggregation job runs when every training job is
over, whatever their outcome, so the table shows failed cells as missing. The status of every
job goes to ``<output>/.sweep/status.json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from emobench.core import io
from emobench.core.experiment import LOG
from emobench.orchestration.sweep.graph import Plan, extraction_finished, run_finished
from emobench.orchestration.sweep.launchers import Handle, Launcher
from emobench.orchestration.sweep.progress import Progress, counts

FINAL = ("done", "skipped", "failed", "blocked")
OK = ("done", "skipped")


class Engine:
    def __init__(self, plan: Plan, launcher: Launcher, retries: int | None = None,
                 poll_seconds: float = 0.5, log: Callable[..., None] = LOG.info):
        self.plan = plan
        self.launcher = launcher
        self.retries = plan.spec.retries if retries is None else retries
        self.poll = poll_seconds
        self.log = log
        self.progress_stream = None  # the live summary line's stream (None: stderr)
        self.state: dict[str, str] = {k: "waiting" for k in plan.nodes}
        self.attempts: dict[str, int] = {k: 0 for k in plan.nodes}
        self.handles: dict[str, Handle] = {}
        self.history: dict[str, list[dict[str, Any]]] = {k: [] for k in plan.nodes}
        self.dependents: dict[str, list[str]] = {k: [] for k in plan.nodes}
        for key, node in plan.nodes.items():
            for dep in node.deps:
                self.dependents[dep].append(key)

    # -- set-up ---------------------------------------------------------------------------
    def mark_finished(self) -> dict[str, int]:
        """Skip finished training runs, and extractions nobody needs or that finished."""
        for key, node in self.plan.nodes.items():
            if node.stage == "train" and run_finished(node.expdir, node.config_hash):
                self.state[key] = "skipped"
        for key, node in self.plan.nodes.items():
            if node.stage != "extract":
                continue
            needed = [d for d in self.dependents[key] if self.state[d] != "skipped"]
            if not needed or extraction_finished(self.plan.sweep_dir, node):
                self.state[key] = "skipped"
        counts: dict[str, int] = {}
        for key, node in self.plan.nodes.items():
            if self.state[key] == "skipped":
                counts[node.stage] = counts.get(node.stage, 0) + 1
        return counts

    def _payload(self, key: str) -> Path:
        node = self.plan.nodes[key]
        path = self.plan.sweep_dir / "jobs" / (key.replace("/", "__") + ".json")
        io.write_json(path, node.payload(self.plan.workdir, self.plan.sweep_dir))
        return path

    # -- the loop -------------------------------------------------------------------------
    def _ready(self, key: str) -> tuple[bool, list[Handle]]:
        """Whether the node can be submitted now, and the handles it must wait for."""
        node = self.plan.nodes[key]
        states = [self.state[d] for d in node.deps]
        if node.after == "any":
            return all(s in FINAL for s in states), []
        if all(s in OK for s in states):
            return True, []
        if self.launcher.supports_dependencies and all(s in OK + ("submitted",) for s in states):
            return True, [self.handles[d] for d in node.deps if self.state[d] == "submitted"]
        return False, []

    def _block(self, key: str, reason: str) -> None:
        for dep in self.dependents[key]:
            if self.plan.nodes[dep].after == "any":  # the aggregation runs anyway
                continue
            if self.state[dep] == "submitted":
                self.launcher.cancel(self.handles[dep])
            if self.state[dep] in ("waiting", "submitted"):
                self.state[dep] = "blocked"
                self.history[dep].append({"blocked_by": key, "reason": reason})
                self._block(dep, reason)

    def _submit_ready(self) -> None:
        batches: dict[tuple[str, tuple[str, ...]], tuple[list[str], list[Handle]]] = {}
        for key, node in self.plan.nodes.items():
            if self.state[key] != "waiting":
                continue
            if node.after == "ok" and any(self.state[d] in ("failed", "blocked")
                                          for d in node.deps):
                self.state[key] = "blocked"
                continue
            ready, after = self._ready(key)
            if ready:
                group = (node.stage, tuple(sorted(h.id for h in after)))
                batches.setdefault(group, ([], after))[0].append(key)
        for (stage, _), (keys, after) in batches.items():
            nodes = [self.plan.nodes[k] for k in keys]
            payloads = [self._payload(k) for k in keys]
            for key, handle in zip(keys, self.launcher.submit(nodes, payloads, after)):
                self.state[key] = "submitted"
                self.attempts[key] += 1
                self.handles[key] = handle
                self.history[key].append({"attempt": self.attempts[key], "id": handle.id,
                                          "log": handle.log, **{k: v for k, v in
                                                                handle.extra.items()
                                                                if k == "stderr"}})
            self.log("submitted %d %s job%s%s", len(keys), stage, "s" * (len(keys) > 1),
                     f" after {len(after)} job(s)" if after else "")

    def _poll(self) -> None:
        for key in [k for k, s in self.state.items() if s == "submitted"]:
            if self.state[key] != "submitted":  # blocked by a dependency earlier in this poll
                continue
            handle = self.handles[key]
            state = self.launcher.state(handle)
            if state not in ("done", "failed"):
                continue
            node = self.plan.nodes[key]
            if state == "failed" and node.after == "ok" and any(
                    self.state[d] == "submitted" for d in node.deps):
                # an afterok job cannot have run before its dependencies ended: SLURM reported
                # its cancel (kill-on-invalid-dep) before their end; decided when they end
                continue
            failed_deps = [d for d in node.deps if self.state[d] in ("failed", "blocked")]
            if state == "failed" and node.after == "ok" and failed_deps:
                # SLURM ended it for its dependency (kill-on-invalid-dep): blocked, not failed
                self.state[key] = "blocked"
                self.history[key].append({"blocked_by": failed_deps[0],
                                          "reason": f"{failed_deps[0]} failed"})
                self._block(key, f"{failed_deps[0]} failed")
                continue
            self.history[key][-1].update(state=state, **{k: v for k, v in handle.extra.items()
                                                         if k in ("exit_code", "error", "slurm_state")})
            if state == "done":
                self.state[key] = "done"
                continue
            if self.attempts[key] <= self.retries:
                self.log("%s failed (attempt %d, log %s): resubmitting", key,
                         self.attempts[key], handle.log)
                for dep in self.dependents[key]:  # waiting on the failed job id: resubmit later
                    if self.state[dep] == "submitted":
                        self.launcher.cancel(self.handles[dep])
                        self.attempts[dep] -= 1
                        self.history[dep].append({"cancelled": "its dependency is retried"})
                        self.state[dep] = "waiting"
                self.state[key] = "waiting"
            else:
                self.state[key] = "failed"
                LOG.error("%s failed after %d attempt(s); log: %s", key, self.attempts[key],
                          handle.log)
                self._block(key, f"{key} failed")

    def run(self) -> dict[str, Any]:
        skipped = self.mark_finished()
        total = len(self.plan.nodes)
        self.log("sweep %s: %d jobs; skipped as finished: %s", self.plan.spec.name, total,
                 skipped or "none")
        shown = Progress(self.plan.spec.name, self.progress_stream)
        try:
            while any(s in ("waiting", "submitted") for s in self.state.values()):
                self._submit_ready()
                self._poll()
                self.write_status()
                shown.update(counts(self.state, self.handles))
                if any(s == "submitted" for s in self.state.values()):
                    time.sleep(self.poll)
        finally:
            if any(s in ("waiting", "submitted") for s in self.state.values()):
                self.launcher.close()  # interrupted: stop what runs here (SLURM jobs go on)
            status = self.write_status()
            shown.update(counts(self.state, self.handles), final=True)
        return status

    def write_status(self) -> dict[str, Any]:
        jobs = {k: {"stage": n.stage, "state": self.state[k], "attempts": self.attempts[k],
                    "expdir": n.expdir, "history": self.history[k]}
                for k, n in self.plan.nodes.items()}
        failed = {k: [h.get("log") for h in self.history[k] if h.get("log")]
                  for k in jobs if self.state[k] == "failed"}
        counts: dict[str, int] = {}
        for value in self.state.values():
            counts[value] = counts.get(value, 0) + 1
        status = {"name": self.plan.spec.name, "counts": counts, "failed": failed,
                  "blocked": sorted(k for k in jobs if self.state[k] == "blocked"),
                  "report": str(self.plan.output / "report"), "jobs": jobs}
        io.write_json(self.plan.sweep_dir / "status.json", status)
        return status
