"""``-m audit``: leakage audit of every fold of an emotion label folder (exit 1 when leaky).

``data.audio_root`` is optional: without it the label files alone are audited (audio checks
skipped, and said so). The report is named ``<corpus>_<condition>_audit.json`` and never
overwrites the report of another label folder (docs/robustness.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from emobench.core import io
from emobench.core.errors import UserError
from emobench.core.experiment import setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def report_path(folder: Path, corpus: str, condition: str, label_dir: str) -> Path:
    """``folder/<corpus>_<condition>_audit.json``; ``_2``, ``_3`` ... when that name holds the
    audit of another label folder."""
    stem, number = f"{corpus}_{condition}_audit", 1
    while True:
        path = folder / (stem + (f"_{number}" if number > 1 else "") + ".json")
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))["label_dir"]
        except (OSError, ValueError, KeyError, TypeError):
            return path
        if previous == label_dir:
            return path
        number += 1


def run(request: Request) -> int:
    from emobench.downstream import common
    from emobench.downstream.emotion.audit import audit, partition_spec, summary
    from emobench.downstream.emotion.evaluation import names

    name, module = runs.task(request.downstream or "emotion")
    if name != "emotion":
        raise UserError(f"-m audit audits EMO-SUPERB label folders (-d emotion), not -d {name}")
    config = runs.resolve_config(request, name, module)
    common.require_paths(config.data, ("label_dir",))
    setup_logging(None, request.verbose)
    data = config.data
    spec = partition_spec(data.partition) if data.partition else None
    report = audit(data.label_dir, data.audio_root, folds=None, partition=spec,
                   speakerless=data.speakerless)
    out = Path(request.expdir) if request.expdir else runs.RESULTS / "audit"
    label_dir = str(Path(data.label_dir))
    path = io.write_json(report_path(out, *names(config), report["label_dir"]), report)
    print(summary(report))
    print(f"audit written to {path}")
    if report["leaky"]:
        print(f"leakage found in {label_dir}: see the problems above", file=sys.stderr)
    return 1 if report["leaky"] else 0
