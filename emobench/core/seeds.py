"""Several seeds of one experiment: mean and standard deviation of every score, and the seed
that is best on the validation split (papers report both; ExVo's baseline reports the best)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from emobench.core.aggregate import mean_std, references


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


def cell(results: Mapping[int, dict[str, Any]],
         layer_weights: Mapping[int, list[float]] | None = None) -> dict[str, Any]:
    """The ``aggregate.json`` of a sweep cell of a task without folds: :func:`summarize` over
    its seeds plus the table fields (``main``: mean, std and the best seed's value of the main
    metric). The best seed is chosen on the validation value of the main metric.

    >>> run = lambda v, t: {"task": "multitask", "corpus": "c", "condition": "x",
    ...     "upstream": {"name": "u"}, "metrics": {"val": {"s": v}, "test": {"s": t}},
    ...     "main_metric": {"name": "s", "split": "test", "higher_is_better": True}}
    >>> a = cell({1: run(0.5, 0.4), 2: run(0.7, 0.2)})
    >>> a["main"]["best_seed"], a["main"]["best"], round(a["main"]["std"], 4), a["aggregate"]
    (2, 0.2, 0.1414, 'seeds')
    """
    order = sorted(results)
    first = results[order[0]]
    main = first["main_metric"]
    summary = summarize(results, ("val", main["name"], main.get("higher_is_better", True)))
    split, name = main["split"], main["name"]
    weights = None
    if layer_weights and len(layer_weights) == len(order):
        weights = np.mean([layer_weights[s] for s in order], axis=0).tolist()
    return {
        "task": first["task"], "corpus": first["corpus"], "condition": first["condition"],
        "upstream": first["upstream"]["name"], "aggregate": "seeds", **summary,
        "main": {"name": name, "split": split, "mean": summary["mean"][split][name],
                 "std": summary["std"][split][name],
                 "per_seed": [results[s]["metrics"][split][name] for s in order],
                 "best_seed": summary["best_seed"],
                 "best": summary["best"][split][name]},
        "layer_weights": weights, **references(results),
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
