"""Several seeds of one experiment: mean and standard deviation of every score, and the seed
that is best on the validation split (papers report both; ExVo's baseline reports the best)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from emobench.core.aggregate import mean_std


def summarize(results: Mapping[int, dict[str, Any]], selection: tuple[str, str, bool]
              ) -> dict[str, Any]:
    """Aggregate the ``scores.json`` of every seed.

    ``selection`` is ``(split, metric, higher_is_better)``: the best seed is chosen on that
    validation score only (never on test). ``std`` is the sample standard deviation (N - 1).

    >>> runs = {1: {"metrics": {"val": {"f": 0.5}, "test": {"f": 0.4}}},
    ...         2: {"metrics": {"val": {"f": 0.7}, "test": {"f": 0.2}}}}
    >>> s = summarize(runs, ("val", "f", True))
    >>> s["best_seed"], s["mean"]["test"]["f"], round(s["std"]["test"]["f"], 4)
    (2, 0.30000000000000004, 0.1414)
    """
    split, metric, higher = selection
    seeds = sorted(results)
    mean, std = mean_std({s: results[s]["metrics"] for s in seeds})
    chosen = [results[s]["metrics"][split][metric] for s in seeds]
    best = seeds[int(np.argmax(chosen) if higher else np.argmin(chosen))]
    return {
        "seeds": seeds, "selection": {"split": split, "metric": metric,
                                      "higher_is_better": higher},
        "best_seed": best, "best": results[best]["metrics"], "mean": mean, "std": std,
        "per_seed": {str(s): results[s]["metrics"] for s in seeds},
        "notes": {"std": "sample standard deviation over seeds (N - 1)",
                  "best_seed": f"chosen on {split} {metric} only"},
    }


def table(summary: dict[str, Any]) -> str:
    """Markdown: one row per split and metric, mean +- std and the best seed's value."""
    lines = [f"| split | metric | mean +- std ({len(summary['seeds'])} seeds) | "
             f"best on {summary['selection']['split']} (seed {summary['best_seed']}) |",
             "|---|---|---|---|"]
    for part, names in summary["mean"].items():
        for name, value in names.items():
            lines.append(f"| {part} | {name} | {value:.4f} +- {summary['std'][part][name]:.4f} "
                         f"| {summary['best'][part][name]:.4f} |")
    return "\n".join(lines) + "\n"
