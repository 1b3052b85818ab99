"""The paper's tables and figures, built only from results folders.

Every condition-level ``aggregate.json`` (written by ``--folds``, or by a sweep's aggregation)
under a results root is one cell: upstream x condition, the mean over folds of the test macro-F1
(EMO-SUPERB), or for a task without folds the mean +- std over seeds of its main metric and, in
brackets, the value of the seed that is best on validation (ExVo's papers report both). The table has EMO-SUPERB's
Table 2 layout (rows: upstreams with their parameter count; columns: Average, then the
conditions); a cell without results is shown as missing, never filled, and the Average is given
only for complete rows. Figures: per upstream, the layer weights of every condition (averaged over
folds); a radar chart comparing the upstreams across conditions.
"""

from __future__ import annotations

import csv
import io as _io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emobench.core import io, plots
from emobench.core.errors import UserError
from emobench.core.provenance import of_runs
from emobench.downstream import significance

MISSING = "–"
KIND_ORDER = ("upstream", "early fusion", "hybrid")  # the table's sections, as in paper 000


@dataclass
class Table:
    columns: list[str]  # condition labels, in order
    rows: list[str]  # upstream names, in order
    params_m: dict[str, float | None]
    cells: dict[tuple[str, str], tuple[float, float, int]]  # (upstream, column) -> mean, std, runs
    weights: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    best: dict[tuple[str, str], float] = field(default_factory=dict)  # seeds: best on val
    metric: str = "test macro-F1"  # what the cells are
    kinds: dict[str, str] = field(default_factory=dict)  # row -> "early fusion" / "hybrid"
    notes: dict[str, str] = field(default_factory=dict)  # row -> what it is made of

    def average(self, row: str) -> float | None:
        """Mean over the conditions, only when the row has every one of them."""
        values = [self.cells.get((row, c)) for c in self.columns]
        if any(v is None for v in values):
            return None
        return float(np.mean([v[0] for v in values]))


def _label(corpus: str, condition: str | None) -> str:
    """The paper's column name for a known EMO-SUPERB condition, else ``corpus/condition``."""
    try:
        from emobench.corpora import conditions
    except ImportError:  # pragma: no cover - the registry ships with the toolkit
        conditions = None
    if conditions is not None:
        for name in conditions.names():
            spec = conditions.condition(name)
            if spec.corpus == corpus and spec.partition_condition == condition:
                return spec.paper_name
    return f"{corpus}/{condition}" if condition else corpus


def _order(labels: set[str]) -> list[str]:
    try:
        from emobench.corpora import conditions
        paper = [conditions.condition(n).paper_name for n in conditions.names()]
    except ImportError:  # pragma: no cover
        paper = []
    return [p for p in paper if p in labels] + sorted(labels - set(paper))


