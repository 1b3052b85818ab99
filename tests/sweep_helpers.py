"""Shared by the sweep tests: sweep files on the demo corpus and the same runs one by one."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from emobench.orchestration import tables
from emobench.orchestration.cli import main
from emobench.core.resources import CHECKOUT as REPO_ROOT

CONDITIONS = {
    "demo": str(REPO_ROOT / "configs" / "emotion" / "demo.yaml"),
    "demo_arousal": str(REPO_ROOT / "configs" / "emotion" / "demo_arousal.yaml"),
}


def write_sweep(path: Path, name: str, upstreams: list[Any], conditions=tuple(CONDITIONS),
                folds: Any = "all", epochs: int = 2, **extra: Any) -> Path:
    data = {"name": name, "output": str(path.parent / name), "upstreams": upstreams,
            "conditions": [{"name": c, "config": CONDITIONS[c], "demo": True}
                           for c in conditions],
            "folds": folds, "overrides": [f"train.epochs={epochs}"], **extra}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def one_by_one(root: Path, upstreams: list[dict[str, Any]], conditions=tuple(CONDITIONS),
               folds: str = "all", epochs: int = 2, own_cache: bool = True) -> dict[str, Any]:
    """The same runs with ``--folds`` in this process (with ``own_cache``: extracting into
    their own feature cache; else reading the one the sweep filled); the table."""
    for up in upstreams:
        for condition in conditions:
            argv = ["-m", "train", "-u", up["name"], "-d", "emotion", "-c", CONDITIONS[condition],
                    "--demo", "--folds", folds, "-p", str(root / up["name"] / condition),
                    "-o", f"train.epochs={epochs}"]
            if own_cache:
                argv += ["-o", f"data.cache_dir={root / 'cache'}"]
            if up.get("ckpt"):
                argv += ["-k", up["ckpt"]]
            assert main(argv) == 0, argv
    tables.write_report(root, root / "report")
    return json.loads((root / "report" / "table.json").read_text())


def cells(table: dict[str, Any]) -> dict[tuple[str, str], tuple[float, float, int]]:
    return {(c["upstream"], c["condition"]): (c["mean"], c["std"], c["runs"])
            for c in table["cells"]}


def status(output: Path) -> dict[str, Any]:
    return json.loads((output / ".sweep" / "status.json").read_text())


def wait_for_checkpoint(expdir: Path, timeout: float = 300.0) -> dict[str, Any]:
    """The ``sweep_run.json`` of ``expdir`` once its job runs and has saved a checkpoint."""
    deadline = time.monotonic() + timeout
    marker = expdir / "sweep_run.json"
    while time.monotonic() < deadline:
        if marker.is_file() and (expdir / "last.ckpt").is_file():
            try:
                data = json.loads(marker.read_text())
            except ValueError:
                data = {}
            if data.get("status") == "running":
                return data
        time.sleep(0.02)
    raise TimeoutError(f"{expdir} never had a running job with a checkpoint")


def kill_when_running(expdir: Path, timeout: float = 300.0) -> int:
    """SIGKILL the training process of ``expdir`` once it has saved a checkpoint; its pid."""
    pid = int(wait_for_checkpoint(expdir, timeout)["pid"])
    os.kill(pid, signal.SIGKILL)
    return pid


def sweep_killing_one_run(sweep: Path, expdir: Path, *extra: str) -> dict[str, Any]:
    """Run the sweep while SIGKILLing the training process of ``expdir`` mid-run (after its first
    checkpoint); asserts the sweep still succeeds and returns that run's job status."""
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.update(
        code=main(["-m", "sweep", "-c", str(sweep), *extra])))
    thread.start()
    try:
        kill_when_running(expdir)
    finally:
        thread.join()
    assert result["code"] == 0
    output = Path(yaml.safe_load(sweep.read_text())["output"])
    key = "/".join(["train", *expdir.relative_to(output).parts, "seed1337"])
    job = status(output)["jobs"][key]
    assert job["state"] == "done" and job["attempts"] == 2
    assert "resuming the interrupted run (attempt 2)" in Path(job["history"][1]["log"]).read_text()
    return job
