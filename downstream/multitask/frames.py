"""The multitask task's frames path, taken when the upstream is fine-tuned (``-f``,
docs/finetuning.md): the upstream runs on every batch and the functionals are computed in the
graph, exactly as the pooled path computes them once per utterance.

The pooled path trains on ``(N, L, F)`` functionals of every utterance (the per-layer time-mean,
or mean and std, of the optionally layer-normed hidden states, downstream/pooling.py). Here
:class:`FrameRows` stands in for that tensor (rows of the waveform dataset: indexing, ``len``,
``shape`` and ``.to(device)`` as the tensor's) and :class:`FramesModel` turns rows into the same
functionals (waveforms -> upstream -> :func:`upstream.cache.statistics` -> functionals) before
the task's :class:`~downstream.multitask.model.MultitaskModel`. So the task's training, selection
and evaluation code runs unchanged on either path, and nothing is read from or written to the
feature cache. The model holds the upstream (``upstream``): the trainer optimises it and the
checkpoints store its fine-tuned weights.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn

from emobench.core.context import RunContext
from emobench.core.experiment import LOG
from emobench.downstream.finetuning import fine_tuned
from emobench.downstream.functionals import functionals
from emobench.downstream.multitask.model import MultitaskModel
from emobench.downstream.pooling import waveform
from emobench.downstream.waveforms import WaveformDataset
from emobench.upstream import FrozenUpstream
from emobench.upstream.cache import statistics


class FrameRows:
    """Rows of a waveform dataset in place of their ``(N, layers, width)`` functionals."""

    def __init__(self, waveforms: WaveformDataset, rows: np.ndarray, layers: int, width: int,
                 device: torch.device | None = None):
        self.waveforms, self.rows = waveforms, rows
        self.layers, self.width, self.device = layers, width, device

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.rows), self.layers, self.width)

    def __getitem__(self, index: Any) -> "FrameRows":
        """The rows that ``index`` (a slice, index tensor or array, boolean mask) selects."""
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return FrameRows(self.waveforms, self.rows[index], self.layers, self.width, self.device)

    def to(self, device: torch.device) -> "FrameRows":
        return FrameRows(self.waveforms, self.rows, self.layers, self.width, device)

    def audio(self) -> list[torch.Tensor]:
        """The rows' (standardised) waveforms, on the device."""
        return [waveform(self.waveforms, int(i)).to(self.device) for i in self.rows]


class FramesModel(nn.Module):
    """The fine-tuned upstream, the functionals in the graph and the task's model on top."""

    def __init__(self, upstream: FrozenUpstream, head: MultitaskModel, kind: str, chunk: int):
        super().__init__()
        self.head = head
        self.upstream = upstream
        self.kind, self.chunk = kind, chunk

    @property
    def featurizer(self):
        return self.head.featurizer

    @property
    def featurizers(self) -> list:
        return self.head.featurizers

    @property
    def log_vars(self) -> torch.Tensor | None:
        return self.head.log_vars

    @property
    def inputs(self) -> nn.Module:  # the head's input branches (speech, text)
        return self.head.inputs

    def features(self, rows: FrameRows) -> torch.Tensor:
        """``(len(rows), layers, width)`` functionals, ``chunk`` utterances per upstream call."""
        parts = []
        for first in range(0, len(rows), self.chunk):
            hidden, lengths = self.upstream(rows[first:first + self.chunk].audio())
            prepared = self.head.featurizer.prepare(hidden.float())
            stats = statistics(prepared, lengths.to(prepared.device))
            parts.append(functionals(stats["mean"], stats["square"], self.kind))
        return torch.cat(parts)

    def computed(self, rows: Any) -> Any:
        """The rows' functionals; rows fused with text (downstream/multitask/fusion.py,
        a ``speech`` field of FrameRows) keep their text and get their speech functionals."""
        if isinstance(rows, FrameRows):
            return self.features(rows)
        return dataclasses.replace(rows, speech=self.features(rows.speech))

    def forward(self, rows: Any) -> dict[str, torch.Tensor]:
        return self.head(self.computed(rows))

    @torch.no_grad()
    def fit_standardization(self, rows: Any) -> None:
        """z-scores from the training rows' functionals of the upstream before fine-tuning."""
        self.head.fit_standardization(self.computed(rows))


def inputs(ctx: RunContext, waveforms: WaveformDataset, upstream: FrozenUpstream) -> FrameRows:
    """Every row of ``waveforms`` for the frames path (the pooled path's features' stand-in)."""
    cfg = ctx.config
    if cfg.data.extract_precision != "float32":
        LOG.info("data.extract_precision=%s applies to the pooled path only: the fine-tuned "
                 "upstream runs in float32", cfg.data.extract_precision)
    width = upstream.dim * (2 if cfg.model.functionals == "mean_std" else 1)
    return FrameRows(waveforms, np.arange(len(waveforms)), upstream.num_layers, width)


def wrap(ctx: RunContext, upstream: FrozenUpstream, model: MultitaskModel) -> nn.Module:
    """``model`` behind a fine-tuned upstream (:class:`FramesModel`); as is when frozen."""
    if not fine_tuned(upstream):
        return model
    cfg = ctx.config
    return FramesModel(upstream, model, cfg.model.functionals, cfg.train.extract_batch_size)


def path_name(upstream: FrozenUpstream, kind: str) -> str:
    """scores.json's ``feature_path``: ``pooled_<functionals>`` or ``frames_<functionals>``."""
    return f"{'frames' if fine_tuned(upstream) else 'pooled'}_{kind}"
