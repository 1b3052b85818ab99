"""The toolkit's metrics as sums of per-utterance statistics, so that a bootstrap resample (a
vector of utterance weights) is one matrix product (emobench.core.bootstrap).

Each entry of :data:`RESAMPLED` pairs ``rows(truth, prediction) -> (N, D)`` with
``finish(sums (B, D)) -> (B,)``; the last column of every ``rows`` is 1 for a scored utterance
(0 where a target is absent), so ``finish`` sees the resample's count. With unit weights
``finish`` gives exactly the metric the run reports (same definitions as
downstream/emotion/metrics.py and downstream/multitask/metrics.py; tests/test_bootstrap.py
checks every one against them). Inputs are canonical: ``(N, C)`` class probabilities or soft
labels (a class is in a set above 1/C), ``(N, K)`` numeric values.

>>> y = np.eye(3)[[0, 1, 2, 2]]
>>> p = np.eye(3)[[0, 1, 2, 1]]
>>> float(value("macro_f1", y, p)), float(value("accuracy", y, p))
(0.7777777777777777, 0.75)
"""

from __future__ import annotations

import numpy as np

from emobench.core.registry import Registry

RESAMPLED = Registry("resampled metric")


def _f1(hits: np.ndarray, both: np.ndarray) -> np.ndarray:
    """2 hits / both, 0 where both is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(2.0 * hits, both, out=np.zeros_like(hits, dtype=np.float64), where=both > 0)


def _undefined(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    return np.where(count > 0, values, np.nan)


def threshold_rows(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Per class: true positive, false positive, false negative (sets above 1/C); then 1."""
    c = truth.shape[1]
    t, p = truth > 1.0 / c, prediction > 1.0 / c
    return np.hstack([t & p, ~t & p, t & ~p, np.ones((len(t), 1), bool)]).astype(np.float64)


def threshold_macro_f1(sums: np.ndarray) -> np.ndarray:
    c = (sums.shape[1] - 1) // 3
    tp, fp, fn = sums[:, :c], sums[:, c:2 * c], sums[:, 2 * c:3 * c]
    return _undefined(_f1(tp, 2 * tp + fp + fn).mean(axis=1), sums[:, -1])


