"""Every metric of a sweep's seed-averaged cells, one line per row and condition: the layout of
the seed-000 paper's Table 2 (system, config, Emo-CCC, Cou-UAR, Age-MAE, S_MTL on validation,
mean ± std over seeds), written as ``<output>/report/metrics.md`` beside the main table.

Only cells of tasks without folds (``aggregate: seeds``) are listed; a missing cell is a line of
``–``, never filled in.

>>> a = {"row": "r", "kind": "hybrid", "condition": "sys1", "seeds": [1, 2], "best_seed": 2,
...      "main": {"name": "ccc"}, "mean": {"val": {"ccc": 0.5}}, "std": {"val": {"ccc": 0.01}},
...      "best": {"val": {"ccc": 0.51}}, "selection": {"split": "val", "metric": "ccc"}}
>>> print(markdown([a], [("r", "sys1")], "val").splitlines()[2])
| r (hybrid) | sys1 | 0.5000 ± 0.0100 | 2 (0.5100) |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from emobench.core import io

MISSING = "–"


def markdown(aggregates: Sequence[dict[str, Any]], order: Sequence[tuple[str, str]],
             split: str) -> str:
    """One line per (row, condition) of ``order``; columns: every metric of ``split``."""
    found = {(a.get("row") or a["upstream"], a["condition"]): a for a in aggregates}
    kinds = {key[0]: a.get("kind", "upstream") for key, a in found.items()}
    metrics = list(dict.fromkeys(m for a in aggregates for m in a["mean"].get(split, {})))
    first = aggregates[0]["selection"] if aggregates else {"split": "val", "metric": "?"}
    header = ["system", "condition", *metrics,
              f"best seed on {first['split']} {first['metric']} (its {split} value)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, condition in order:
        a = found.get((row, condition))
        kind = kinds.get(row, "upstream")
        name = row if kind == "upstream" else f"{row} ({kind})"
        if a is None:
            lines.append("| " + " | ".join([name, condition] + [MISSING] * (len(metrics) + 1))
                         + " |")
            continue
        mean, std = a["mean"].get(split, {}), a["std"].get(split, {})
        values = [MISSING if m not in mean else
                  f"{mean[m]:.4f}" + (f" ± {std[m]:.4f}" if len(a["seeds"]) > 1 else "")
                  for m in metrics]
        main = a.get("main", {}).get("name")
        best = a["best"].get(split, {}).get(main) if main else None
        chosen = f"{a['best_seed']} ({best:.4f})" if best is not None else str(a["best_seed"])
        lines.append("| " + " | ".join([name, condition, *values, chosen]) + " |")
    return "\n".join(lines) + "\n"


def write(report: Path, aggregates: Sequence[dict[str, Any]],
          order: Sequence[tuple[str, str]]) -> Path | None:
    """``report/metrics.md``: validation (the paper's Table 2) then test; None without cells
    of a task without folds."""
    seeds = [a for a in aggregates if a.get("aggregate") == "seeds"]
    if not seeds:
        return None
    text = ["# Every metric per row and condition: mean ± sample std over seeds\n"]
    for split in ("val", "test"):
        if any(split in a["mean"] for a in seeds):
            text += [f"\n## {split}\n\n", markdown(seeds, order, split)]
    text.append("\nLast column: the seed best on validation of the main metric, and its value "
                "of the main metric on the section's split.\n")
    return io.write_text(report / "metrics.md", "".join(text))
