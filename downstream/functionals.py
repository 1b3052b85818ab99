"""Per-hidden-state functionals of an utterance from the pooled cache, and the learnable
layer-weighted sum over them.

Per hidden state ``l`` the input is a functional vector ``f_l`` of the utterance (its time-mean,
or time-mean and standard deviation), z-scored by training statistics; the featurizer's softmax
weights sum them, ``sum_l w_l f_l``. Both functionals come from the pooled cache
(downstream/pooling.py): the mean and the mean of squares of every hidden state
(std = sqrt(E[h^2] - E[h]^2)). The std is taken per hidden state, before the weighted sum (the
std of the summed frames would need cross-layer covariances); with ``-l`` (one hidden state) the
two are the same.
"""

from __future__ import annotations

import torch
from torch import nn

from emobench.upstream.featurizer import Featurizer

SMALLEST = torch.finfo(torch.float32).tiny  # sqrt's argument where the variance is 0


def functionals(mean: torch.Tensor, square: torch.Tensor | None, kind: str) -> torch.Tensor:
    """``(N, L, D)`` statistics -> ``(N, L, D)`` (mean) or ``(N, L, 2D)`` (mean and std).

    >>> m, s = torch.tensor([[[1.0]]]), torch.tensor([[[5.0]]])  # E[h] = 1, E[h^2] = 5
    >>> functionals(m, s, "mean_std").tolist()
    [[[1.0, 2.0]]]

    A zero variance gives a std of 0 with a gradient of 0, not NaN (the frames path of a
    fine-tuned upstream backpropagates through it, downstream/multitask/frames.py):

    >>> m = torch.tensor([[[1.0, 2.0]]], requires_grad=True)
    >>> out = functionals(m, torch.tensor([[[5.0, 4.0]]]), "mean_std")  # variances 4 and 0
    >>> out.sum().backward(); out.tolist(), m.grad.isfinite().all().item()
    ([[[1.0, 2.0, 2.0, 0.0]]], True)
    """
    if kind == "mean":
        return mean
    if kind != "mean_std" or square is None:
        raise ValueError(f"functionals {kind!r}: mean, or mean_std with the mean of squares")
    variance = (square - mean * mean).clamp_min(0.0)
    std = torch.where(variance > 0, variance.clamp_min(SMALLEST).sqrt(),
                      torch.zeros_like(variance))
    return torch.cat([mean, std], dim=-1)


class LayerWeightedFunctionals(nn.Module):
    """Per-hidden-state functionals ``(batch, layers, F)`` -> z-scored -> softmax-weighted sum.

    ``feature_mean`` / ``feature_std`` (per hidden state and dimension; identity by default) are
    fitted on the training set by :meth:`fit_standardization`.
    """

    def __init__(self, featurizer: Featurizer, feature_dim: int):
        super().__init__()
        self.featurizer = featurizer
        self.width = feature_dim  # of the output
        self.register_buffer("feature_mean", torch.zeros(featurizer.num_layers, feature_dim))
        self.register_buffer("feature_std", torch.ones(featurizer.num_layers, feature_dim))

    @property
    def featurizers(self) -> list[Featurizer]:
        """The featurizer, as a list (a model with several input branches has one each)."""
        return [self.featurizer]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        standard = (features - self.feature_mean) / self.feature_std
        return self.featurizer.combine(standard.transpose(0, 1))

    @torch.no_grad()
    def fit_standardization(self, features: torch.Tensor) -> None:
        """Mean and std over training utterances ``(N, L, F)``; constant dimensions keep std 1."""
        std = features.double().std(dim=0)
        self.feature_mean.copy_(features.double().mean(dim=0))
        self.feature_std.copy_(torch.where(std > 1e-12, std, torch.ones_like(std)))
