"""Few-shot personalisation: a speaker-agnostic regressor, and ways to adapt it to one speaker
from that speaker's support clips.

Every method receives the trained model and returns predictions for the speaker's queries; it
never changes the model it receives (``finetune`` adapts a deep copy), and it uses no random
numbers (full-batch steps), so the result for a speaker does not depend on which speakers were
adapted before it or in which order.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from emobench.core import optim
from emobench.core.registry import Registry
from emobench.downstream.functionals import LayerWeightedFunctionals
from emobench.upstream.featurizer import Featurizer

PARAMETER_GROUPS = ("output", "head", "layer_weights")


class FewShotModel(nn.Module):
    """Layer-weighted functionals -> Linear(F, hidden) -> LayerNorm -> LeakyReLU ->
    Linear(hidden, T) -> sigmoid: T intensities in [0, 1]."""

    def __init__(self, featurizer: Featurizer, feature_dim: int, hidden_dim: int,
                 num_targets: int):
        super().__init__()
        self.inputs = LayerWeightedFunctionals(featurizer, feature_dim)
        self.hidden = nn.Sequential(nn.Linear(feature_dim, hidden_dim), nn.LayerNorm(hidden_dim),
                                    nn.LeakyReLU())
        self.output = nn.Linear(hidden_dim, num_targets)

    @property
    def featurizer(self) -> Featurizer:
        return self.inputs.featurizer

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.output(self.hidden(self.inputs(features))))

    def parameter_group(self, name: str) -> list[nn.Parameter]:
        """``output`` (last layer), ``head`` (every layer after the weighted sum) or
        ``layer_weights`` (the featurizer's weights; none with ``-l``)."""
        if name == "output":
            return list(self.output.parameters())
        if name == "head":
            return [*self.hidden.parameters(), *self.output.parameters()]
        if name == "layer_weights":
            weights = self.featurizer.weights
            return [] if weights is None else [weights]
        raise ValueError(f"unknown parameter group {name!r}: one of {PARAMETER_GROUPS}")


Method = Callable[..., torch.Tensor]
METHODS = Registry("adaptation method")


@torch.no_grad()
def _predict(model: FewShotModel, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return model(x)


def unadapted(model, support_x, support_y, query_x, cfg) -> torch.Tensor:
    """The speaker-agnostic model's predictions."""
    return _predict(model, query_x)


def support_mean(model, support_x, support_y, query_x, cfg) -> torch.Tensor:
    """No model: every query gets the mean of the speaker's support labels.

    >>> support_mean(None, None, torch.tensor([[0.2, 1.0], [0.4, 0.0]]), torch.zeros(3, 1, 1),
    ...              None).tolist()
    [[0.30000001192092896, 0.5], [0.30000001192092896, 0.5], [0.30000001192092896, 0.5]]
    """
    return support_y.mean(dim=0, keepdim=True).expand(len(query_x), -1).clone()


def bias(model, support_x, support_y, query_x, cfg) -> torch.Tensor:
    """The model's predictions plus the speaker's mean support residual, clipped to [0, 1]."""
    offset = (support_y - _predict(model, support_x)).mean(dim=0, keepdim=True)
    return (_predict(model, query_x) + offset).clamp(0.0, 1.0)


def finetune(model, support_x, support_y, query_x, cfg) -> torch.Tensor:
    """``cfg.steps`` full-batch Adam steps on the support clips (MSE), on a copy of the model,
    updating only the ``cfg.params`` groups, with ``cfg.l2_sp * ||theta - theta_0||^2`` pulling
    toward the speaker-agnostic weights; then the adapted copy predicts the queries."""
    adapted = finetune_model(model, support_x, support_y, cfg)
    return _predict(adapted, query_x)


def finetune_model(model: FewShotModel, support_x: torch.Tensor, support_y: torch.Tensor,
                   cfg) -> FewShotModel:
    adapted = copy.deepcopy(model)
    adapted.eval()  # no dropout or batch statistics: the adapted model is the model as used
    for p in adapted.parameters():
        p.requires_grad_(False)
    params = list({id(p): p for g in cfg.params for p in adapted.parameter_group(g)}.values())
    if not params:
        return adapted
    for p in params:
        p.requires_grad_(True)
    start = [p.detach().clone() for p in params]
    optimizer = optim.Adam(params, lr=cfg.lr)  # torch's, without the compiler import
    for _ in range(cfg.steps):
        loss = F.mse_loss(adapted(support_x), support_y)
        if cfg.l2_sp > 0:
            loss = loss + cfg.l2_sp * sum(((p - p0) ** 2).sum() for p, p0 in zip(params, start))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    for p in adapted.parameters():
        p.requires_grad_(False)
    return adapted


METHODS.register("none", unadapted, description="the speaker-agnostic model")
METHODS.register("support_mean", support_mean, description="mean of the support labels")
METHODS.register("bias", bias, description="model + mean support residual")
METHODS.register("finetune", finetune, description="gradient steps on the support clips")
