"""ExVo multitask losses: MSE (intensities), MSE (standardised age), cross-entropy (country)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def task_losses(outputs, emotions: torch.Tensor, age: torch.Tensor,
                country: torch.Tensor) -> torch.Tensor:
    """The three losses ``[emotion MSE, age MSE, country CE]`` of a batch (age standardised)."""
    emotions_pred, age_pred, country_logits = outputs
    return torch.stack([F.mse_loss(emotions_pred, emotions), F.mse_loss(age_pred, age),
                        F.cross_entropy(country_logits, country)])


def combine(losses: torch.Tensor, log_vars: torch.Tensor | None) -> torch.Tensor:
    """Mean of the three losses, or ``sum_i exp(-s_i) L_i + s_i`` with learned ``s_i``.

    >>> combine(torch.tensor([1.0, 2.0, 3.0]), None)
    tensor(2.)
    >>> combine(torch.tensor([1.0, 2.0, 3.0]), torch.zeros(3))  # s = 0: the plain sum
    tensor(6.)
    """
    if log_vars is None:
        return losses.mean()
    return (torch.exp(-log_vars) * losses + log_vars).sum()
