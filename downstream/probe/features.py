"""The probe's inputs: one vector per utterance from the pooled feature cache.

The cache (upstream/cache.py, filled through downstream/pooling.py exactly as the emotion task
fills it) holds every hidden state's time-mean and time-mean of squares; from them the probe
takes the mean, or mean and std (downstream/functionals.py), of one hidden state (``-l N``) or of
every hidden state concatenated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from emobench.core.config import ConfigError
from emobench.core.context import RunContext
from emobench.corpora.emotion_labels import LabelTable
from emobench.downstream.emotion.data import EmotionDataset, Standardizer
from emobench.downstream.functionals import functionals
from emobench.downstream.pooling import pooled_statistics
from emobench.downstream.standardize_cache import cached_standardizer
from emobench.upstream import FrozenUpstream


@dataclass
class Features:
    """Vectors ``(N, F)``, class indices ``(N,)`` and file names of one label table."""

    x: np.ndarray
    y: np.ndarray
    names: list[str]
    speakers: list[str | None]


def waveform_standardizer(ctx: RunContext, table: LabelTable) -> Standardizer:
    """The emotion task's waveform standardisation (train samples), so that both tasks share
    one cache folder (the statistics cached there too)."""
    data = ctx.config.data
    if not data.standardize:
        return Standardizer()
    return cached_standardizer(EmotionDataset(table.subset("train"), data.max_seconds,
                                              Standardizer(), preload=False), data.cache_dir)


def vectors(mean: torch.Tensor, square: torch.Tensor, kind: str, layer: int | None) -> np.ndarray:
    """``(N, L, D)`` statistics -> ``(N, F)``: one hidden state's functionals, or all
    concatenated.

    >>> m, s = torch.ones(2, 3, 4), torch.ones(2, 3, 4) * 2
    >>> vectors(m, s, "mean", None).shape, vectors(m, s, "mean_std", 1).shape
    ((2, 12), (2, 8))
    """
    stats = functionals(mean, square, kind)
    if layer is not None:
        if not -stats.shape[1] <= layer < stats.shape[1]:
            raise ConfigError(f"-l {layer}: the upstream has hidden states 0..{stats.shape[1] - 1}")
        stats = stats[:, layer]
    return stats.reshape(len(stats), -1).double().numpy()


def extract(ctx: RunContext, table: LabelTable, upstream: FrozenUpstream,
            standardizer: Standardizer) -> Features:
    """Every utterance of ``table`` through the cache (missing entries are extracted first)."""
    data = ctx.config.data
    dataset = EmotionDataset(table, data.max_seconds, standardizer, preload=False)
    stats = pooled_statistics(dataset, upstream, ctx.upstream.normalize, ctx.config.batch_size,
                              ctx.device, data.cache_dir, data.cache_dtype,
                              names=("mean", "square"), precision=data.extract_precision)
    x = vectors(stats["mean"], stats["square"], ctx.config.features.functionals,
                ctx.upstream.layer)
    return Features(x, table.labels.argmax(axis=1), list(table.file_names), list(table.speakers))


def speaker_standardize(x: np.ndarray, speakers: list[str | None], source: object) -> np.ndarray:
    """Z-score every feature by the mean and std of each speaker's own rows (a std of 0 is
    left at 1: the feature becomes 0).

    >>> speaker_standardize(np.array([[1.0], [3.0], [5.0], [5.0]]), ["a", "a", "b", "b"], "t")
    array([[-1.],
           [ 1.],
           [ 0.],
           [ 0.]])
    """
    if any(s is None for s in speakers):
        raise ConfigError(f"{source}: features.speaker_standardize needs a SpkrID for every row")
    out = np.empty_like(x)
    ids = np.asarray(speakers)
    for speaker in np.unique(ids):
        rows = ids == speaker
        std = x[rows].std(axis=0)
        out[rows] = (x[rows] - x[rows].mean(axis=0)) / np.where(std > 0, std, 1.0)
    return out
