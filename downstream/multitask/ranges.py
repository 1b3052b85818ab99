"""Min-max mapping of regression predictions onto their target's declared range
(``data_handling.minmax``; the IS25 winner maps arousal, valence and dominance onto [1, 7]).

``train``: the minimum and maximum of the model's predictions on the training rows define one
linear map ``low + (high - low) (p - min) / (max - min)`` that every split gets (values beyond
are clipped to the range), so no split's own inputs shape its map. ``split``: every split is
mapped by the minimum and maximum of its own predictions (transductive: it uses the split's
inputs, never its labels). ``clip``: no map, values beyond the range are clipped to it (what the
challenge baseline does to its submissions). Only predictions change; the truths are never mapped. Constant
predictions (max = min) map to the middle of the range.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from emobench.downstream.multitask.kinds import Target


def minmax(values: np.ndarray, lowest: float, highest: float, low: float,
           high: float) -> np.ndarray:
    """``values`` with ``[lowest, highest]`` mapped linearly onto ``[low, high]``, clipped.

    >>> minmax(np.array([0.0, 0.5, 1.0, 2.0]), 0.0, 1.0, 1.0, 7.0).tolist()
    [1.0, 4.0, 7.0, 7.0]
    >>> minmax(np.array([3.0, 3.0]), 3.0, 3.0, 1.0, 7.0).tolist()
    [4.0, 4.0]
    """
    if not highest > lowest:
        return np.full_like(values, (low + high) / 2.0, dtype=np.float64)
    return np.clip(low + (high - low) * (values - lowest) / (highest - lowest), low, high)


def _mapped(targets: list[Target], pred: dict[str, np.ndarray], rows: np.ndarray,
            reference: dict[str, np.ndarray] | None, out: dict[str, np.ndarray]) -> None:
    """``out``'s regression predictions of ``rows`` mapped by ``reference`` (None: clipped)."""
    for t in targets:
        if t.kind.name == "regression":
            low, high = t.cfg.range
            if reference is None:
                out[t.name][rows] = np.clip(pred[t.name][rows], low, high)
                continue
            ref = reference[t.name]
            out[t.name][rows] = minmax(pred[t.name][rows], float(ref.min()), float(ref.max()),
                                       low, high)


def map_split(cfg: Any, targets: list[Target], pred: dict[str, np.ndarray],
              train_prediction: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The predictions of one split mapped (``train``: by ``train_prediction()``)."""
    mode = cfg.data_handling.minmax
    if mode == "none":
        return pred
    out = {k: v.copy() for k, v in pred.items()}
    reference = train_prediction() if mode == "train" else None if mode == "clip" else pred
    _mapped(targets, pred, np.ones(len(next(iter(pred.values()))), dtype=bool), reference, out)
    return out


def map_by_split(cfg: Any, targets: list[Target], pred: dict[str, np.ndarray],
                 splits: np.ndarray) -> dict[str, np.ndarray]:
    """Every row's predictions mapped (``splits``: each row's split; ``train``: by the rows of
    the training split, ``split``: each split by its own rows, ``clip``: clipped)."""
    mode = cfg.data_handling.minmax
    if mode == "none":
        return pred
    out = {k: v.copy() for k, v in pred.items()}
    for split in np.unique(splits):
        rows = splits == split
        ref_rows = splits == "train" if mode == "train" else rows
        _mapped(targets, pred, rows, None if mode == "clip" else
                {k: v[ref_rows] for k, v in pred.items()}, out)
    return out
