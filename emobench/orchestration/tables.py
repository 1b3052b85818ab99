"""The paper's tables and figures, built only from results folders.

Every condition-level ``aggregate.json`` (written by ``--folds``, or by a sweep's aggregation)
under a results root is one cell: upstream x condition, the mean over folds of the test macro-F1
(EMO-SUPERB), or for a task without folds the mean +- std over seeds of its main metric and, in
brackets, the value of the seed that is best on validation (ExVo's papers report both). The
table has EMO-SUPERB's Table 2 layout (rows: upstreams with their checkpoint and parameter
count; columns: Average, then the conditions). A cell shows its number of folds (x seeds) and
is marked ``partial`` when it has fewer than its condition has (or fewer seeds than the others:
:mod:`.leaderboard.cells`); a cell without results is shown as missing, never filled, and the
Average is given only for rows whose every cell is complete. Rows are identified by upstream
and checkpoint hash, tiny checkpoints flagged (:mod:`.leaderboard.identity`). Figures:
:mod:`.leaderboard.figures`; the HTML site: :mod:`.leaderboard.site`.
"""

from __future__ import annotations

import csv
import io as _io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emobench.core import io
from emobench.core.errors import UserError
from emobench.core.provenance import of_runs
from emobench.downstream import significance
from emobench.orchestration.leaderboard import identity
from emobench.orchestration.leaderboard.captions import as_json, caption
from emobench.orchestration.leaderboard.cells import MISSING, Cell, fmt, from_aggregate

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
    status: dict[tuple[str, str], Cell] = field(default_factory=dict)  # counts, partial, ci, mark
    checkpoints: dict[str, identity.Checkpoint] = field(default_factory=dict)  # row -> identity
    runs: dict[tuple[str, str], list[Path]] = field(default_factory=dict)  # run folders
    sources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # aggregates
    legends: list[str] = field(default_factory=list)  # significance marks' legends
    messages: list[str] = field(default_factory=list)  # figures not drawn, and why

    def cell(self, key: tuple[str, str]) -> Cell | None:
        """The cell's full status (a table built by hand has only mean, std, runs)."""
        if key not in self.cells:
            return None
        if key in self.status:
            return self.status[key]
        mean, std, runs = self.cells[key]
        seeds = key in self.best
        return Cell(mean, std, runs, "seeds" if seeds else "folds", best=self.best.get(key))

    def complete(self, row: str) -> bool:
        """Every condition has a cell and none is partial."""
        found = [self.cell((row, c)) for c in self.columns]
        return bool(found) and all(c is not None and not c.partial for c in found)

    def average(self, row: str) -> float | None:
        """Mean over the conditions, only when every cell of the row is there and complete."""
        if not self.complete(row):
            return None
        return float(np.mean([self.cells[(row, c)][0] for c in self.columns]))


def _condition(corpus: str, condition: str | None) -> Any:
    try:
        from emobench.corpora import conditions
    except ImportError:  # pragma: no cover - the registry ships with the toolkit
        return None
    for name in conditions.names():
        spec = conditions.condition(name)
        if spec.corpus == corpus and spec.partition_condition == condition:
            return spec
    return None


def _label(corpus: str, condition: str | None) -> str:
    """The paper's column name for a known EMO-SUPERB condition, else ``corpus/condition``."""
    spec = _condition(corpus, condition)
    if spec is not None:
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


def _identities(aggregates: list[dict[str, Any]]
                ) -> tuple[list[identity.Checkpoint], list[list[Path]]]:
    """Per aggregate: the checkpoint of its runs and their folders."""
    found, folders = [], []
    for a in aggregates:
        runs = identity.read_runs(a["path"]) if a.get("path") else []
        layers = len(a["layer_weights"]) if a.get("layer_weights") else None
        found.append(identity.of_runs(runs, [layers] * len(runs)))
        folders.append([folder for folder, _ in runs])
    return found, folders


def _expected(aggregates: list[dict[str, Any]], found: list[Cell]
              ) -> tuple[dict[str, int], int, int]:
    """A complete cell's folds per column (the most any cell of it has, the condition's own
    count when known), seeds per fold and seeds of a seed cell (the most any cell has)."""
    folds: dict[str, int] = {}
    seeds_per_fold = seed_runs = 1
    for a, c in zip(aggregates, found):
        column = _label(a["corpus"], a["condition"])
        if c.unit == "folds":
            spec = _condition(a["corpus"], a["condition"])
            known = [c.runs, len(a.get("folds_available") or ()), spec.folds if spec else 0]
            folds[column] = max(folds.get(column, 0), *known)
            seeds_per_fold = max(seeds_per_fold, c.seeds)
        else:
            seed_runs = max(seed_runs, c.runs)
    return folds, seeds_per_fold, seed_runs


