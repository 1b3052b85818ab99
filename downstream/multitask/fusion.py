"""Speech + text early fusion for the multitask heads (the IS25 challenge winner's framework,
docs/text.md).

speech: per-hidden-state pooled functionals -> z-scored -> softmax-weighted sum (the speech
featurizer) -> optional pointwise projection (a Linear, ``model.fusion.projection``);
text: per-hidden-state pooled transcript embeddings -> z-scored on the training rows that have a
transcript -> softmax-weighted sum (or one chosen hidden state: the text featurizer);
the two are concatenated with a missing-transcript flag, ``[speech, text * (1 - m), m]``, and
go to the trunk and the per-target heads (downstream/multitask/model.py). A row without a
transcript (``data.missing_transcripts: speech_only``) thus has a zero text vector (the training
mean, after z-scoring) and ``m = 1``, whose weight in each head's first layer is learnt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from emobench.downstream.functionals import LayerWeightedFunctionals
from emobench.upstream.featurizer import Featurizer


@dataclass(frozen=True)
class FusedFeatures:
    """Row-aligned speech functionals ``(N, L, F)``, text embeddings ``(N, Lt, Dt)`` and
    missing-transcript flags ``(N,)``; indexed by rows like a tensor.

    >>> f = FusedFeatures(torch.zeros(4, 2, 3), torch.ones(4, 5, 6), torch.tensor([0, 1, 0, 0]) > 0)
    >>> len(f[1:3]), f[np.array([True, False, True, False])].text.shape, f.shape
    (2, torch.Size([2, 5, 6]), torch.Size([4, 2, 3]))
    """

    speech: torch.Tensor
    text: torch.Tensor
    missing: torch.Tensor
    record: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def shape(self) -> torch.Size:
        """The speech functionals' shape (where the task reads the speech feature size)."""
        return self.speech.shape

    def __len__(self) -> int:
        return len(self.speech)

    def __getitem__(self, rows: Any) -> "FusedFeatures":
        if isinstance(rows, np.ndarray):
            rows = torch.from_numpy(rows)
        if isinstance(rows, torch.Tensor):  # the speech may be frames.FrameRows (no device)
            rows = rows.to(self.text.device)
        return FusedFeatures(self.speech[rows], self.text[rows], self.missing[rows], self.record)

    def to(self, device: torch.device | str) -> "FusedFeatures":
        return FusedFeatures(self.speech.to(device), self.text.to(device),
                             self.missing.to(device), self.record)


class FusionInputs(nn.Module):
    """The fused input vector of a batch: ``[projected speech, text * (1 - m), m]``; without a
    text branch, the projected speech vector alone."""

    def __init__(self, speech: nn.Module, projection: int | None,
                 text: tuple[int, int, int | None] | None = None):
        super().__init__()
        self.speech = speech  # the speech input branches (inputs.py): one upstream or several
        self.projection = nn.Linear(speech.width, projection) if projection else nn.Identity()
        self.width = projection or speech.width
        self.text = None
        if text is not None:
            layers, dim, layer = text
            self.text = LayerWeightedFunctionals(Featurizer(layers, layer), dim)
            self.width += dim + 1

    @property
    def featurizers(self) -> list[Featurizer]:
        """The speech branches' (the text featurizer is :attr:`text_featurizer`)."""
        return self.speech.featurizers

    @property
    def text_featurizer(self) -> Featurizer | None:
        return None if self.text is None else self.text.featurizer

    def forward(self, features: FusedFeatures | torch.Tensor) -> torch.Tensor:
        speech = features.speech if isinstance(features, FusedFeatures) else features
        out = self.projection(self.speech(speech))
        if self.text is None:
            return out
        present = (~features.missing).to(out.dtype)[:, None]
        text = self.text(features.text) * present
        return torch.cat([out, text, 1.0 - present], dim=1)

    def fit_standardization(self, features: FusedFeatures | torch.Tensor) -> None:
        """z-score statistics of the training rows (text: of those with a transcript)."""
        speech = features.speech if isinstance(features, FusedFeatures) else features
        self.speech.fit_standardization(speech)
        if self.text is not None:
            with_text = features.text[~features.missing]
            if len(with_text):
                self.text.fit_standardization(with_text)


def fusion_inputs(model_cfg: Any, speech: nn.Module,
                  features: "FusedFeatures | torch.Tensor | Any") -> nn.Module:
    """The model's input module: ``speech`` (the speech input branches) as it is, or within a
    :class:`FusionInputs` for ``model.text`` / ``model.fusion``."""
    text = None
    if isinstance(features, FusedFeatures):
        text = (features.text.shape[1], features.text.shape[2], model_cfg.text.layer)
    if text is None and not model_cfg.fusion.projection:
        return speech
    return FusionInputs(speech, model_cfg.fusion.projection, text)
