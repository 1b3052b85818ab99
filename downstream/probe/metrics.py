"""Hard-label classification metrics of the probe and of cross-corpus cells (pure functions).

``truth`` and ``predicted`` are class indices; ``num_classes`` fixes the class list, so a class
absent from a split still counts in macro-F1 (as an F1 of 0 when it is predicted, else left out:
scikit-learn's ``zero_division=0`` over the classes present in truth or prediction).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Fraction of exact hits.

    >>> accuracy(np.array([0, 1, 1, 2]), np.array([0, 1, 0, 2]))
    0.75
    """
    return float(np.mean(np.asarray(truth) == np.asarray(predicted)))


def uar(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Unweighted average recall over the classes present in ``truth``.

    >>> uar(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]))  # recalls 1 and 0
    0.5
    """
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    return float(np.mean([np.mean(predicted[truth == c] == c) for c in np.unique(truth)]))


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-F1 over the classes present in truth or prediction.

    >>> round(macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])), 4)  # F1 0.6667, 0.8
    0.7333
    """
    return float(f1_score(truth, predicted, average="macro", zero_division=0))


def all_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """``accuracy``, ``uar`` and ``macro_f1`` of one split.

    >>> all_metrics(np.array([0, 1]), np.array([0, 1]))
    {'accuracy': 1.0, 'uar': 1.0, 'macro_f1': 1.0}
    """
    return {"accuracy": accuracy(truth, predicted), "uar": uar(truth, predicted),
            "macro_f1": macro_f1(truth, predicted)}


def majority_metrics(train_truth: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """The metrics of always predicting the training set's most frequent class (lowest index on
    a tie): the constant baseline.

    >>> majority_metrics(np.array([1, 1, 0]), np.array([1, 0]))["accuracy"]
    0.5
    """
    majority = int(np.bincount(np.asarray(train_truth)).argmax())
    return all_metrics(truth, np.full(len(truth), majority))
