"""A figure like EMO-SUPERB's Fig. 5: original vs adjusted distribution of a few utterances.

The examples are the relabelled utterances whose distribution changed most (L1 distance between
the reference and the adjusted distribution, ties in file order): deterministic, unlike the
paper's one random example. Both distributions are shown before label smoothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from emobench.core import plots


def pick(reference: dict[str, np.ndarray], adjusted: dict[str, np.ndarray], order: Sequence[str],
         k: int) -> list[str]:
    """The ``k`` ids of ``order`` with the largest change.

    >>> pick({"a": np.array([1., 0.]), "b": np.array([1., 0.])},
    ...      {"a": np.array([.9, .1]), "b": np.array([.5, .5])}, ["a", "b"], 1)
    ['b']
    """
    ids = [u for u in order if u in adjusted and u in reference]
    change = {u: float(np.abs(adjusted[u] - reference[u]).sum()) for u in ids}
    return sorted(ids, key=lambda u: (-change[u], ids.index(u)))[:k]


def examples(ids: list[str], classes: list[str], reference: dict[str, np.ndarray],
             adjusted: dict[str, np.ndarray], words: dict[str, str], path: str | Path) -> Path:
    """Grouped bars per class: original (votes) and adjusted (model), one panel per utterance."""
    fig, axes = plots.pyplot().subplots(len(ids), 1, squeeze=False,
                                        figsize=(max(5.0, 0.7 * len(classes) + 1), 2.4 * len(ids)))
    x = np.arange(len(classes))
    for ax, uid in zip(axes[:, 0], ids):
        ax.bar(x - 0.2, reference[uid], width=0.4, label="original", color="tab:gray")
        ax.bar(x + 0.2, adjusted[uid], width=0.4, label="adjusted", color="tab:orange")
        ax.set_xticks(x)
        ax.set_xticklabels(classes, fontsize=8)
        ax.set_ylim(0, 1)
        text = words.get(uid, "")
        ax.set_title(f"{uid}: \"{text[:60]}{'...' if len(text) > 60 else ''}\"", fontsize=8)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return plots.save(fig, path)
