"""Figures written into experiment folders (matplotlib, Agg backend, atomic writes)."""

from __future__ import annotations

import io as _io
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from emobench.core import io  # noqa: E402


def save(fig, path: str | Path) -> Path:
    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return io.write_bytes(path, buffer.getvalue())


def layer_weights(weights: Sequence[float], title: str, path: str | Path) -> Path:
    """Bar chart of the normalised featurizer weight of every hidden state."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(weights) + 2), 3))
    ax.bar(range(len(weights)), weights, color="tab:blue")
    ax.axhline(1.0 / len(weights), color="grey", linestyle="--", linewidth=1, label="uniform")
    ax.set_xlabel("hidden state (0 = input features)")
    ax.set_ylabel("softmax weight")
    ax.set_xticks(range(len(weights)))
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    return save(fig, path)
