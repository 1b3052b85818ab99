"""Bootstrap resampling: seeded resample indices (utterances or speakers), percentile intervals,
the paired bootstrap test of a difference, and Holm's step-down correction. Pure numpy.

A resample draws ``clusters`` units with replacement (speakers in a cluster bootstrap, else
utterances). Every metric is computed from per-utterance *sufficient statistics* (counts of true
positives, sums of products, ...; emobench.core.resampled_metrics), so a resample is a vector of
utterance weights (how often each utterance was drawn) and all resamples at once are one matrix
product: ``weights (B, N) @ statistics (N, D)``.

>>> idx = resample_indices(3, resamples=2, seed=0)
>>> idx.shape, bool(((idx >= 0) & (idx < 3)).all())
((2, 3), True)
>>> idx.tolist(), weights(idx, np.array([0, 0, 1, 2])).tolist()  # speakers 0, 0, 1, 2
([[2, 1, 1], [0, 0, 0]], [[0.0, 0.0, 2.0, 1.0], [3.0, 3.0, 0.0, 0.0]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95
FEW_SPEAKERS = 10  # below this a cluster bootstrap's interval is noted as coarse


@dataclass(frozen=True)
class Units:
    """What is resampled: ``index[i]`` is the cluster of utterance ``i`` (0..clusters-1)."""

    unit: str  # "speaker" | "utterance"
    index: np.ndarray  # (N,) int
    clusters: int
    note: str = ""

    @classmethod
    def of(cls, speakers: Sequence[str | None] | None, n: int) -> "Units":
        """Speakers when every utterance has one and there are at least two of them, else
        utterances (the note says why).

        >>> Units.of(["b", "a", "b"], 3).index.tolist(), Units.of(["b", "a", "b"], 3).unit
        ([1, 0, 1], 'speaker')
        >>> Units.of(["a", None], 2).unit, Units.of(["a", None], 2).note
        ('utterance', '1 of 2 utterances have no speaker')
        """
        if speakers is None:
            return cls("utterance", np.arange(n), n, "speakers unknown")
        speakers = list(speakers)
        if len(speakers) != n:
            raise ValueError(f"{len(speakers)} speakers for {n} utterances")
        unknown = sum(1 for s in speakers if s is None or str(s) == "")
        if unknown:
            return cls("utterance", np.arange(n), n,
                       f"{unknown} of {n} utterances have no speaker")
        names, index = np.unique(np.asarray([str(s) for s in speakers]), return_inverse=True)
        if len(names) < 2:
            return cls("utterance", np.arange(n), n, "a single speaker")
        few = (f"only {len(names)} speakers: with few clusters the interval is approximate"
               if len(names) < FEW_SPEAKERS else "")
        return cls("speaker", index.astype(np.int64), len(names), few)


def resample_indices(clusters: int, resamples: int = DEFAULT_RESAMPLES,
                     seed: int | Sequence[int] = DEFAULT_SEED) -> np.ndarray:
    """``(resamples, clusters)`` cluster indices drawn with replacement (numpy's PCG64, seeded:
    the same seed and cluster count give the same resamples, so two systems scored on the same
    test set are resampled identically).

    >>> resample_indices(4, 3, seed=1).tolist() == resample_indices(4, 3, seed=1).tolist()
    True
    """
    if clusters < 1 or resamples < 1:
        raise ValueError(f"need at least one cluster and one resample ({clusters}, {resamples})")
    rng = np.random.default_rng(seed)
    return rng.integers(0, clusters, size=(resamples, clusters))


def weights(indices: np.ndarray, cluster_of: np.ndarray) -> np.ndarray:
    """Utterance weights ``(B, N)``: how often each utterance's cluster was drawn.

    >>> weights(np.array([[0, 0], [1, 0]]), np.array([0, 1, 1])).tolist()
    [[2.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    """
    b, k = indices.shape
    flat = (indices + np.arange(b)[:, None] * k).ravel()
    counts = np.bincount(flat, minlength=b * k).reshape(b, k).astype(np.float64)
    return counts[:, np.asarray(cluster_of)]


def percentile_interval(values: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """The percentile interval of bootstrap ``values`` (numpy's linear quantiles; NaN values,
    a metric undefined on some resample, are left out).

    >>> percentile_interval(np.arange(5.0), 0.5)
    (1.0, 3.0)
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def interval_record(values: np.ndarray, units: Units | str, resamples: int, seed: int,
                    level: float = DEFAULT_LEVEL, clusters: int | None = None) -> dict:
    """The ``ci`` entry of one metric (scores.json, aggregate.json).

    >>> interval_record(np.arange(5.0), "utterance", 5, 0, 0.5, clusters=7)["high"]
    3.0
    """
    low, high = percentile_interval(values, level)
    unit = units.unit if isinstance(units, Units) else units
    count = units.clusters if isinstance(units, Units) else clusters
    return {"low": low, "high": high, "level": level, "unit": unit, "resamples": int(resamples),
            "seed": int(seed), **({"clusters": int(count)} if count is not None else {})}


def paired_test(a: np.ndarray, b: np.ndarray, observed: float, level: float = DEFAULT_LEVEL,
                ) -> dict:
    """The paired bootstrap test of ``observed = metric(A) - metric(B)``: ``a`` and ``b`` are the
    two systems' metric on the SAME resamples. The differences' distribution, shifted to have
    mean zero under H0 (no difference), gives the two-sided p-value
    ``(1 + #{|d_b - observed| >= |observed|}) / (1 + B)``; the percentile interval of the
    differences is the CI of the difference.

    >>> x = np.linspace(0.5, 0.7, 200)
    >>> paired_test(x, x, 0.0)["p_value"]  # identical systems
    1.0
    >>> paired_test(x + 0.3, x, 0.3)["p_value"] < 0.01
    True
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[~np.isnan(d)]
    if not len(d):
        return {"difference": observed, "low": float("nan"), "high": float("nan"),
                "p_value": float("nan"), "level": level}
    extreme = int(np.sum(np.abs(d - observed) >= abs(observed) - 1e-12))
    low, high = percentile_interval(d, level)
    return {"difference": float(observed), "low": low, "high": high,
            "p_value": float(min(1.0, (1 + extreme) / (1 + len(d)))), "level": level}


def holm(p_values: Sequence[float], alpha: float = 0.05) -> tuple[list[float], list[bool]]:
    """Holm's step-down correction of m p-values: the adjusted p-values
    ``max_{j <= i} min(1, (m - j + 1) p_(j))`` (in the input order) and which are rejected at
    family-wise error rate ``alpha`` (adjusted p <= alpha). NaN p-values are never rejected and
    do not count in m.

    >>> holm([0.01, 0.04, 0.03])
    ([0.03, 0.06, 0.06], [True, False, False])
    >>> holm([0.001, 0.2])[1]
    [True, False]
    """
    p = np.asarray(p_values, dtype=np.float64)
    valid = np.flatnonzero(~np.isnan(p))
    adjusted = np.full(len(p), np.nan)
    m = len(valid)
    running = 0.0
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    rounded = [float(round(v, 12)) for v in adjusted]
    return rounded, [bool(v <= alpha) if not np.isnan(v) else False for v in adjusted]
