"""EMO-SUPERB metrics: threshold macro-F1 over a whole split, and the paper's batch average.

A class belongs to the prediction set when its probability exceeds 1/C and to the truth set when
its soft label exceeds 1/C. Macro-F1 is computed ONCE over the whole split (scikit-learn's
definition with ``zero_division=0``, computed in numpy: the same numbers, tested against
``sklearn.metrics.f1_score``, without importing scikit-learn at every run). The reference
implementation instead averages macro-F1 over batches of 32
(``paper_batch_macro_f1``): kept, labelled as such, only to compare with published numbers.
"""

from __future__ import annotations

import numpy as np


def label_sets(values: np.ndarray) -> np.ndarray:
    """Boolean sets: classes whose value exceeds 1/C.

    >>> label_sets(np.array([[0.6, 0.3, 0.1], [0.34, 0.34, 0.32]])).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0]]
    """
    values = np.asarray(values, dtype=np.float64)
    return values > 1.0 / values.shape[1]


def per_class_f1(truth: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """F1 of every class over the whole split.

    >>> y = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    >>> per_class_f1(y, np.array([[0.8, 0.2], [0.6, 0.4], [0.9, 0.1]])).round(3).tolist()
    [0.8, 0.0]
    """
    truth_sets, predicted = label_sets(truth), label_sets(probs)
    true_positive = (truth_sets & predicted).sum(axis=0)
    wrong = (truth_sets ^ predicted).sum(axis=0)  # false positives + false negatives
    denominator = 2 * true_positive + wrong
    return np.divide(2.0 * true_positive, denominator, out=np.zeros(len(denominator)),
                     where=denominator > 0)


def macro_f1(truth: np.ndarray, probs: np.ndarray) -> float:
    """Threshold macro-F1 over the whole split (the main metric).

    >>> y = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.5, 0.45, 0.05]])
    >>> macro_f1(y, y)
    1.0
    """
    return float(per_class_f1(truth, probs).mean())


def paper_batch_macro_f1(truth: np.ndarray, probs: np.ndarray, batch_size: int = 32) -> float:
    """The reference code's number: macro-F1 per batch of ``batch_size``, then averaged.

    Classes absent from a batch score 0 there, so even a perfect predictor scores below 1.

    >>> y = np.eye(3)[[0, 1, 2, 0]] * 0.9 + 0.05
    >>> round(paper_batch_macro_f1(y, y, batch_size=2), 4)
    0.6667
    """
    scores = [macro_f1(truth[i:i + batch_size], probs[i:i + batch_size])
              for i in range(0, len(truth), batch_size)]
    return float(np.mean(scores))


def accuracy(truth: np.ndarray, probs: np.ndarray) -> float:
    """Agreement of the most probable class with the label's majority class.

    >>> accuracy(np.array([[0.9, 0.1], [0.3, 0.7]]), np.array([[0.6, 0.4], [0.8, 0.2]]))
    0.5
    """
    return float(np.mean(np.argmax(truth, axis=1) == np.argmax(probs, axis=1)))


def all_metrics(truth: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    return {
        "macro_f1": macro_f1(truth, probs),
        "accuracy": accuracy(truth, probs),
        "paper_batch_macro_f1": paper_batch_macro_f1(truth, probs),
    }


def best_constant_probs(truth: np.ndarray) -> np.ndarray:
    """The constant probability vector with the highest macro-F1 on ``truth``.

    A constant predicts the same set S for every utterance. For a class in S, F1 =
    2 n_c / (n_c + N) (n_c utterances have it in their truth set); outside S it is 0. Macro-F1 is
    a sum over classes, so the best S holds every class with n_c > 0, except that a probability
    vector can put at most C - 1 classes above 1/C: then the class with the fewest positives is
    left out. The argmax is the most frequent majority class, so accuracy is the majority rate.

    >>> y = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.1, 0.45, 0.45]])
    >>> p = best_constant_probs(y)
    >>> label_sets(p[None]).astype(int).tolist(), int(np.argmax(p))
    ([[1, 1, 0]], 0)
    """
    truth = np.asarray(truth, dtype=np.float64)
    c = truth.shape[1]
    positives = label_sets(truth).sum(axis=0)
    chosen = positives > 0
    if chosen.all():
        chosen[np.argmin(positives)] = False
    majority = np.bincount(np.argmax(truth, axis=1), minlength=c)
    top = int(np.argmax(majority))
    k = int(chosen.sum())
    if k == 0:
        return np.full(c, 1.0 / c)
    eps = 0.5 / (c * c)  # keeps the chosen classes above 1/C and the others at or below it
    probs = np.where(chosen, 1.0 / c + eps, 0.0)
    probs[top] += eps if chosen[top] else 0.0
    probs[~chosen] = (1.0 - probs.sum()) / (c - k)
    return probs
