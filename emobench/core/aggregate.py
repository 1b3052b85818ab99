"""Aggregates over runs of one experiment: the folds of a condition (``--folds``), or seeds.

Pure functions of the runs' ``scores.json`` dicts; the command line writes the results.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np


def mean_std(runs: Mapping[Any, dict[str, dict[str, float]]]
             ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Mean and sample standard deviation (N - 1; 0 for one run) of ``{split: {name: value}}``
    over runs, for the names every run has.

    >>> mean_std({1: {"test": {"f": 0.2}}, 2: {"test": {"f": 0.4}}})[0]
    {'test': {'f': 0.30000000000000004}}
    """
    keys = list(runs)
    mean: dict[str, dict[str, float]] = {}
    std: dict[str, dict[str, float]] = {}
    for split, names in runs[keys[0]].items():
        for name in names:
            if not all(name in runs[k].get(split, {}) for k in keys):
                continue
            values = np.array([runs[k][split][name] for k in keys], dtype=float)
            mean.setdefault(split, {})[name] = float(values.mean())
            std.setdefault(split, {})[name] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return mean, std


def folds(results: Mapping[int, dict[str, Any]],
          layer_weights: Mapping[int, list[float]] | None = None) -> dict[str, Any]:
    """The condition-level aggregate of its fold runs (EMO-SUPERB reports the mean over folds).

    ``per_class`` is averaged per split and class; ``layer_weights`` (one list per fold) are
    averaged per hidden state.

    >>> runs = {1: {"task": "emotion", "corpus": "c", "condition": "P", "upstream": {"name": "u"},
    ...             "main_metric": {"name": "macro_f1", "split": "test"},
    ...             "metrics": {"test": {"macro_f1": 0.5}}, "per_class": {}},
    ...         2: {"task": "emotion", "corpus": "c", "condition": "P", "upstream": {"name": "u"},
    ...             "main_metric": {"name": "macro_f1", "split": "test"},
    ...             "metrics": {"test": {"macro_f1": 0.7}}, "per_class": {}}}
    >>> a = folds(runs, {1: [0.5, 0.5], 2: [0.7, 0.3]})
    >>> round(a["main"]["mean"], 6), round(a["main"]["std"], 6), a["layer_weights"]
    (0.6, 0.141421, [0.6, 0.4])
    """
    order = sorted(results)
    first = results[order[0]]
    mean, std = mean_std({k: results[k]["metrics"] for k in order})
    per_class: dict[str, dict[str, dict[str, float]]] = {}
    for kind, splits in first.get("per_class", {}).items():
        for split, classes in splits.items():
            for name in classes:
                values = [results[k]["per_class"][kind][split][name] for k in order]
                per_class.setdefault(kind, {}).setdefault(split, {})[name] = float(np.mean(values))
    main = first["main_metric"]
    weights = None
    if layer_weights:
        weights = np.mean([layer_weights[k] for k in order], axis=0).tolist()
    return {
        "task": first["task"], "corpus": first["corpus"], "condition": first["condition"],
        "upstream": first["upstream"]["name"], "params_m": first.get("params_m"),
        "folds": order,
        "main": {"name": main["name"], "split": main["split"],
                 "mean": mean[main["split"]][main["name"]],
                 "std": std[main["split"]][main["name"]],
                 "per_fold": [results[k]["metrics"][main["split"]][main["name"]] for k in order]},
        "mean": mean, "std": std, "per_class_mean": per_class,
        "per_fold": {str(k): results[k]["metrics"] for k in order},
        "layer_weights": weights,
        "notes": {"std": "sample standard deviation over folds (N - 1)",
                  "layer_weights": "softmax layer weights averaged over folds"},
    }