def collect(root: str | Path, task: str = "emotion") -> list[dict[str, Any]]:
    """Every ``aggregate.json`` of ``task`` under ``root`` (sorted by path)."""
    found = []
    for path in sorted(Path(root).rglob("aggregate.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("task") == task:
            found.append({**data, "path": str(path)})
    return found


class NoResults(UserError):
    """No aggregate to tabulate."""


def build(aggregates: list[dict[str, Any]],
          expected: Sequence[tuple[str, str, str | None]] = ()) -> Table:
    """One cell per (upstream, condition); two aggregates for the same cell are an error.

    ``expected`` (upstream, corpus, condition) cells are rows and columns even without results
    (a sweep's table shows what is missing).
    """
    from emobench.upstream import upstream_info

    cells: dict[tuple[str, str], tuple[float, float, int]] = {}
    weights: dict[tuple[str, str], list[float]] = {}
    where: dict[tuple[str, str], str] = {}
    best: dict[tuple[str, str], float] = {}
    kinds: dict[str, str] = {}
    notes: dict[str, str] = {}
    upstream_of: dict[str, str] = {}
    for a in aggregates:
        row = a.get("row") or a["upstream"]  # a sweep's row: its entry's or hybrid's name
        upstream_of[row] = a["upstream"]
        if a.get("kind", "upstream") != "upstream":
            kinds[row] = a["kind"]
        if a.get("note"):
            notes[row] = a["note"]
        key = (row, _label(a["corpus"], a["condition"]))
        if key in cells:
            raise ValueError(f"two results for {key}: {where[key]} and {a['path']}")
        cells[key] = (a["main"]["mean"], a["main"]["std"], len(a.get("folds") or a["seeds"]))
        where[key] = a["path"]
        if "best" in a["main"]:
            best[key] = a["main"]["best"]
        if a.get("layer_weights"):
            weights[key] = a["layer_weights"]
    columns = _order({c for _, c in cells} | {_label(c, d) for _, c, d in expected})
    upstreams = sorted({u for u, _ in cells} | {u for u, _, _ in expected})
    params = {}
    for u in upstreams:
        try:  # early fusion "a+b": the sum; a hybrid has none
            values = [None] if kinds.get(u) == "hybrid" else [
                upstream_info(n).params_m for n in upstream_of.get(u, u).split("+")]
            params[u] = values[0] if len(values) == 1 else (
                None if None in values else sum(values))
        except Exception:  # an upstream name from another toolkit version, a named row
            params[u] = None
    metric = (f"{aggregates[0]['main']['split']} {aggregates[0]['main']['name']}"
              if aggregates else "test macro-F1")
    table = Table(columns, upstreams, params, cells, weights, best, metric, kinds, notes)
    table.rows = sorted(upstreams, key=lambda u: (KIND_ORDER.index(kinds.get(u, "upstream")),
                                                  table.average(u) is None,
                                                  -(table.average(u) or 0.0), u))
    return table


def _fmt(value: float | None, digits: int = 4) -> str:
    return MISSING if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.{digits}f}"


def _cell(table: Table, key: tuple[str, str]) -> str:
    """The mean; over several seeds ``mean ± std (best)``: the std is shown only where there is
    one (a single seed has none), the best seed's value where the cell has one."""
    found = table.cells.get(key)
    if found is None:
        return MISSING
    text = _fmt(found[0])
    if key in table.best:
        if found[2] > 1:
            text += f" ± {_fmt(found[1])}"
        text += f" ({_fmt(table.best[key])})"
    return text


def _records(table: Table, marked: bool = False) -> list[list[str]]:
    """One list per row; ``marked``: fused and hybrid rows named with their kind."""
    out = []
    for row in table.rows:
        params = table.params_m.get(row)
        name = f"{row} ({table.kinds[row]})" if marked and row in table.kinds else row
        out.append([name, MISSING if params is None else f"{params:g}",
                    _fmt(table.average(row)), *[_cell(table, (row, c)) for c in table.columns]])
    return out


def markdown(table: Table) -> str:
    header = ["upstream", "params (M)", "Average", *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in _records(table, marked=True)]
    note = f"\n{table.metric}"
    if table.best:
        runs = sorted({n for k, (_, _, n) in table.cells.items() if k in table.best})
        note += (f": mean ± sample std over seeds ({'/'.join(map(str, runs))} per cell), in "
                 "brackets the seed best on validation; Average: mean of the cell means")
    else:
        note += ": mean over folds"
    return "\n".join(lines) + "\n" + note + "\n" + _kind_notes(table)


def _kind_notes(table: Table) -> str:
    """A line per fused or hybrid row: what it is made of."""
    lines = []
    for row in table.rows:
        if row in table.kinds:
            what = table.notes.get(row, "")
            if table.kinds[row] == "hybrid":
                what += (" (each target's predictions from that row's run of the same seed and "
                         "condition, -m fuse; nothing trained)")
            lines.append(f"- {row} ({table.kinds[row]}): {what.strip()}")
    return ("\n" + "\n".join(lines) + "\n") if lines else ""


def to_csv(table: Table) -> str:
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["upstream", "params_m", "average", *table.columns])
    for r in _records(table):
        writer.writerow(["" if v == MISSING else v for v in r])
    return buffer.getvalue()


