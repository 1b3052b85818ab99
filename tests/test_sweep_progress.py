"""The sweep's live one-line summary (emobench/orchestration/sweep/progress.py) and the engine
printing it while jobs move from queued to running to done."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

from emobench.orchestration.sweep.engine import Engine
from emobench.orchestration.sweep.launchers import Handle
from emobench.orchestration.sweep.progress import Progress, counts


def test_one_line_per_change_off_a_terminal_and_in_place_on_one():
    out = io.StringIO()
    shown = Progress("t", out)
    shown.update({"queued": 2, "running": 1, "done": 0, "failed": 0})
    shown.update({"queued": 2, "running": 1, "done": 0, "failed": 0})  # no change: no line
    shown.update({"queued": 1, "running": 1, "done": 1, "failed": 0})
    lines = out.getvalue().splitlines()
    assert lines[0] == "sweep t: 2 queued / 1 running / 0 done / 0 failed; ETA ?"
    assert len(lines) == 2 and lines[1].startswith("sweep t: 1 queued / 1 running / 1 done / "
                                                   "0 failed; ETA ")
    assert "ETA ?" not in lines[1]

    tty = io.StringIO()
    tty.isatty = lambda: True
    shown = Progress("t", tty)
    shown.update({"queued": 0, "running": 1, "done": 0, "failed": 0})
    shown.update({"queued": 0, "running": 0, "done": 1, "failed": 0}, final=True)
    assert tty.getvalue().startswith("\r\033[K") and tty.getvalue().count("\n") == 1


class _Launcher:
    """Runs every job in two polls: queued -> running -> done."""
    supports_dependencies = False

    def __init__(self):
        self.polls: dict[str, int] = {}

    def submit(self, nodes, payloads, after=()):
        return [Handle(n.key, n.key, f"{n.key}.log") for n in nodes]

    def state(self, handle):
        self.polls[handle.key] = self.polls.get(handle.key, 0) + 1
        handle.job = object()
        return "running" if self.polls[handle.key] < 2 else "done"

    def close(self):
        pass


def test_the_engine_prints_the_summary_as_jobs_finish(tmp_path: Path):
    def node(key, deps, after="ok"):
        return SimpleNamespace(key=key, deps=deps, after=after, stage=key.split("/")[0],
                               expdir=str(tmp_path / key), config_hash="h",
                               payload=lambda workdir, sweep_dir: {})

    nodes = {k: node(k, d, a) for k, d, a in (("train/a", [], "ok"), ("train/b", [], "ok"),
                                              ("aggregate", ["train/a", "train/b"], "any"))}
    plan = SimpleNamespace(nodes=nodes, spec=SimpleNamespace(retries=0, name="t"),
                           sweep_dir=tmp_path / ".sweep", output=tmp_path, workdir=tmp_path)
    engine = Engine(plan, _Launcher(), poll_seconds=0.0, log=lambda *args: None)
    engine.progress_stream = out = io.StringIO()
    status = engine.run()
    assert status["counts"] == {"done": 3}
    lines = out.getvalue().splitlines()
    assert lines[0] == "sweep t: 1 queued / 2 running / 0 done / 0 failed; ETA ?"
    assert lines[-1].startswith("sweep t: 0 queued / 0 running / 3 done / 0 failed; ETA 0s")


def test_counts_group_the_engine_states():
    states = {"a": "waiting", "b": "submitted", "c": "submitted", "d": "done", "e": "blocked"}
    assert counts(states, {"b": SimpleNamespace(job=None), "c": SimpleNamespace(job=1)}) == \
        {"queued": 2, "running": 1, "done": 1, "failed": 1}
