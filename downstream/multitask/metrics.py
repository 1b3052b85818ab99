"""Per-target metrics and the combiners of the selection score: pure functions, by name.

Every metric takes the truth and the prediction of one target in its canonical form:
categorical kinds ``(N, C)`` class probabilities (one-hot truth for hard labels), numeric kinds
``(N, K)`` values (K = 1 for a scalar regression). The definitions are the toolkit's own
(downstream/emotion/metrics.py, downstream/exvo/metrics.py), reused here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emobench.core.registry import Registry
from emobench.downstream.emotion import metrics as emotion_metrics
from emobench.downstream.exvo import metrics as exvo_metrics

CATEGORICAL = ("soft_categorical", "categorical")
NUMERIC = ("intensities", "regression")

METRICS = Registry("metric")
COMBINERS = Registry("selection combiner")


def macro_f1(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Threshold macro-F1 over the split: a class is in a set when its value exceeds 1/C.

    >>> macro_f1(np.eye(3)[[0, 1, 2, 2]], np.eye(3)[[0, 1, 2, 1]])
    0.7777777777777777
    """
    return emotion_metrics.macro_f1(truth, prediction)


def argmax_f1_per_class(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """F1 of every class (columns) with the most probable class as the prediction (0 for a class
    neither in the truth nor in the prediction).

    >>> argmax_f1_per_class(np.eye(3)[[0, 1, 2, 2]], np.eye(3)[[0, 1, 2, 1]]).tolist()
    [1.0, 0.6666666666666666, 0.6666666666666666]
    """
    c = truth.shape[1]
    t, p = np.argmax(truth, axis=1), np.argmax(prediction, axis=1)
    hits = np.bincount(t[t == p], minlength=c).astype(np.float64)
    both = np.bincount(t, minlength=c) + np.bincount(p, minlength=c)
    return np.divide(2.0 * hits, both, out=np.zeros(c), where=both > 0)


def argmax_macro_f1(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Macro-F1 of the most probable class over the classes in the truth or the prediction
    (scikit-learn's ``f1_score(average="macro")`` of the argmaxes; the IS25 challenge's F1-Macro).

    >>> argmax_macro_f1(np.eye(3)[[0, 1, 2, 2]], np.eye(3)[[0, 1, 2, 1]])
    0.7777777777777777
    >>> argmax_macro_f1(np.eye(3)[[0, 0]], np.eye(3)[[0, 1]])  # class 2 appears nowhere
    0.3333333333333333
    """
    t, p = np.argmax(truth, axis=1), np.argmax(prediction, axis=1)
    seen = np.union1d(t, p)
    return float(argmax_f1_per_class(truth, prediction)[seen].mean())


def accuracy(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Agreement of the most probable class with the label's majority class.

    >>> accuracy(np.eye(2)[[0, 1, 1]], np.array([[0.9, 0.1], [0.4, 0.6], [0.8, 0.2]]))
    0.6666666666666666
    """
    return emotion_metrics.accuracy(truth, prediction)


def uar(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Unweighted average recall of the most probable class over the classes present.

    >>> uar(np.eye(2)[[0, 0, 0, 1]], np.eye(2)[[0, 0, 0, 0]])
    0.5
    """
    return exvo_metrics.uar(np.argmax(truth, axis=1), np.argmax(prediction, axis=1))


def ccc(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Concordance correlation coefficient (population moments), mean over the columns.

    >>> ccc(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 0.5], [1.0, 0.5]]))
    0.5
    """
    return float(exvo_metrics.per_emotion_ccc(truth, prediction).mean())


def mae(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean absolute error over every value (in the target's units).

    >>> mae(np.array([[20.0], [30.0]]), np.array([[22.0], [27.0]]))
    2.5
    """
    return exvo_metrics.mae(np.ravel(truth), np.ravel(prediction))


def pearson(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Pearson correlation, mean over the columns; 0 for a column where either is constant.

    >>> round(pearson(np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [4.0], [7.0]])), 4)
    0.9934
    >>> pearson(np.array([[1.0], [2.0]]), np.array([[5.0], [5.0]]))
    0.0
    """
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 2 or len(t) == 0:
        raise ValueError(f"pearson needs two (N, K) arrays, got {t.shape} and {p.shape}")
    t, p = t - t.mean(axis=0), p - p.mean(axis=0)
    scale = np.sqrt((t * t).sum(axis=0) * (p * p).sum(axis=0))
    r = np.divide((t * p).sum(axis=0), scale, out=np.zeros(t.shape[1]), where=scale > 0)
    return float(r.mean())


def per_column_ccc(truth: np.ndarray, prediction: np.ndarray) -> list[float]:
    return exvo_metrics.per_emotion_ccc(truth, prediction).tolist()


def per_class_f1(truth: np.ndarray, prediction: np.ndarray) -> list[float]:
    return emotion_metrics.per_class_f1(truth, prediction).tolist()


def mean(values: Sequence[float]) -> float:
    """The mean of the listed metrics.

    >>> mean([0.5, 0.25])
    0.375
    """
    return float(np.mean(values))


def exvo_s_mtl(values: Sequence[float]) -> float:
    """ExVo's S_MTL = 3 / (1/ccc + mae + 1/uar) of (ccc, uar, mae); 0 when ccc or uar <= 0.

    >>> round(exvo_s_mtl([0.416, 0.506, 4.222]), 3)
    0.349
    """
    ccc_value, uar_value, mae_value = values
    return exvo_metrics.s_mtl(ccc_value, uar_value, mae_value)


METRICS.register("macro_f1", macro_f1, kinds=CATEGORICAL, breakdown=("f1", per_class_f1),
                 note="threshold 1/C macro-F1 over the whole split")
METRICS.register("argmax_macro_f1", argmax_macro_f1, kinds=CATEGORICAL,
                 breakdown=("argmax_f1", lambda t, p: argmax_f1_per_class(t, p).tolist()),
                 note="macro-F1 of the argmax over the classes in the truth or the prediction "
                      "(scikit-learn's f1_score average=macro; the IS25 challenge's F1-Macro)")
METRICS.register("accuracy", accuracy, kinds=CATEGORICAL,
                 note="argmax of the prediction vs argmax of the label")
METRICS.register("uar", uar, kinds=CATEGORICAL,
                 note="macro recall (argmax) over the classes present in the split")
METRICS.register("ccc", ccc, kinds=NUMERIC, breakdown=("ccc", per_column_ccc),
                 note="concordance correlation coefficient, population moments (variances and "
                      "covariance divided by N), mean over the target's columns")
METRICS.register("mae", mae, kinds=NUMERIC, higher_is_better=False,
                 note="mean absolute error, in the target's units")
METRICS.register("pearson", pearson, kinds=NUMERIC,
                 note="Pearson correlation, mean over the target's columns")

COMBINERS.register("mean", mean, note="mean of the listed metrics")
COMBINERS.register("exvo_s_mtl", exvo_s_mtl, arguments=("ccc", "uar", "mae"),
                   note="3 / (1/ccc + mae + 1/uar); 0 when ccc or uar <= 0")
