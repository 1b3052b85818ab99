"""EMO-SUPERB's emotion head: Linear(D, 256) -> mean over valid frames -> Linear(256, C)."""

from __future__ import annotations

import torch
from torch import nn

from emobench.upstream.featurizer import Featurizer


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
    """EMO-SUPERB's head: Linear(D, hidden) -> mean over valid frames -> Linear(hidden, C)."""

    linear_before_pooling = True

    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int):
        super().__init__()
        self.projector = nn.Linear(input_dim, hidden_dim)
        self.classifier = nn.Linear(hidden_dim, num_classes)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.classifier(masked_mean(self.projector(features), lengths))


class CNNSelfAttentionHead(nn.Module):
    """The alternative "DeepModel" head of s3prl's emotion task, with exact masking.

    Time average pooling (``pooling`` frames), three 1-D convolutions (ReLU, dropout),
    self-attention pooling over the valid frames only, then Linear -> ReLU -> Linear. It is
    nonlinear before the pooling, so it needs the frames path (the upstream on every batch).
    """

    linear_before_pooling = False

    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int, kernel_size: int = 5,
                 pooling: int = 5, dropout: float = 0.4):
        super().__init__()
        pad = kernel_size // 2
        self.pooling = pooling
        self.downsample = nn.AvgPool1d(pooling, pooling, ceil_mode=True)
        self.convs = nn.Sequential(
            nn.Dropout(dropout), nn.Conv1d(input_dim, hidden_dim, kernel_size, padding=pad),
            nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(hidden_dim, hidden_dim, kernel_size, padding=pad),
            nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(hidden_dim, hidden_dim, kernel_size, padding=pad))
        self.attention = nn.Linear(hidden_dim, 1)
        self.classifier = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                        nn.Linear(hidden_dim, num_classes))

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        valid = torch.arange(features.shape[1], device=features.device)[None] < lengths[:, None]
        x = self.downsample((features * valid[..., None]).transpose(1, 2))
        x = self.convs(x).transpose(1, 2)  # (batch, frames / pooling, hidden)
        kept = torch.div(lengths + self.pooling - 1, self.pooling, rounding_mode="floor")
        mask = torch.arange(x.shape[1], device=x.device)[None] < kept[:, None]
        scores = self.attention(x).squeeze(-1).masked_fill(~mask, float("-inf"))
        pooled = (torch.softmax(scores, dim=-1)[..., None] * x).sum(dim=1)
        return self.classifier(pooled)


class EmotionModel(nn.Module):
    """The trainable part: featurizer weights and head (the upstream is frozen, kept apart; a
    fine-tuned one, ``-f``, is attached as its ``upstream`` submodule: downstream/finetuning.py).

    ``feature_mean`` / ``feature_std`` (per hidden state and dimension; identity by default) are
    an optional affine standardisation of the prepared hidden states, fitted on the training set
    (``model.standardize_features``). Being affine per frame, it keeps the pooled path exact.
    """

    def __init__(self, featurizer: Featurizer, head: nn.Module, dim: int):
        super().__init__()
        self.featurizer = featurizer
        self.head = head
        self.register_buffer("feature_mean", torch.zeros(featurizer.num_layers, dim))
        self.register_buffer("feature_std", torch.ones(featurizer.num_layers, dim))

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        prepared = self.featurizer.prepare(hidden)  # (layers, batch, frames, dim)
        standard = (prepared - self.feature_mean[:, None, None]) / self.feature_std[:, None, None]
        return self.head(self.featurizer.combine(standard), lengths)

    def forward_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits from per-layer time-means ``(batch, layers, dim)`` of prepared hidden states.

        Exact for this head: the standardisation is affine and the featurizer's sum and the
        first Linear are linear, so they commute with the mean over valid frames.
        """
        if not self.head.linear_before_pooling:
            raise ValueError("this head is nonlinear before the pooling: it needs every frame")
        standard = (pooled - self.feature_mean) / self.feature_std
        combined = self.featurizer.combine(standard.transpose(0, 1))
        return self.head.classifier(self.head.projector(combined))

    @torch.no_grad()
    def fit_standardization(self, pooled: torch.Tensor) -> None:
        """Mean and std over training utterances of their per-layer time-means ``(N, L, D)``.

        Dimensions that never vary keep a std of 1 (they are only centred).
        """
        std = pooled.double().std(dim=0)
        self.feature_mean.copy_(pooled.double().mean(dim=0))
        self.feature_std.copy_(torch.where(std > 1e-12, std, torch.ones_like(std)))

