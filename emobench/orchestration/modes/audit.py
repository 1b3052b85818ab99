"""``-m audit``: leakage audit of every fold of an emotion label folder (exit 1 when leaky)."""

from __future__ import annotations

import sys
from pathlib import Path

from emobench.core import io
from emobench.core.errors import UserError
from emobench.core.experiment import setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def run(request: Request) -> int:
    from emobench.downstream.emotion.audit import audit, partition_spec, summary

    name, module = runs.task(request.downstream or "emotion")
    if name != "emotion":
        raise UserError(f"-m audit audits EMO-SUPERB label folders (-d emotion), not -d {name}")
    config = runs.resolve_config(request, name, module)
    module.check_data(config)
    setup_logging(None, request.verbose)
    data = config.data
    spec = partition_spec(data.partition) if data.partition else None
    report = audit(data.label_dir, data.audio_root, folds=None, partition=spec)
    out = Path(request.expdir) if request.expdir else runs.RESULTS / "audit"
    path = io.write_json(out / f"{Path(data.label_dir).resolve().name}_audit.json", report)
    print(summary(report))
    print(f"audit written to {path}")
    if report["leaky"]:
        print(f"leakage found in {data.label_dir}: see the problems above", file=sys.stderr)
    return 1 if report["leaky"] else 0