def build(aggregates: list[dict[str, Any]],
          expected: Sequence[tuple[str, str, str | None]] = ()) -> Table:
    """One cell per (upstream, condition); two aggregates for the same cell are an error.

    ``expected`` (upstream, corpus, condition) cells are rows and columns even without results
    (a sweep's table shows what is missing). Rows of one name made with different checkpoints
    are different rows, ``name@<short hash>``.
    """
    from emobench.upstream import upstream_info

    checkpoints, folders = _identities(aggregates)
    by_name: dict[str, set[str | None]] = {}
    for a, ck in zip(aggregates, checkpoints):
        by_name.setdefault(a.get("row") or a["upstream"], set()).add(ck.sha256)
    found = [from_aggregate(a) for a in aggregates]
    fold_counts, seeds_per_fold, seed_runs = _expected(aggregates, found)
    cells: dict[tuple[str, str], tuple[float, float, int]] = {}
    status: dict[tuple[str, str], Cell] = {}
    runs: dict[tuple[str, str], list[Path]] = {}
    sources: dict[tuple[str, str], dict[str, Any]] = {}
    weights: dict[tuple[str, str], list[float]] = {}
    where: dict[tuple[str, str], str] = {}
    best: dict[tuple[str, str], float] = {}
    kinds: dict[str, str] = {}
    notes: dict[str, str] = {}
    upstream_of: dict[str, str] = {}
    row_checkpoints: dict[str, list[identity.Checkpoint]] = {}
    legends: list[str] = []
    for a, ck, cell, run_dirs in zip(aggregates, checkpoints, found, folders):
        row = a.get("row") or a["upstream"]  # a sweep's row: its entry's or hybrid's name
        if len(by_name[row]) > 1:
            row = f"{row}@{ck.short}"
        upstream_of[row] = a["upstream"]
        row_checkpoints.setdefault(row, []).append(ck)
        if a.get("kind", "upstream") != "upstream":
            kinds[row] = a["kind"]
        if a.get("note"):
            notes[row] = a["note"]
        key = (row, _label(a["corpus"], a["condition"]))
        if key in cells:
            raise ValueError(f"two results for {key}: {where[key]} and {a['path']}")
        cells[key] = (cell.mean, cell.std, cell.runs)
        if cell.unit == "folds":
            cell = replace(cell, expected_runs=fold_counts[key[1]],
                           expected_seeds=seeds_per_fold)
        else:
            cell = replace(cell, expected_runs=seed_runs)
        status[key] = cell
        runs[key] = run_dirs
        sources[key] = a
        where[key] = a.get("path", "?")
        legend = (a["main"].get("significance") or {}).get("legend")
        if legend and legend not in legends:
            legends.append(legend)
        if "best" in a["main"]:
            best[key] = a["main"]["best"]
        if a.get("layer_weights"):
            weights[key] = a["layer_weights"]
    columns = _order({c for _, c in cells} | {_label(c, d) for _, c, d in expected})
    upstreams = sorted({u for u, _ in cells} | {u for u, _, _ in expected})
    identities = {u: identity.of_row(row_checkpoints.get(u, [])) for u in upstreams}
    params = {}
    for u in upstreams:
        if identities[u].params_m is not None and kinds.get(u) != "hybrid":  # measured
            params[u] = identities[u].params_m
            continue
        try:  # early fusion "a+b": the sum; a hybrid has none; a tiny checkpoint: unknown
            values = [None] if kinds.get(u) == "hybrid" or "tiny" in identities[u].flags else [
                upstream_info(n).params_m for n in upstream_of.get(u, u).split("+")]
            params[u] = values[0] if len(values) == 1 else (
                None if None in values else sum(values))
        except Exception:  # an upstream name from another toolkit version, a named row
            params[u] = None
    metric = (f"{aggregates[0]['main']['split']} {aggregates[0]['main']['name']}"
              if aggregates else "test macro-F1")
    table = Table(columns, upstreams, params, cells, weights, best, metric, kinds, notes,
                  status, identities, runs, sources, legends)
    table.rows = sorted(upstreams, key=lambda u: (KIND_ORDER.index(kinds.get(u, "upstream")),
                                                  table.average(u) is None,
                                                  -(table.average(u) or 0.0), u))
    return table


