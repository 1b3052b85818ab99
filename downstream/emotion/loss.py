"""EMO-SUPERB class-balanced soft-label cross-entropy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def class_balanced_weights(train_labels: np.ndarray) -> np.ndarray:
    """Cui et al. (2019) weights as EMO-SUPERB computes them from the training labels.

    Labels are binarised at 1/C; n_c = positives of class c; N = training size;
    beta = (N - 1) / N; w_c = (1 - beta) / (1 - beta ** n_c); w = w / sum(w) * C.
    A class with no positive gets weight 0 (the reference divides by zero there).

    >>> class_balanced_weights(np.eye(2)[[0, 0, 0, 1]] * 0.9 + 0.05).round(4).tolist()
    [0.6038, 1.3962]
    """
    labels = np.asarray(train_labels, dtype=np.float64)
    n, c = labels.shape
    positives = (labels > 1.0 / c).sum(axis=0)
    beta = (n - 1) / n
    weights = np.zeros(c)
    present = positives > 0
    if beta == 0.0:  # a single training utterance: every present class weighs the same
        weights[present] = 1.0
    else:
        weights[present] = (1.0 - beta) / (1.0 - beta ** positives[present])
    if weights.sum() == 0:
        raise ValueError("no class has a positive training label: cannot weight classes")
    return weights / weights.sum() * c


def soft_label_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -(sum_c w_c y_ic) * sum_c y_ic log softmax(z_i)_c."""
    scale = labels @ weights
    return (-scale * (labels * F.log_softmax(logits, dim=-1)).sum(dim=-1)).mean()
