"""The ExVo 2022 multitask baseline network behind a learnable layer-weighted sum.

Per hidden state ``l`` the input is a functional vector ``f_l`` of the utterance (its time-mean,
or time-mean and standard deviation), z-scored by training statistics; the featurizer's softmax
weights sum them, ``sum_l w_l f_l``, and the baseline network maps the result to the ten
intensities, the age and the country. Both functionals come from the pooled cache: the mean and
the mean of squares of every hidden state (std = sqrt(E[h^2] - E[h]^2)). The std is taken per
hidden state, before the weighted sum (the std of the summed frames would need cross-layer
covariances); with ``-l`` (one hidden state) the two are the same.
"""

from __future__ import annotations

import torch
from torch import nn

from emobench.upstream.featurizer import Featurizer

SYSTEMS = {"sys1": (128, 64), "sys2": (256, 128)}  # shared hidden sizes
HEAD_HIDDEN = 32
NUM_EMOTIONS, NUM_COUNTRIES = 10, 4


def functionals(mean: torch.Tensor, square: torch.Tensor | None, kind: str) -> torch.Tensor:
    """``(N, L, D)`` statistics -> ``(N, L, D)`` (mean) or ``(N, L, 2D)`` (mean and std).

    >>> m, s = torch.tensor([[[1.0]]]), torch.tensor([[[5.0]]])  # E[h] = 1, E[h^2] = 5
    >>> functionals(m, s, "mean_std").tolist()
    [[[1.0, 2.0]]]
    """
    if kind == "mean":
        return mean
    if kind != "mean_std" or square is None:
        raise ValueError(f"functionals {kind!r}: mean, or mean_std with the mean of squares")
    std = (square - mean * mean).clamp_min(0.0).sqrt()
    return torch.cat([mean, std], dim=-1)


def _head(width: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, HEAD_HIDDEN), nn.LeakyReLU(),
                         nn.Linear(HEAD_HIDDEN, outputs))


class MultiTaskNet(nn.Module):
    """Shared Linear -> LayerNorm -> LeakyReLU -> Linear -> LayerNorm -> LeakyReLU; three heads
    Linear(., 32) -> LeakyReLU -> Linear(32, k): 10 sigmoid intensities, age, 4 country logits."""

    def __init__(self, input_dim: int, system: str = "sys1"):
        super().__init__()
        first, second = SYSTEMS[system]
        self.shared = nn.Sequential(
            nn.Linear(input_dim, first), nn.LayerNorm(first), nn.LeakyReLU(),
            nn.Linear(first, second), nn.LayerNorm(second), nn.LeakyReLU())
        self.emotions = _head(second, NUM_EMOTIONS)
        self.age = _head(second, 1)
        self.country = _head(second, NUM_COUNTRIES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        shared = self.shared(x)
        return (torch.sigmoid(self.emotions(shared)), self.age(shared).squeeze(-1),
                self.country(shared))


class LayerWeightedFunctionals(nn.Module):
    """Per-hidden-state functionals ``(batch, layers, F)`` -> z-scored -> softmax-weighted sum.

    ``feature_mean`` / ``feature_std`` (per hidden state and dimension; identity by default) are
    fitted on the training set by :meth:`fit_standardization`.
    """

    def __init__(self, featurizer: Featurizer, feature_dim: int):
        super().__init__()
        self.featurizer = featurizer
        self.register_buffer("feature_mean", torch.zeros(featurizer.num_layers, feature_dim))
        self.register_buffer("feature_std", torch.ones(featurizer.num_layers, feature_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        standard = (features - self.feature_mean) / self.feature_std
        return self.featurizer.combine(standard.transpose(0, 1))

    @torch.no_grad()
    def fit_standardization(self, features: torch.Tensor) -> None:
        """Mean and std over training utterances ``(N, L, F)``; constant dimensions keep std 1."""
        std = features.double().std(dim=0)
        self.feature_mean.copy_(features.double().mean(dim=0))
        self.feature_std.copy_(torch.where(std > 1e-12, std, torch.ones_like(std)))


class ExVoModel(nn.Module):
    """Layer-weighted functionals, the multitask network and (for the ``uncertainty`` loss)
    three learned log-variances."""

    def __init__(self, featurizer: Featurizer, feature_dim: int, system: str,
                 uncertainty: bool = False):
        super().__init__()
        self.inputs = LayerWeightedFunctionals(featurizer, feature_dim)
        self.net = MultiTaskNet(feature_dim, system)
        self.log_vars = nn.Parameter(torch.zeros(3)) if uncertainty else None

    @property
    def featurizer(self) -> Featurizer:
        return self.inputs.featurizer

    def forward(self, features: torch.Tensor):
        """``(batch, layers, F)`` functionals -> (intensities, standardised age, country logits)."""
        return self.net(self.inputs(features))

    def fit_standardization(self, features: torch.Tensor) -> None:
        self.inputs.fit_standardization(features)