def _cell(table: Table, key: tuple[str, str]) -> str:
    found = table.cell(key)
    return MISSING if found is None else found.text()


def _records(table: Table, marked: bool = False) -> list[list[str]]:
    """One list per row; ``marked``: fused and hybrid rows named with their kind."""
    out = []
    for row in table.rows:
        params = table.params_m.get(row)
        name = f"{row} ({table.kinds[row]})" if marked and row in table.kinds else row
        checkpoint = table.checkpoints.get(row)
        out.append([name, checkpoint.label() if checkpoint else "unknown",
                    MISSING if params is None else f"{params:g}",
                    fmt(table.average(row)), *[_cell(table, (row, c)) for c in table.columns]])
    return out


def markdown(table: Table) -> str:
    header = ["upstream", "checkpoint", "params (M)", "Average", *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in _records(table, marked=True)]
    return "\n".join(lines) + "\n\n" + "\n".join(caption(table)) + "\n" + _kind_notes(table)


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
    writer.writerow(["upstream", "checkpoint", "params_m", "average", *table.columns])
    for r in _records(table):
        writer.writerow(["" if v == MISSING else v for v in r])
    return buffer.getvalue()


def latex(table: Table) -> str:
    def esc(text: str) -> str:
        return (text.replace("_", r"\_").replace("&", r"\&").replace("%", r"\%")
                .replace("±", r"$\pm$").replace("×", r"$\times$"))

    cols = "l l r r " + "r " * len(table.columns)
    lines = [r"\begin{tabular}{" + cols.strip() + "}", r"\toprule",
             " & ".join(["Upstream", "Checkpoint", "Params (M)", "Average",
                         *map(esc, table.columns)]) + r" \\", r"\midrule"]
    for r in _records(table, marked=True):
        lines.append(" & ".join(esc(v) if v != MISSING else "--" for v in r) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += ["% " + esc(line) for line in caption(table)]
    return "\n".join(lines) + "\n"


SIG_LEGEND = ("* significantly below the best row of its column: paired bootstrap over the "
              "test speakers (utterances where none are known), Holm-corrected per column, "
              "alpha 0.05 (docs/statistics.md)")


def attach_marks(aggregates: list[dict[str, Any]]) -> None:
    """Each aggregate's ``main.significance``: its paired test against the best aggregate of
    its column (:func:`emobench.downstream.significance.table_marks`), with the mark ``*``
    where it is significantly worse; cells that could not be compared say why."""
    def key(a: dict[str, Any]) -> tuple[int, str]:
        return id(a), _label(a["corpus"], a["condition"])

    marks = significance.table_marks(aggregates, key)
    for a in aggregates:
        sig = marks.get(key(a), {}).get("sig_vs_best")
        if sig is not None:
            a["main"]["significance"] = {**sig, **({"mark": "*", "legend": SIG_LEGEND}
                                                   if sig.get("worse") else {})}


def write_report(root: str | Path, out: str | Path, task: str = "emotion",
                 expected: Sequence[tuple[str, str, str | None]] = (),
                 html: bool = False) -> list[Path]:
    """Tables (Markdown, CSV, LaTeX, JSON) and figures of every aggregate under ``root``
    (rows and columns of ``expected`` cells too: see :func:`build`); ``html``: also the static
    site (:mod:`.leaderboard.site`) in ``<out>/site``."""
    from emobench.orchestration.leaderboard import figures

    aggregates = collect(root, task)
    if not aggregates and not expected:
        raise NoResults(f"no aggregate.json of task {task!r} under {root} (train with "
                        "--folds all to write one per condition)")
    attach_marks(aggregates)
    table = build(aggregates, expected)
    out = Path(out)
    written = figures.write_all(table, out, task)
    written += [io.write_text(out / "table.md", markdown(table)),
                io.write_text(out / "table.csv", to_csv(table)),
                io.write_text(out / "table.tex", latex(table)),
                io.write_json(out / "table.json", {
                    **as_json(table, [a["path"] for a in aggregates]),
                    "provenance": of_runs([a.get("provenance", {}) for a in aggregates],
                                          task=task)})]
    if html:
        from emobench.orchestration.leaderboard import site

        written += site.write(table, out, task)
    return written