def _argmax_onehots(truth: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = truth.shape[1]
    return np.eye(c, dtype=bool)[np.argmax(truth, 1)], np.eye(c, dtype=bool)[np.argmax(prediction, 1)]


def argmax_rows(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Per class: hit (argmax of both), in the truth, in the prediction; then 1."""
    t, p = _argmax_onehots(truth, prediction)
    return np.hstack([t & p, t, p, np.ones((len(t), 1), bool)]).astype(np.float64)


def argmax_macro_f1(sums: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes in the truth or the prediction of the resample."""
    c = (sums.shape[1] - 1) // 3
    hits, both = sums[:, :c], sums[:, c:2 * c] + sums[:, 2 * c:3 * c]
    seen = both > 0
    total = _f1(hits, both).sum(axis=1)
    return _undefined(np.divide(total, seen.sum(axis=1), out=np.zeros(len(sums)),
                                where=seen.any(axis=1)), sums[:, -1])


def uar(sums: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present in the resample's truth."""
    c = (sums.shape[1] - 1) // 3
    hits, present = sums[:, :c], sums[:, c:2 * c]
    recall = np.divide(hits, present, out=np.zeros_like(hits), where=present > 0)
    seen = (present > 0).sum(axis=1)
    return _undefined(np.divide(recall.sum(axis=1), seen, out=np.zeros(len(sums)),
                                where=seen > 0), sums[:, -1])


def accuracy_rows(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    hit = np.argmax(truth, axis=1) == np.argmax(prediction, axis=1)
    return np.stack([hit, np.ones(len(hit), bool)], axis=1).astype(np.float64)


def accuracy(sums: np.ndarray) -> np.ndarray:
    return _undefined(np.divide(sums[:, 0], sums[:, 1], out=np.zeros(len(sums)),
                                where=sums[:, 1] > 0), sums[:, -1])


def moment_rows(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Per column: x, y, x^2, y^2, xy (both shifted by the truth's mean, which changes no
    variance, covariance or mean difference and keeps the sums well conditioned); then 1."""
    x = np.asarray(truth, dtype=np.float64)
    y = np.asarray(prediction, dtype=np.float64)
    shift = x.mean(axis=0) if len(x) else 0.0
    x, y = x - shift, y - shift
    return np.hstack([x, y, x * x, y * y, x * y, np.ones((len(x), 1))])


def _moments(sums: np.ndarray):
    k = (sums.shape[1] - 1) // 5
    n = sums[:, -1:]
    safe = np.where(n > 0, n, 1.0)
    sx, sy, sxx, syy, sxy = (sums[:, i * k:(i + 1) * k] / safe for i in range(5))
    return sx, sy, sxx - sx * sx, syy - sy * sy, sxy - sx * sy, sums[:, -1]


def ccc(sums: np.ndarray) -> np.ndarray:
    """Mean over columns of 2 cov / (var x + var y + (mean x - mean y)^2), population moments;
    1 where the denominator vanishes (both constant and equal)."""
    mx, my, vx, vy, cov, n = _moments(sums)
    vx, vy = np.maximum(vx, 0.0), np.maximum(vy, 0.0)
    den = vx + vy + (mx - my) ** 2
    tiny = den <= 1e-12 * (1.0 + mx * mx)
    values = np.where(tiny, 1.0, 2.0 * cov / np.where(tiny, 1.0, den))
    return _undefined(values.mean(axis=1), n)


def pearson(sums: np.ndarray) -> np.ndarray:
    """Mean over columns of cov / sqrt(var x var y); 0 where either is constant."""
    _, _, vx, vy, cov, n = _moments(sums)
    scale = np.sqrt(np.maximum(vx, 0.0) * np.maximum(vy, 0.0))
    tiny = scale <= 1e-12
    return _undefined(np.where(tiny, 0.0, cov / np.where(tiny, 1.0, scale)).mean(axis=1), n)


def absolute_rows(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """The mean absolute error of the row's columns; then 1."""
    error = np.abs(np.asarray(truth, np.float64) - np.asarray(prediction, np.float64))
    return np.stack([error.mean(axis=1), np.ones(len(error))], axis=1)


def mae(sums: np.ndarray) -> np.ndarray:
    return _undefined(np.divide(sums[:, 0], sums[:, 1], out=np.zeros(len(sums)),
                                where=sums[:, 1] > 0), sums[:, -1])


def _uar_rows(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    t, p = _argmax_onehots(truth, prediction)
    return np.hstack([t & p, t, np.zeros_like(t), np.ones((len(t), 1), bool)]).astype(np.float64)


RESAMPLED.register("macro_f1", threshold_macro_f1, rows=threshold_rows)
RESAMPLED.register("argmax_macro_f1", argmax_macro_f1, rows=argmax_rows)
RESAMPLED.register("accuracy", accuracy, rows=accuracy_rows)
RESAMPLED.register("uar", uar, rows=_uar_rows)
RESAMPLED.register("ccc", ccc, rows=moment_rows)
RESAMPLED.register("pearson", pearson, rows=moment_rows)
RESAMPLED.register("mae", mae, rows=absolute_rows)


def rows(name: str, truth: np.ndarray, prediction: np.ndarray,
         present: np.ndarray | None = None) -> np.ndarray:
    """The ``(N, D)`` statistics of metric ``name``; rows outside ``present`` are all zero.

    >>> rows("accuracy", np.eye(2)[[0, 1]], np.eye(2)[[0, 0]], np.array([True, False])).tolist()
    [[1.0, 1.0], [0.0, 0.0]]
    """
    truth = np.asarray(truth, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    if truth.ndim == 1:
        truth, prediction = truth[:, None], prediction[:, None]
    keep = np.ones(len(truth), bool) if present is None else np.asarray(present, bool)
    make = RESAMPLED.entry(name).meta["rows"]
    part = make(truth[keep], prediction[keep]) if keep.any() else make(truth[:1], prediction[:1])
    out = np.zeros((len(truth), part.shape[1]))
    if keep.any():
        out[keep] = part
    return out


def resampled(name: str, statistics: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Metric ``name`` on every resample: ``weights (B, N)`` utterance weights."""
    return RESAMPLED.get(name)(weights @ statistics)


def value(name: str, truth: np.ndarray, prediction: np.ndarray) -> float:
    """The metric on the full sample (every weight 1)."""
    stats = rows(name, truth, prediction)
    return float(resampled(name, stats, np.ones((1, len(stats))))[0])
