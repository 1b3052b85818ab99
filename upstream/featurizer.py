"""s3prl-style featurizer: a learnable softmax-weighted sum of an upstream's hidden states."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Featurizer(nn.Module):
    """One weight per hidden state, initialised to zero (uniform after softmax).

    ``layer`` selects a single hidden state instead of the weighted sum (s3prl's ``-l``);
    ``normalize`` applies a layer norm without affine parameters to every hidden state before
    the sum (s3prl's ``--upstream_feature_normalize``).

    >>> f = Featurizer(3)
    >>> f.layer_weights()
    [0.3333333432674408, 0.3333333432674408, 0.3333333432674408]
    >>> h = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 4)
    >>> f(h)[0, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, num_layers: int, layer: int | None = None, normalize: bool = False):
        super().__init__()
        if layer is not None and not -num_layers <= layer < num_layers:
            raise ValueError(f"layer {layer} does not exist: the upstream has {num_layers} "
                             f"hidden states (0..{num_layers - 1})")
        self.num_layers = num_layers
        self.layer = None if layer is None else layer % num_layers
        self.normalize = normalize
        self.weights = nn.Parameter(torch.zeros(num_layers)) if self.layer is None else None

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(layers, batch, frames, dim)`` -> ``(batch, frames, dim)``."""
        return self.combine(self.prepare(hidden))

    def prepare(self, hidden: torch.Tensor) -> torch.Tensor:
        """The per-frame, per-layer part: the optional layer norm (no learnable parameters)."""
        return F.layer_norm(hidden, hidden.shape[-1:]) if self.normalize else hidden

    def combine(self, hidden: torch.Tensor) -> torch.Tensor:
        """The learnable part: the weighted sum over the first (layer) axis, or one layer.

        Linear in ``hidden``, so it commutes with a mean over frames: combining per-layer
        time-means equals time-averaging the combined frames.
        """
        if self.layer is not None:
            return hidden[self.layer]
        weights = F.softmax(self.weights, dim=0)
        return torch.tensordot(weights, hidden, dims=([0], [0]))

    def layer_weights(self) -> list[float]:
        """The normalised weight of every hidden state (one-hot for a single layer)."""
        if self.layer is not None:
            return [float(i == self.layer) for i in range(self.num_layers)]
        return F.softmax(self.weights.detach(), dim=0).tolist()
