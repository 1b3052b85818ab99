"""Fine-tuning an upstream (s3prl's ``-f``): all of it, or its top N transformer layers.

:func:`make_trainable` turns a :class:`~upstream.base.FrozenUpstream` into a trainable one in
place: it chooses the parameters, switches their gradients on and records what it did in
``upstream.fine_tuning``. Which parameters:

- all (``layers=None``): every parameter of the expert that its hidden states reach through a
  gradient. A probe utterance is run forward and backward once to find them, so parameters the
  hidden states do not depend on stay frozen and are never handed to the optimizer: the
  pretraining heads (quantizer, ``project_q``, ``final_proj``, HuBERT's label embeddings) and,
  in the wav2vec 2.0 family, the convolutional waveform encoder, which s3prl's experts run
  without gradients (``feature_grad_mult = 0``, as in the wav2vec 2.0 fine-tuning recipe).
- the top ``layers`` transformer layers and what follows them: families with a layer list say
  which modules these are with a ``top_layers(expert, count)`` function (the wav2vec 2.0
  family: the last ``count`` encoder layers, plus the encoder's final layer norm in pre-LN
  models); only the hidden states from the first of them on change.

A family that cannot be fine-tuned says why in a module-level ``FINE_TUNING_REFUSAL`` (openSMILE);
an upstream whose hidden states reach no parameter (the filterbanks) is refused too. The expert
stays in eval mode: dropout and layerdrop stay off while fine-tuning (the usual SUPERB choice for
stability; s3prl's own runner switches the expert to train mode), so a batch's hidden states
during training are the ones evaluation computes with the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from emobench.core.config import ConfigError
from emobench.upstream.registry import UPSTREAMS

if TYPE_CHECKING:
    from emobench.upstream.base import FrozenUpstream

PROBE_SAMPLES = 16_000


class FineTuningRefused(ConfigError):
    """An upstream (or a part of it) that cannot be fine-tuned, with the reason."""


@dataclass(frozen=True)
class FineTuning:
    """What :func:`make_trainable` made trainable."""

    layers: int | None  # the top N transformer layers; None: all of the upstream
    parameters: int  # trainable parameters (numbers, not tensors)
    tensors: int  # trainable parameter tensors
    names: tuple[str, ...]  # their names in ``upstream.expert``

    def describe(self) -> str:
        what = "all of it" if self.layers is None else f"its top {self.layers} layers"
        return f"{what}: {self.parameters:,} parameters in {self.tensors} tensors"


def make_trainable(upstream: FrozenUpstream, layers: int | None = None) -> FineTuning:
    """Switch on the gradients of all of ``upstream`` or of its top ``layers`` layers."""
    name = upstream.info.name
    family = UPSTREAMS.get(name)
    refusal = getattr(family, "FINE_TUNING_REFUSAL", None)
    if refusal:
        raise FineTuningRefused(f"-f/--upstream_trainable: upstream {name} cannot be fine-tuned: "
                                f"{refusal}")
    if layers is None:
        chosen = list(upstream.expert.parameters())
    else:
        top = getattr(family, "top_layers", None)
        if top is None:
            raise FineTuningRefused(
                f"--upstream_trainable_layers {layers}: upstream {name} has no transformer layer "
                "list to take the top layers from; fine-tune all of it (-f alone)")
        chosen = [p for module in top(upstream.expert, layers) for p in module.parameters()]
    reached = _reached(upstream, chosen)
    if not reached:
        raise FineTuningRefused(
            f"-f/--upstream_trainable: upstream {name} has nothing to train: no parameter "
            + ("(it has none) " if not chosen else "") + "receives a gradient from its hidden "
            "states")
    names = tuple(n for n, p in upstream.expert.named_parameters() if id(p) in reached)
    params = [p for p in upstream.expert.parameters() if id(p) in reached]
    upstream.fine_tuning = FineTuning(layers, sum(p.numel() for p in params), len(params), names)
    return upstream.fine_tuning


def trainable_parameters(upstream: FrozenUpstream) -> list[torch.nn.Parameter]:
    """The parameters :func:`make_trainable` switched on (none for a frozen upstream)."""
    return [p for p in upstream.expert.parameters() if p.requires_grad]


def _reached(upstream: FrozenUpstream, chosen: list[torch.nn.Parameter]) -> set[int]:
    """Of ``chosen``, the parameters a probe's hidden states give a gradient to (the others, and
    every parameter not chosen, are left without gradients)."""
    for p in upstream.expert.parameters():
        p.requires_grad_(False)
        p.grad = None
    for p in chosen:
        p.requires_grad_(True)
    if not chosen:
        return set()
    probe = torch.randn(PROBE_SAMPLES, generator=torch.Generator().manual_seed(0)) * 0.1
    device = chosen[0].device
    previous, upstream.fine_tuning = upstream.fine_tuning, "probe"
    try:
        with torch.enable_grad():
            hidden, _ = upstream([probe.to(device)])
            if hidden.requires_grad:
                hidden.float().square().mean().backward()
    finally:
        upstream.fine_tuning = previous
    reached = {id(p) for p in chosen if p.grad is not None}
    for p in chosen:
        p.grad = None
        p.requires_grad_(id(p) in reached)
    return reached