def latex(table: Table) -> str:
    def esc(text: str) -> str:
        return text.replace("_", r"\_").replace("&", r"\&").replace("%", r"\%")

    cols = "l r r " + "r " * len(table.columns)
    lines = [r"\begin{tabular}{" + cols.strip() + "}", r"\toprule",
             " & ".join(["Upstream", "Params (M)", "Average", *map(esc, table.columns)])
             + r" \\", r"\midrule"]
    for r in _records(table, marked=True):
        lines.append(" & ".join(esc(v) if v != MISSING else "--" for v in r) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def layer_weight_figure(table: Table, upstream: str, path: Path) -> Path | None:
    """One curve per condition: the fold-averaged softmax weight of every hidden state."""
    curves = {c: table.weights[(upstream, c)] for c in table.columns
              if (upstream, c) in table.weights}
    if not curves:
        return None
    fig, ax = plots.plt.subplots(figsize=(6, 3.2))
    for condition, weights in curves.items():
        ax.plot(range(len(weights)), weights, marker="o", markersize=3, label=condition)
    ax.set_xticks(range(max(len(w) for w in curves.values())))
    ax.set_xlabel("hidden state (0 = input features)")
    ax.set_ylabel("softmax weight (mean over folds)")
    ax.set_title(f"{upstream}: layer weights per condition")
    ax.legend(fontsize=7, ncol=2)
    return plots.save(fig, path)


def radar(table: Table, path: Path) -> Path | None:
    """Upstreams compared across conditions (missing cells are left out of a polygon)."""
    if len(table.columns) < 3:
        return None  # a radar of fewer than three axes says nothing a table does not
    angles = np.linspace(0, 2 * np.pi, len(table.columns), endpoint=False)
    fig = plots.plt.figure(figsize=(5.5, 5.5))
    ax = fig.add_subplot(projection="polar")
    for row in table.rows:
        values = [table.cells.get((row, c)) for c in table.columns]
        if any(v is None for v in values):
            continue
        closed = [v[0] for v in values] + [values[0][0]]
        ax.plot(list(angles) + [angles[0]], closed, label=row)
    ax.set_xticks(angles)
    ax.set_xticklabels(table.columns, fontsize=8)
    ax.set_title(f"{table.metric} (mean over {'seeds' if table.best else 'folds'})")
    ax.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.35, 1.1))
    return plots.save(fig, path)


def write_report(root: str | Path, out: str | Path, task: str = "emotion",
                 expected: Sequence[tuple[str, str, str | None]] = ()) -> list[Path]:
    """Tables (Markdown, CSV, LaTeX, JSON) and figures of every aggregate under ``root``
    (rows and columns of ``expected`` cells too: see :func:`build`)."""
    aggregates = collect(root, task)
    if not aggregates and not expected:
        raise NoResults(f"no aggregate.json of task {task!r} under {root} (train with "
                        "--folds all to write one per condition)")
    table = build(aggregates, expected)
    marks = significance.table_marks(  # stats: cells' ci and sig_vs_best (docs/statistics.md)
        aggregates, lambda a: (a.get("row") or a["upstream"], _label(a["corpus"], a["condition"])))
    out = Path(out)
    written = [io.write_text(out / "table.md", markdown(table)),
               io.write_text(out / "table.csv", to_csv(table)),
               io.write_text(out / "table.tex", latex(table)),
               io.write_json(out / "table.json", {
                   "columns": table.columns, "rows": table.rows, "params_m": table.params_m,
                   "metric": table.metric,
                   "cells": [{"upstream": u, "condition": c, "mean": m, "std": s, "runs": n,
                              **({"best_seed_value": table.best[(u, c)]}
                                 if (u, c) in table.best else {}), **marks.get((u, c), {})}
                             for (u, c), (m, s, n) in sorted(table.cells.items())],
                   "average": {u: table.average(u) for u in table.rows},
                   "kinds": table.kinds, "notes": table.notes,
                   "sources": [a["path"] for a in aggregates],
                   "provenance": of_runs([a.get("provenance", {}) for a in aggregates],
                                         task=task)})]
    for upstream in table.rows:
        figure = layer_weight_figure(table, upstream, out / f"layer_weights_{upstream}.png")
        if figure is not None:
            written.append(figure)
    figure = radar(table, out / "radar.png")
    if figure is not None:
        written.append(figure)
    return written
