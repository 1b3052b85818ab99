"""Figures written into experiment folders (matplotlib, Agg backend, atomic writes).

matplotlib is imported on the first figure, not with this module: a training run draws its
layer-weight figure without it (:mod:`emobench.core.svg`) and so never imports it.
"""

from __future__ import annotations

import io as _io
from pathlib import Path
from typing import Sequence

from emobench.core import io


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (imported on the first call)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path) -> Path:
    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    pyplot().close(fig)
    return io.write_bytes(path, buffer.getvalue())


def bars(per_split: dict[str, Sequence[float]], labels: Sequence[str], path: str | Path,
         title: str, ylabel: str = "CCC") -> Path:
    """One bar group per label and one colour per split (e.g. the CCC of every column)."""
    fig, ax = pyplot().subplots(figsize=(max(4.0, 0.8 * len(labels) + 1), 3.2))
    width = 0.8 / max(1, len(per_split))
    positions = [float(i) for i in range(len(labels))]
    for k, (split, values) in enumerate(per_split.items()):
        ax.bar([p + k * width for p in positions], values, width, label=split)
    ax.set_xticks([p + 0.4 - width / 2 for p in positions])
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save(fig, path)


def scatter(truth: Sequence[float], prediction: Sequence[float], path: str | Path, title: str,
            quantity: str = "value") -> Path:
    """Predicted against true values, with the diagonal."""
    fig, ax = pyplot().subplots(figsize=(3.8, 3.6))
    ax.scatter(truth, prediction, s=6, alpha=0.5)
    low, high = float(min(min(truth), min(prediction))), float(max(max(truth), max(prediction)))
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel(f"true {quantity}")
    ax.set_ylabel(f"predicted {quantity}")
    ax.set_title(title)
    return save(fig, path)


def confusion(truth: Sequence[int], prediction: Sequence[int], classes: Sequence[str],
              path: str | Path, title: str) -> Path:
    """Row-normalised confusion matrix (rows: truth), with counts in the cells."""
    import numpy as np

    n = len(classes)
    counts = np.zeros((n, n), dtype=int)
    np.add.at(counts, (np.asarray(truth), np.asarray(prediction)), 1)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(4.2, 0.45 * n + 2)
    fig, ax = pyplot().subplots(figsize=(size, size * 0.9))
    ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                    color="white" if rates[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(n))
    ax.set_xticklabels(classes, rotation=30, ha="right")
    ax.set_yticks(range(n))
    ax.set_yticklabels(classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return save(fig, path)
