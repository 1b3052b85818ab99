"""One head per target on the shared layer-weighted pooled functionals, optionally behind the
ExVo baseline's shared trunk (Sys-1: Linear 128 -> LayerNorm -> LeakyReLU -> Linear 64 ->
LayerNorm -> LeakyReLU; Sys-2: 256 -> 128).

Each head is Linear(width, h) -> LeakyReLU -> Linear(h, k) (``head_hidden`` h; null: one
Linear), followed by the target kind's activation (sigmoid intensities, a scalar regression,
class logits). Parameters are created in the order functionals, trunk, heads (in target order),
learned loss log-variances, so a given seed gives the same initial network as the ExVo baseline
code did for the same targets.
"""

from __future__ import annotations

import torch
from torch import nn

from emobench.downstream.functionals import LayerWeightedFunctionals
from emobench.downstream.multitask.inputs import InputBranches, Parts
from emobench.downstream.multitask.kinds import Target
from emobench.upstream.featurizer import Featurizer

SYSTEMS = {"none": (), "sys1": (128, 64), "sys2": (256, 128)}  # shared hidden sizes


def trunk(input_dim: int, system: str) -> tuple[nn.Module, int]:
    """The shared trunk of ``system`` and its output width.

    >>> trunk(10, "sys1")[1], trunk(10, "none")[1]
    (64, 10)
    """
    layers: list[nn.Module] = []
    width = input_dim
    for size in SYSTEMS[system]:
        layers += [nn.Linear(width, size), nn.LayerNorm(size), nn.LeakyReLU()]
        width = size
    return nn.Sequential(*layers), width


def head(width: int, hidden: int | None, outputs: int) -> nn.Module:
    if hidden is None:
        return nn.Linear(width, outputs)
    return nn.Sequential(nn.Linear(width, hidden), nn.LeakyReLU(), nn.Linear(hidden, outputs))


class MultitaskModel(nn.Module):
    """Input branches (downstream/multitask/inputs.py: the layer-weighted functionals of one
    upstream, or of several concatenated) -> trunk -> one head per target (+ loss
    log-variances)."""

    def __init__(self, inputs: LayerWeightedFunctionals | InputBranches, targets: list[Target],
                 system: str = "none", head_hidden: int | None = 32, uncertainty: bool = False):
        super().__init__()
        self.inputs = inputs
        self.trunk, width = trunk(inputs.width, system)
        self.kinds = {t.name: t.kind for t in targets}
        self.heads = nn.ModuleDict({t.name: head(width, head_hidden, t.size) for t in targets})
        self.log_vars = nn.Parameter(torch.zeros(len(targets))) if uncertainty else None

    @property
    def featurizers(self) -> list[Featurizer]:
        """One per input branch."""
        return self.inputs.featurizers

    @property
    def featurizer(self) -> Featurizer:
        """The first branch's (the trainer logs its weights)."""
        return self.featurizers[0]

    def forward(self, features: torch.Tensor | Parts) -> dict[str, torch.Tensor]:
        """``(batch, layers, F)`` functionals (:class:`Parts` of several branches) -> every
        target's activated output."""
        shared = self.trunk(self.inputs(features))
        return {name: self.kinds[name].activate(h(shared)) for name, h in self.heads.items()}

    def fit_standardization(self, features: torch.Tensor | Parts) -> None:
        self.inputs.fit_standardization(features)


def combine(losses: torch.Tensor, weights: torch.Tensor, log_vars: torch.Tensor | None,
            how: str) -> torch.Tensor:
    """The loss to minimise from the per-target losses: mean or sum of the weighted losses, or
    ``sum_i exp(-s_i) w_i L_i + s_i`` with learned ``s_i`` (``uncertainty``).

    >>> L, w = torch.tensor([1.0, 2.0, 3.0]), torch.ones(3)
    >>> float(combine(L, w, None, "mean")), float(combine(L, torch.tensor([1., 1, 0]), None, "sum"))
    (2.0, 3.0)
    >>> float(combine(L, w, torch.zeros(3), "uncertainty"))  # s = 0: the plain sum
    6.0
    """
    weighted = losses if bool((weights == 1).all()) else losses * weights
    if how == "uncertainty":
        return (torch.exp(-log_vars) * weighted + log_vars).sum()
    return weighted.sum() if how == "sum" else weighted.mean()
