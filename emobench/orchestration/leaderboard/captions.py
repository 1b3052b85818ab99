"""The table's caption and ``table.json``: what the cells are, what n counts, what is
averaged, the checkpoint column, the intervals, the marks' legends and the figures not drawn."""

from __future__ import annotations

from typing import Any

from emobench.orchestration.leaderboard.cells import ci_note


def caption(table: Any) -> list[str]:
    """The caption's lines (Markdown and HTML under the table, LaTeX as comments)."""
    seeds = bool(table.best)
    lines = [f"{table.metric}: mean ± sample std over "
             + ("seeds, in brackets the seed best on validation" if seeds else "folds")
             + " (no std for a single run); n: "
             + ("seeds" if seeds else "folds (×seeds per fold)") + " in the cell."]
    if any(c.partial for c in table.status.values()):
        lines.append("partial: fewer folds (or seeds) than the condition's complete cells have "
                     "(n=done/expected); partial cells are left out of the Average.")
    lines.append("Average: mean of the cell means, only for rows whose every cell is complete.")
    lines.append("checkpoint: first 12 hex digits of the upstream checkpoint's sha256; "
                 "tiny: its shapes differ from the published model's; mixed: the runs of a "
                 "row used different checkpoints; params (M): measured where recorded.")
    note = ci_note(list(table.status.values()))
    if note:
        lines.append(note)
    return lines + table.legends + table.messages


def _significance(table: Any, key: tuple[str, str]) -> dict[str, Any]:
    """A cell's ``sig_vs_best`` (its paired test against its column's best row), when tested."""
    source = table.sources.get(key) or {}
    sig = {k: v for k, v in (source.get("main", {}).get("significance") or {}).items()
           if k not in ("mark", "legend")}
    return {"sig_vs_best": sig} if sig else {}


def as_json(table: Any, sources: list[str]) -> dict[str, Any]:
    """``table.json``: every cell with its counts, status, interval and mark."""
    return {
        "columns": table.columns, "rows": table.rows, "params_m": table.params_m,
        "metric": table.metric,
        "cells": [{"upstream": u, "condition": c, "mean": m, "std": s, "runs": n,
                   **({"best_seed_value": table.best[(u, c)]} if (u, c) in table.best else {}),
                   **table.cell((u, c)).as_dict(), **_significance(table, (u, c))}
                  for (u, c), (m, s, n) in sorted(table.cells.items())],
        "average": {u: table.average(u) for u in table.rows},
        "checkpoints": {u: ck.as_dict() for u, ck in table.checkpoints.items()},
        "kinds": table.kinds, "notes": table.notes, "caption": caption(table),
        "sources": sources}
