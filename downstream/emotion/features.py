"""Two exact ways from audio to the head's input.

- ``frames``: every batch runs the frozen upstream and the head sees every frame.
- ``pooled``: the upstream runs once per utterance and only the per-layer time-means of its
  (optionally layer-normed) hidden states are kept: L x D numbers per utterance. EMO-SUPERB's head
  is linear up to the mean pooling, so its logits depend on the audio only through these means:
  training on them gives the same model up to float rounding, without running the upstream at
  every epoch.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from emobench.downstream.emotion.data import EmotionDataset, collate
from emobench.downstream.emotion.model import EmotionModel
from emobench.downstream.pooling import feature_cache, fill_cache, pooled_statistics
from emobench.upstream import FrozenUpstream
from emobench.upstream.cache import statistics

__all__ = ["FeaturePath", "PooledDataset", "feature_cache", "fill_cache", "pooled_variance_ratio",
           "variance_ratio"]


DIAGNOSTIC_UTTERANCES = 64


class PooledDataset(Dataset):
    """(per-layer time-means ``(L, D)``, soft label, file name), computed once per utterance.

    With a ``cache_dir`` the statistics live in an on-disk :class:`~upstream.cache.PooledCache`
    (missing entries are extracted first); without one they are computed in memory.
    """

    collate = None  # default collation stacks the tensors

    def __init__(self, base: EmotionDataset, upstream: FrozenUpstream, normalize: bool,
                 batch_size: int, device: torch.device, cache_dir: str | None = None,
                 cache_dtype: str = "float32", precision: str = "float32"):
        self.labels = torch.from_numpy(base.table.labels).float()
        self.names = list(base.table.file_names)
        stats = pooled_statistics(base, upstream, normalize, batch_size, device, cache_dir,
                                  cache_dtype, names=("mean", "square"), precision=precision)
        self.features = stats["mean"]
        # the first utterances' time-means of squares: the no-variance diagnostic (task.py)
        self.squares = stats.pop("square")[:DIAGNOSTIC_UTTERANCES].clone()

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int):
        return self.features[index], self.labels[index], self.names[index]


def pooled_batches(dataset: PooledDataset, batch_size: int,
                   generator: torch.Generator | None = None):
    """The batches ``DataLoader(dataset, batch_size, shuffle=generator is not None,
    generator=generator)`` gives (the same order, the same tensors), sliced from the stacked
    features instead of collated item by item."""
    n = len(dataset)
    if generator is None:
        order = torch.arange(n)
    else:  # the DataLoader's iterator draws its base seed first, then RandomSampler's order
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        order = torch.randperm(n, generator=generator)
    for first in range(0, n, batch_size):
        rows = order[first:first + batch_size]
        yield (dataset.features[rows], dataset.labels[rows],
               tuple(dataset.names[i] for i in rows.tolist()))


class FeaturePath:
    """Turns datasets and batches into logits along the chosen path."""

    def __init__(self, pooled: bool, upstream: FrozenUpstream, normalize: bool,
                 batch_size: int, device: torch.device, cache_dir: str | None = None,
                 cache_dtype: str = "float32", precision: str = "float32"):
        self.pooled, self.upstream, self.normalize = pooled, upstream, normalize
        self.batch_size, self.device = batch_size, device
        self.cache_dir, self.cache_dtype = cache_dir, cache_dtype
        self.precision = precision  # of the pooled path's extraction; frames run in float32

    @property
    def name(self) -> str:
        return "pooled" if self.pooled else "frames"

    def dataset(self, base: EmotionDataset) -> Dataset:
        if not self.pooled:
            return base
        return PooledDataset(base, self.upstream, self.normalize, self.batch_size, self.device,
                             self.cache_dir, self.cache_dtype, self.precision)

    def loader(self, dataset: Dataset, seed: int | None = None):
        """Batches in a seeded order when ``seed`` is given (the same order on both paths)."""
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        if self.pooled and isinstance(dataset, PooledDataset):
            return pooled_batches(dataset, self.batch_size, generator)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=seed is not None,
                          generator=generator,
                          collate_fn=None if self.pooled else collate)

    def logits(self, model: EmotionModel, inputs) -> torch.Tensor:
        if self.pooled:
            return model.forward_pooled(inputs.to(self.device))
        hidden, lengths = self.upstream([w.to(self.device) for w in inputs])
        return model(hidden, lengths.to(self.device))


@torch.no_grad()
def pooled_variance_ratio(upstream: FrozenUpstream, dataset: EmotionDataset, device: torch.device,
                          limit: int = DIAGNOSTIC_UTTERANCES) -> float:
    """Between-utterance std of time-mean features relative to their within-utterance std.

    Near zero means the pooled features are the same for every utterance (e.g. per-utterance
    CMVN), so a mean-pooled linear head can only learn a constant.
    """
    means, squares = [], []
    wavs = [dataset[i][0].to(device) for i in range(min(limit, len(dataset)))]
    for start in range(0, len(wavs), 16):
        hidden, lengths = upstream(wavs[start:start + 16])
        stats = statistics(hidden, lengths.to(device))
        means.append(stats["mean"])
        squares.append(stats["square"])
    return variance_ratio(torch.cat(means), torch.cat(squares))


def variance_ratio(mean: torch.Tensor, square: torch.Tensor) -> float:
    """:func:`pooled_variance_ratio` from per-utterance time-means of the frames and of their
    squares, ``(N, L, D)`` each (the pooled path has them cached: no upstream run)."""
    spread = (square - mean * mean).clamp_min(0).sqrt().mean(dim=0)  # within utterances
    ratio = mean.std(dim=0).mean(dim=-1) / spread.mean(dim=-1).clamp_min(1e-12)
    return float(ratio.max())
