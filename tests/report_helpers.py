"""Synthetic results folders for the report tests: a cell's aggregate.json over fold runs whose
scores.json, layer_weights.json, predictions.csv and config.yaml look like a real run's."""

from __future__ import annotations

from pathlib import Path

from emobench.core import io
from emobench.core.aggregate import folds
from emobench.core.registry import UnknownNameError
from emobench.upstream import upstream_info

SHA = "ab" * 32
CLASSES = ("Angry", "Happy", "Neutral", "Sad")


def predictions(values: float, n: int = 12) -> str:
    """A predictions.csv whose test rows are right about ``values`` of the time."""
    lines = ["split,FileName,predicted,truth," + ",".join(f"prob_{c}" for c in CLASSES) + ","
             + ",".join(f"label_{c}" for c in CLASSES)]
    for i in range(n):
        truth = i % len(CLASSES)
        guess = truth if i < values * n else (truth + 1) % len(CLASSES)
        probs = [0.7 if k == guess else 0.1 for k in range(len(CLASSES))]
        label = [1.0 if k == truth else 0.0 for k in range(len(CLASSES))]
        lines.append(f"test,u{i}.wav,{CLASSES[guess]},{CLASSES[truth]},"
                     + ",".join(map(str, probs + label)))
    return "\n".join(lines) + "\n"


def aggregate(root: Path, upstream: str, corpus: str, condition: str, values: list[float],
              weights: list[float] | None = None, record: dict | None = None,
              full_runs: bool = False, **main_extra) -> Path:
    """An aggregate.json over fold runs (fold<k>/scores.json naming their checkpoint).

    ``record``: the runs' upstream record (default: the published shapes were measured);
    ``full_runs``: predictions.csv, config.yaml and per-class F1 too; ``main_extra``: fields
    of the aggregate's ``main`` (``ci``, ``significance``)."""
    folder = root / f"{upstream}_{corpus}_{condition}"
    try:
        info = upstream_info(upstream)
        shapes = {"measured": {"hidden_states": info.hidden_states, "dim": info.dim}}
    except UnknownNameError:  # a named row
        shapes = {}
    runs = {k + 1: {"task": "emotion", "corpus": corpus, "condition": condition,
                    "fold": k + 1, "seed": 1337,
                    "upstream": {"name": upstream, "checkpoint_sha256": SHA,
                                 **(shapes if record is None else record)},
                    "toolkit": {"version": "test", "git_commit": None},
                    "main_metric": {"name": "macro_f1", "split": "test"},
                    "metrics": {"test": {"macro_f1": v, "accuracy": v}},
                    "per_class": ({"f1": {"test": {c: v for c in CLASSES}}} if full_runs
                                  else {})}
            for k, v in enumerate(values)}
    for k, run in runs.items():
        io.write_json(folder / f"fold{k}" / "scores.json", run)
        if weights:
            io.write_json(folder / f"fold{k}" / "layer_weights.json", {"weights": weights})
        if full_runs:
            io.write_text(folder / f"fold{k}" / "predictions.csv", predictions(values[k - 1]))
            io.write_text(folder / f"fold{k}" / "config.yaml", f"run:\n  upstream: {upstream}\n")
            io.write_text(folder / f"fold{k}" / f"test_fold{k}_predict.txt", "u0.wav Angry\n")
    data = folds(runs, {k: weights for k in runs} if weights else None)
    data["main"].update(main_extra)
    return io.write_json(folder / "aggregate.json", data)
