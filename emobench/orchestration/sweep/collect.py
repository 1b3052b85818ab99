"""The sweep's aggregation job: one ``aggregate.json`` per complete cell, then the table.

A cell (row x condition; a row is an upstream entry or a hybrid) is aggregated only when every
one of its runs (folds x seeds) is finished; otherwise a stale ``aggregate.json`` of the cell is
removed and the table shows the cell as missing. With several seeds, each fold's metrics (and
per-class scores, layer weights) are first averaged over the seeds. The table, figures and
``cells.json`` (status of every cell and run) go to ``<output>/report/``, and for tasks without
folds ``metrics.md``: every metric of every cell
(:mod:`emobench.orchestration.sweep.metrics_table`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from emobench.core import aggregate, io, seeds
from emobench.core.experiment import LOG, setup_logging
from emobench.downstream import pooled
from emobench.orchestration.sweep import metrics_table


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _seed_mean(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One scores dict whose metrics and per-class scores are the means over ``runs``."""
    if len(runs) == 1:
        return runs[0]
    mean, _ = aggregate.mean_std(dict(enumerate(r["metrics"] for r in runs)))
    per_class = {kind: {split: {name: float(np.mean([r["per_class"][kind][split][name]
                                                     for r in runs]))
                                for name in classes}
                        for split, classes in splits.items()}
                 for kind, splits in runs[0].get("per_class", {}).items()}
    return {**runs[0], "metrics": mean, "per_class": per_class}


def _weights(expdir: Path) -> list[float] | None:
    data = _read(expdir / "layer_weights.json")  # early fusion: one entry per upstream, none here
    return data.get("weights") if data else None


def _row(cell: dict[str, Any]) -> dict[str, Any]:
    """The sweep's table row of the cell (its upstream entry or hybrid), its kind and note."""
    return {"row": cell["upstream"], "kind": cell.get("kind", "upstream"),
            **({"note": cell["note"]} if cell.get("note") else {})}


def cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Aggregate one cell if complete; its status either way."""
    folder = Path(cell["folder"])
    target = folder / "aggregate.json"
    scores = {}
    missing = []
    for run in cell["runs"]:
        found = _read(Path(run["expdir"]) / "scores.json")
        marker = _read(Path(run["expdir"]) / "sweep_run.json") or {}
        if found is None or marker.get("status") != "done":
            missing.append(run["key"])
        else:
            scores[run["key"]] = found
    status = {"upstream": cell["upstream"], "condition": cell["condition"],
              "runs": len(cell["runs"]), "finished": len(scores), "missing": missing}
    if missing:
        if target.is_file():
            target.unlink()
        status["status"] = "missing"
        return status
    folds = sorted({r["fold"] for r in cell["runs"]}, key=lambda f: (f is None, f))
    if folds == [None]:  # a task without folds: mean +- std over seeds, the best on val
        per_seed = {r["seed"]: scores[r["key"]] for r in cell["runs"]}
        found = {r["seed"]: _weights(Path(r["expdir"])) for r in cell["runs"]}
        summary = seeds.cell(per_seed, {s: w for s, w in found.items() if w is not None})
        pooled.attach(summary, [[Path(r["expdir"]) for r in cell["runs"]]])  # ci, provenance
        io.write_json(target, {**summary, **_row(cell)})
        status.update(status="done", aggregate=str(target), main=summary["main"])
        status["scores"] = {r["key"]: scores[r["key"]].get("metrics") for r in cell["runs"]}
        return status
    results, weights = {}, {}
    for fold in folds:
        runs = [r for r in cell["runs"] if r["fold"] == fold]
        results[fold] = _seed_mean([scores[r["key"]] for r in runs])
        per_seed = [_weights(Path(r["expdir"])) for r in runs]
        if all(w is not None for w in per_seed):
            weights[fold] = np.mean(per_seed, axis=0).tolist()
    summary = aggregate.folds(results, weights if len(weights) == len(results) else None)
    pooled.attach(summary, [[Path(r["expdir"]) for r in cell["runs"] if r["fold"] == fold]
                            for fold in folds])  # ci, provenance
    summary["seeds"] = sorted({r["seed"] for r in cell["runs"]})
    io.write_json(target, {**summary, **_row(cell)})
    status.update(status="done", aggregate=str(target), main=summary["main"])
    return status


def run(plan_file: str | Path) -> dict[str, Any]:
    """Aggregate every cell of the plan and write the report; returns the cells' status."""
    from emobench.orchestration import tables

    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    output = Path(plan["output"])
    report = output / "report"
    setup_logging(None)
    statuses = [cell(c) for c in plan["cells"]]
    expected = {}
    for c in plan["cells"]:
        expected.setdefault(c["task"], []).append((c["upstream"], c["corpus"], c["label"]))
    written: list[str] = []
    for task, cells in expected.items():
        if tables.collect(output, task) or task == "emotion":  # others: when any finished
            try:
                written += [str(p) for p in tables.write_report(output, report, task,
                                                                expected=cells)]
            except tables.NoResults as exc:
                LOG.warning("%s", exc)
    found = [json.loads(Path(s["aggregate"]).read_text(encoding="utf-8"))
             for s in statuses if s.get("aggregate")]
    rows = dict.fromkeys(c["upstream"] for c in plan["cells"])
    conditions = dict.fromkeys(c["condition"] for c in plan["cells"])
    cells = {(c["upstream"], c["condition"]) for c in plan["cells"]}
    table = metrics_table.write(report, found, [(r, c) for r in rows for c in conditions
                                                if (r, c) in cells])
    written += [str(table)] if table else []
    result = {"cells": statuses, "report": written,
              "complete": all(s["status"] == "done" for s in statuses)}
    io.write_json(report / "cells.json", result)
    done = sum(s["status"] == "done" for s in statuses)
    LOG.info("aggregated %d of %d cells -> %s", done, len(statuses), report)
    return result
