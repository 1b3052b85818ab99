"""Which rows of a table are significantly worse than its best row (docs/statistics.md).

Per column (condition), the best row by its fold-mean metric is compared with every other row
by the paired bootstrap test (downstream/pooled.py: the same resamples of the same test
utterances); the p-values of a column are Holm-corrected together (family-wise error ``alpha``
over the column's comparisons), and a row is marked worse when its adjusted p is <= ``alpha``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

from emobench.core.bootstrap import holm
from emobench.core.errors import UserError
from emobench.core.experiment import LOG
from emobench.downstream.intervals import Settings
from emobench.downstream.pooled import Pooled, compare, fold_mean_values, load

ALPHA = 0.05


def marks_vs_best(systems: dict[str, Pooled], metric: str, higher_is_better: bool = True,
                  settings: Settings = Settings(), alpha: float = ALPHA) -> dict[str, Any]:
    """``{row: {"best", "worse", "p_value", "p_holm", "difference"}}`` for rows scored on the
    same test utterances (each ``Pooled`` aligned to the same ids); ``difference`` is best - row
    (row - best for a lower-is-better metric: positive means the row is worse)."""
    observed = {r: float(fold_mean_values(p, settings, observed=True)[metric][0])
                for r, p in systems.items()}
    sign = 1.0 if higher_is_better else -1.0
    best = max(observed, key=lambda r: sign * observed[r])
    others = [r for r in systems if r != best]
    tests = {r: compare(systems[best], systems[r], settings)[metric] for r in others}
    adjusted, rejected = holm([tests[r]["p_value"] for r in others], alpha)
    out: dict[str, Any] = {best: {"best": True, "worse": False, "value": observed[best]}}
    for r, p, worse in zip(others, adjusted, rejected):
        out[r] = {"best": False, "worse": worse, "value": observed[r],
                  "difference": sign * tests[r]["difference"], "p_value": tests[r]["p_value"],
                  "p_holm": p, "alpha": alpha, "test": "paired bootstrap vs the best row, Holm"}
    return out


def table_marks(aggregates: Sequence[dict[str, Any]],
                key: Callable[[dict[str, Any]], tuple[Hashable, Hashable]],
                settings: Settings = Settings(), alpha: float = ALPHA) -> dict[tuple, dict]:
    """For every cell ``key(aggregate) = (row, column)``: ``ci`` (the aggregate's interval of
    its main metric) and ``sig_vs_best`` (:func:`marks_vs_best` within the column, over the
    cells whose runs are listed and share the best's test set); cells that cannot be compared
    get a ``sig_vs_best`` with the reason instead."""
    out: dict[tuple, dict] = {}
    columns: dict[Hashable, list[dict[str, Any]]] = {}
    for a in aggregates:
        cell = out.setdefault(key(a), {})
        if a.get("main", {}).get("ci"):
            cell["ci"] = a["main"]["ci"]
        columns.setdefault(key(a)[1], []).append(a)
    for column, cells in columns.items():
        loaded: dict[Hashable, Pooled] = {}
        reference = None
        higher = cells[0]["main"].get("higher_is_better", True)
        ranked = sorted(cells, key=lambda a: -a["main"]["mean"] * (1 if higher else -1))
        for a in ranked:
            row = key(a)[0]
            try:
                if not a.get("run_folders"):
                    raise UserError("the aggregate lists no run folders")
                groups = [[Path(f) for f in g] for g in a["run_folders"]]
                pooled = load(groups, a["main"]["split"], ids=reference)
            except UserError as exc:
                out[key(a)]["sig_vs_best"] = {"worse": None, "reason": str(exc)}
                continue
            reference = reference or pooled.ids()
            loaded[row] = pooled
        if len(loaded) < 2:
            continue
        metric = cells[0]["main"]["name"]
        try:
            marks = marks_vs_best(loaded, metric, higher, settings, alpha)
        except (UserError, KeyError) as exc:
            LOG.warning("no significance marks for column %s: %s", column, exc)
            continue
        for row, mark in marks.items():
            out[(row, column)]["sig_vs_best"] = mark
    return out
