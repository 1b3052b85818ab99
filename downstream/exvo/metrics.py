"""ExVo 2022 multitask metrics: pure functions of numpy arrays.

- CCC per emotion with *population* moments (divide by N, not N - 1) for the variances and the
  covariance alike; the reference code mixes unbiased variances with a biased covariance.
- UAR: macro-averaged recall over the country classes present in the truth.
- MAE of age in years.
- S_MTL: the harmonic mean of mean CCC, UAR and 1/MAE, i.e. 3 / (1/CCC + MAE + 1/UAR).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def ccc(truth: Sequence[float], prediction: Sequence[float]) -> float:
    """Concordance correlation coefficient, population moments.

    2 cov(x, y) / (var x + var y + (mean x - mean y)^2); 0 for a constant prediction of a
    varying truth, and 1 when both are the same constant.

    >>> ccc([0.1, 0.5, 0.9], [0.1, 0.5, 0.9])
    1.0
    >>> round(ccc([0.0, 1.0], [0.25, 0.75]), 6)  # cov 0.125, vars 0.25 and 0.0625
    0.8
    >>> ccc([0.2, 0.4, 0.9], [0.5, 0.5, 0.5])
    0.0
    """
    x = np.asarray(truth, dtype=np.float64)
    y = np.asarray(prediction, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(f"ccc needs two equal-length 1-D arrays, got {x.shape} and {y.shape}")
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).mean()
    denominator = x.var() + y.var() + (mx - my) ** 2
    if denominator == 0.0:
        return 1.0  # both constant and equal
    return float(2.0 * cov / denominator)


def per_emotion_ccc(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """CCC of every column of ``(N, E)`` arrays.

    >>> per_emotion_ccc(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 0.5], [1.0, 0.5]]))
    array([1., 0.])
    """
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    if truth.shape != prediction.shape or truth.ndim != 2:
        raise ValueError(f"per_emotion_ccc needs two (N, E) arrays, got {truth.shape} and "
                         f"{prediction.shape}")
    return np.array([ccc(truth[:, e], prediction[:, e]) for e in range(truth.shape[1])])


def uar(truth: Sequence[int], prediction: Sequence[int]) -> float:
    """Unweighted average recall: the mean over the classes present in ``truth`` of their recall.

    >>> uar([0, 0, 0, 1], [0, 0, 0, 0])  # recall 1 for class 0, 0 for class 1
    0.5
    >>> uar([0, 1, 2, 2], [0, 1, 2, 0])
    0.8333333333333334
    """
    t = np.asarray(truth)
    p = np.asarray(prediction)
    if t.shape != p.shape or t.ndim != 1 or len(t) == 0:
        raise ValueError(f"uar needs two equal-length 1-D arrays, got {t.shape} and {p.shape}")
    return float(np.mean([(p[t == c] == c).mean() for c in np.unique(t)]))


def mae(truth: Sequence[float], prediction: Sequence[float]) -> float:
    """Mean absolute error.

    >>> mae([20.0, 30.0], [22.0, 27.0])
    2.5
    """
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    if t.shape != p.shape or len(t) == 0:
        raise ValueError(f"mae needs two equal-length arrays, got {t.shape} and {p.shape}")
    return float(np.abs(t - p).mean())


def s_mtl(ccc_value: float, uar_value: float, mae_value: float) -> float:
    """ExVo's multitask score 3 / (1/CCC + MAE + 1/UAR): harmonic mean of CCC, UAR and 1/MAE.

    A harmonic mean of a non-positive term is taken as 0 (its limit as the term goes to 0+), so
    a constant emotion predictor (CCC 0) scores 0.

    >>> round(s_mtl(0.416, 0.506, 4.222), 3)  # the ExVo paper's ComParE baseline row
    0.349
    >>> s_mtl(0.0, 0.25, 5.0)
    0.0
    """
    if ccc_value <= 0.0 or uar_value <= 0.0:
        return 0.0
    return float(3.0 / (1.0 / ccc_value + mae_value + 1.0 / uar_value))


def all_metrics(emotions: np.ndarray, emotions_pred: np.ndarray, age: np.ndarray,
                age_pred: np.ndarray, country: np.ndarray, country_pred: np.ndarray
                ) -> dict[str, float]:
    """``ccc`` (mean over emotions), ``uar``, ``mae`` and ``s_mtl`` of one split.

    >>> e = np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]])
    >>> m = all_metrics(e, e, np.array([20., 30, 25]), np.array([21., 29, 25]),
    ...                 np.array([0, 1, 1]), np.array([0, 1, 0]))
    >>> m["ccc"], m["uar"], round(m["mae"], 4), round(m["s_mtl"], 4)
    (1.0, 0.75, 0.6667, 1.0)
    """
    mean_ccc = float(per_emotion_ccc(emotions, emotions_pred).mean())
    u, m = uar(country, country_pred), mae(age, age_pred)
    return {"ccc": mean_ccc, "uar": u, "mae": m, "s_mtl": s_mtl(mean_ccc, u, m)}
