"""``-m compare A B``: the paired bootstrap test of two experiments scored on the same test set
(docs/statistics.md). A and B are run folders, ``--folds`` folders (``fold<k>/``), ``--seeds``
folders (``seed<k>/``) or sweep cells (their ``aggregate.json`` lists the runs); the statistic is
the metric's mean over folds (and seeds), as the aggregate reports it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from emobench.core import io
from emobench.core.errors import UserError
from emobench.downstream import pooled
from emobench.downstream.intervals import FILE, Settings
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def _numbered(folder: Path, prefix: str) -> list[Path]:
    found = [p for p in folder.iterdir() if p.is_dir() and re.fullmatch(prefix + r"\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name[len(prefix):]))


def groups_of(name: str) -> list[list[Path]]:
    """The run folders of an experiment, per fold (each fold's seeds)."""
    folder = next((c for c in (Path(name), runs.RESULTS / "downstream" / name) if c.is_dir()),
                  None)
    if folder is None:
        raise UserError(f"experiment {name!r}: no such folder")
    aggregate = folder / "aggregate.json"
    if aggregate.is_file():
        listed = json.loads(aggregate.read_text(encoding="utf-8")).get("run_folders")
        if listed:
            return [[Path(f) for f in group] for group in listed]
    if (folder / FILE).is_file():
        return [[folder]]
    folds = [f for f in _numbered(folder, "fold") if (f / FILE).is_file()]
    if folds:
        return [[f] for f in folds]
    seeds = [f for f in _numbered(folder, "seed") if (f / FILE).is_file()]
    if seeds:
        return [seeds]
    raise UserError(f"{folder}: no {FILE} in it, in fold<k>/ or seed<k>/ folders, and no "
                    "aggregate.json listing its runs (a run scored before intervals existed "
                    "writes it when re-scored: -m evaluate -e <run>/dev-best.ckpt, then use "
                    "<run>/evaluate_dev-best)")


def compare(a: str, b: str, settings: Settings = Settings(), split: str = "test"
            ) -> dict[str, Any]:
    """The comparison record (JSON) of experiments ``a`` and ``b``."""
    groups_a, groups_b = groups_of(a), groups_of(b)
    first = pooled.load(groups_a, split)
    second = pooled.load(groups_b, split, ids=first.ids())
    return {"a": a, "b": b, "split": split, "folds": len(groups_a),
            "runs": {"a": [[str(p) for p in g] for g in groups_a],
                     "b": [[str(p) for p in g] for g in groups_b]},
            "test": "paired bootstrap (same resamples for A and B), two-sided, H0: no difference",
            "metrics": pooled.compare(first, second, settings)}


def printout(record: dict[str, Any]) -> str:
    """A readable table: metric, A, B, A - B with its interval, p."""
    rows = [("metric", "A", "B", "A - B", "95% CI of A - B", "p")]
    for key, m in record["metrics"].items():
        p = m["p_value"]
        rows.append((key, f"{m['a']:.4f}", f"{m['b']:.4f}", f"{m['difference']:+.4f}",
                     f"[{m['low']:+.4f}, {m['high']:+.4f}]",
                     "nan" if math.isnan(p) else f"{p:.4f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    any_metric = next(iter(record["metrics"].values()), None)
    how = "" if any_metric is None else (
        f"{any_metric['resamples']} resamples of {any_metric['unit']}s "
        f"({any_metric['clusters']} in {record['folds']} fold(s)), seed {any_metric['seed']}")
    return (f"A = {record['a']}\nB = {record['b']}\n{record['split']} split; paired bootstrap, "
            f"{how}\n" + "\n".join(lines) +
            "\np: two-sided, the share of resampled differences at least as far from the "
            "observed one as the observed one is from 0\n")


def run(request: Request) -> int:
    if len(request.experiments) != 2:
        raise UserError(f"-m compare takes two experiment folders A B, got "
                        f"{len(request.experiments)}: {list(request.experiments)}")
    settings = Settings(resamples=request.resamples or Settings.resamples,
                        seed=Settings.seed if request.bootstrap_seed is None
                        else request.bootstrap_seed)
    if settings.resamples < 1:
        raise UserError(f"--resamples must be at least 1, got {settings.resamples}")
    a, b = request.experiments
    record = compare(a, b, settings)
    text = printout(record)
    name = "__vs__".join("-".join(Path(x).absolute().parts[-2:]) for x in (a, b))
    out = Path(request.expdir) if request.expdir else runs.RESULTS / "compare" / name
    io.write_json(out / "compare.json", record)
    io.write_text(out / "compare.txt", text)
    print(text + f"-> {out / 'compare.json'}")
    return 0
