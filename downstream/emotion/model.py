"""EMO-SUPERB's emotion head: Linear(D, 256) -> mean over valid frames -> Linear(256, C)."""

from __future__ import annotations

import torch
from torch import nn

from upstream.featurizer import Featurizer


def masked_mean(features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over the first ``lengths[b]`` frames of every item.

    >>> x = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> masked_mean(x, torch.tensor([2])).tolist()
    [[2.0]]
    """
    mask = torch.arange(features.shape[1], device=features.device)[None, :] < lengths[:, None]
    summed = (features * mask[..., None]).sum(dim=1)
    return summed / lengths[:, None].to(features.dtype)


class EmotionHead(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int):
        super().__init__()
        self.projector = nn.Linear(input_dim, hidden_dim)
        self.classifier = nn.Linear(hidden_dim, num_classes)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.classifier(masked_mean(self.projector(features), lengths))


class EmotionModel(nn.Module):
    """The trainable part: featurizer weights and head (the upstream is frozen, kept apart)."""

    def __init__(self, featurizer: Featurizer, head: EmotionHead):
        super().__init__()
        self.featurizer = featurizer
        self.head = head

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.featurizer(hidden), lengths)
