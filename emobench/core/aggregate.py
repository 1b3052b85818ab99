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
        "layer_weights": weights, **references(results),
        "notes": {"std": "sample standard deviation over folds (N - 1)",
                  "layer_weights": "softmax layer weights averaged over folds",
                  "baselines": "the constant predictors' scores, mean over folds",
                  "ceilings": "per fold the classes absent from the test truth; a perfect "
                              "predictor's score (absent classes count as F1 = 0)"},
    }


def references(results: Mapping[Any, dict[str, Any]]) -> dict[str, Any]:
    """What the means should be read against: the constant baselines (mean over runs of each
    run's ``baselines``) and the ceilings (per run the classes absent from the truth; the mean
    and per-run score of a perfect predictor), for the splits and names every run has.

    >>> run = lambda b, absent, p: {"baselines": {"test": {"f": b}}, "ceiling": {"test": {
    ...     "absent_classes": absent, "metrics": {"f": p}}}}
    >>> r = references({1: run(0.2, [], 1.0), 2: run(0.4, ["x"], 0.5)})
    >>> r["baselines"]["test"]["f"], r["ceilings"]["test"]["perfect"]["f"]
    (0.30000000000000004, 0.75)
    >>> r["ceilings"]["test"]["absent_classes"]
    {'1': [], '2': ['x']}
    """
    order = sorted(results, key=str)
    out: dict[str, Any] = {}
    if all("baselines" in results[k] for k in order):
        out["baselines"] = mean_std({k: results[k]["baselines"] for k in order})[0]
    if all("ceiling" in results[k] for k in order):
        ceilings: dict[str, Any] = {}
        for split in results[order[0]]["ceiling"]:
            if not all(split in results[k]["ceiling"] for k in order):
                continue
            per_run = [results[k]["ceiling"][split] for k in order]
            names = [n for n in per_run[0].get("metrics", {})
                     if all(n in c.get("metrics", {}) for c in per_run)]
            ceilings[split] = {
                "absent_classes": {str(k): c["absent_classes"] for k, c in zip(order, per_run)},
                "perfect": {n: float(np.mean([c["metrics"][n] for c in per_run])) for n in names},
                "perfect_per_run": {n: [c["metrics"][n] for c in per_run] for n in names}}
        out["ceilings"] = ceilings
    return out
