"""What fine-tuning the upstream (``-f``, docs/finetuning.md) means for a task and the trainer.

- :func:`enable`: the run's upstream made trainable (upstream/finetune.py), or a ConfigError
  where the run cannot serve it: ``-m extract`` (the feature cache holds frozen features), a
  task or feature path that trains on cached pooled features;
- :func:`attach`: the fine-tuned upstream becomes the ``upstream`` submodule of the task's
  model, so that the one trainer optimises it and every checkpoint stores its weights (and
  ``-m evaluate`` restores them); a frozen upstream stays apart, as before;
- :func:`parameter_groups`: the optimizer's parameters: ``model.parameters()`` unchanged without
  a fine-tuned upstream, else the model's own parameters at ``train.lr`` and the upstream's
  trainable ones at ``train.upstream_lr`` (default ``train.lr``).
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from emobench.core.config import ConfigError
from emobench.core.context import RunContext
from emobench.core.experiment import LOG
from emobench.upstream import FrozenUpstream
from emobench.upstream.finetune import make_trainable, trainable_parameters

UPSTREAM = "upstream"  # the attribute of a model that holds its fine-tuned upstream
EXTRACT_REFUSAL = ("-f/--upstream_trainable with -m extract: the feature cache holds features "
                   "of the frozen upstream, and a fine-tuned upstream's change at every step; "
                   "train with -f directly (the upstream runs on every batch, nothing is cached)")


def enable(ctx: RunContext, upstream: FrozenUpstream, supported: str | None) -> None:
    """Make ``upstream`` trainable as ``ctx.upstream`` asks (-f); ``supported`` is None where
    the caller can fine-tune, else why it cannot (the refusal's reason)."""
    spec = ctx.upstream
    if not spec.trainable:
        return
    if ctx.mode == "extract":
        raise ConfigError(EXTRACT_REFUSAL)
    if supported is not None:
        raise ConfigError(f"-f/--upstream_trainable: {supported}")
    done = make_trainable(upstream, spec.trainable_layers)
    if ctx.mode == "train":
        LOG.info("fine-tuning upstream %s: %s; the expert stays in eval mode (no dropout), the "
                 "feature cache is not used", upstream.info.name, done.describe())
    else:
        LOG.info("upstream %s was fine-tuned (%s): its weights come from the checkpoint, not "
                 "the feature cache", upstream.info.name, done.describe())


def fine_tuned(upstream: FrozenUpstream) -> bool:
    return upstream.fine_tuning is not None


def attach(model: torch.nn.Module, upstream: FrozenUpstream) -> torch.nn.Module:
    """``model`` with a fine-tuned ``upstream`` as its submodule (a frozen one is left apart)."""
    if fine_tuned(upstream):
        model.add_module(UPSTREAM, upstream)
    return model


def parameter_groups(model: torch.nn.Module, lr: float, upstream_lr: float | None
                     ) -> Iterable[Any]:
    """The optimizer's parameters (see the module docstring)."""
    upstream = getattr(model, UPSTREAM, None)
    if not isinstance(upstream, FrozenUpstream) or not fine_tuned(upstream):
        if upstream_lr is not None:
            LOG.warning("train.upstream_lr=%g is ignored: the upstream is not fine-tuned (-f)",
                        upstream_lr)
        return model.parameters()
    own = [p for name, p in model.named_parameters()
           if not name.startswith(UPSTREAM + ".")]
    return [{"params": own},
            {"params": trainable_parameters(upstream),
             "lr": lr if upstream_lr is None else upstream_lr}]
