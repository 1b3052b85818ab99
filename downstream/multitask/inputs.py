"""The input of the multitask network: a list of input branches, each a layer-weighted
functional of one upstream's ``(N, L, F)`` features, concatenated (early fusion).

One upstream (the usual run) is one branch: :func:`input_branches` then returns the
:class:`~emobench.downstream.functionals.LayerWeightedFunctionals` itself, so the network,
its parameters and its checkpoints are those of a single-upstream run. Several upstreams
(``-u wavlm,hubert``) give one branch each, with its own learnable softmax layer weights and its
own training-set standardisation; their outputs are concatenated, ``F_1 + F_2 + ...`` wide, before
the trunk. The features of several branches travel together as :class:`Parts`, indexed by row
like one tensor, so batching, prediction and standardisation code does not change. Any other
``(N, L, F)`` source (e.g. a text model's per-layer functionals) is one more branch.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from emobench.downstream.functionals import LayerWeightedFunctionals
from emobench.upstream.featurizer import Featurizer


class Parts:
    """The ``(N, L_i, F_i)`` features of several branches for the same N rows.

    >>> x = Parts([torch.zeros(4, 3, 2), torch.ones(4, 1, 5)])
    >>> len(x), dims(x), dims(x[torch.tensor([0, 2])].parts[1])
    (4, [2, 5], 5)
    """

    def __init__(self, parts: Sequence[torch.Tensor]):
        self.parts = tuple(parts)
        sizes = {len(p) for p in self.parts}
        if len(sizes) != 1:
            raise ValueError(f"input branches with different numbers of rows: {sorted(sizes)}")

    def __len__(self) -> int:
        return len(self.parts[0])

    def __getitem__(self, rows) -> "Parts":
        return Parts([p[rows] for p in self.parts])

    def to(self, device) -> "Parts":
        return Parts([p.to(device) for p in self.parts])


def join(parts: Sequence[torch.Tensor]) -> torch.Tensor | Parts:
    """One branch's tensor as it is; several as :class:`Parts`."""
    return parts[0] if len(parts) == 1 else Parts(parts)


def dims(features: torch.Tensor | Parts) -> int | list[int]:
    """The feature width F of one tensor, or of every branch (as checkpoints record it)."""
    features = getattr(features, "speech", features)  # speech + text (fusion.py): the speech
    if isinstance(features, Parts):
        return [int(p.shape[2]) for p in features.parts]
    return int(features.shape[2])


class InputBranches(nn.Module):
    """Several branches side by side: each standardises and layer-weights its own features;
    the outputs are concatenated in branch order.

    >>> b = InputBranches([LayerWeightedFunctionals(Featurizer(3), 2),
    ...                    LayerWeightedFunctionals(Featurizer(1), 5)])
    >>> b.width, tuple(b(Parts([torch.zeros(4, 3, 2), torch.ones(4, 1, 5)])).shape)
    (7, (4, 7))
    """

    def __init__(self, branches: Sequence[LayerWeightedFunctionals]):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.width = sum(b.width for b in branches)

    @property
    def featurizers(self) -> list[Featurizer]:
        return [b.featurizer for b in self.branches]

    def forward(self, features: Parts) -> torch.Tensor:
        return torch.cat([b(x) for b, x in zip(self.branches, features.parts)], dim=-1)

    @torch.no_grad()
    def fit_standardization(self, features: Parts) -> None:
        for branch, x in zip(self.branches, features.parts):
            branch.fit_standardization(x)


def input_branches(featurizers: Sequence[Featurizer],
                   feature_dims: int | Sequence[int]) -> LayerWeightedFunctionals | InputBranches:
    """The network's input module: one branch per featurizer, of width ``feature_dims``
    (an int for one branch, as single-upstream checkpoints record it)."""
    widths = [feature_dims] if isinstance(feature_dims, int) else list(feature_dims)
    if len(widths) != len(featurizers):
        raise ValueError(f"{len(featurizers)} input branches but {len(widths)} feature widths")
    branches = [LayerWeightedFunctionals(f, int(w)) for f, w in zip(featurizers, widths)]
    return branches[0] if len(branches) == 1 else InputBranches(branches)
