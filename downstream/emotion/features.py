"""Two exact ways from audio to the head's input.

- ``frames``: every batch runs the frozen upstream and the head sees every frame.
- ``pooled``: the upstream runs once per utterance and only the per-layer time-means of its
  (optionally layer-normed) hidden states are kept: L x D numbers per utterance. EMO-SUPERB's head
  is linear up to the mean pooling, so its logits depend on the audio only through these means:
  training on them gives the same model up to float rounding, without running the upstream at
  every epoch.
"""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader, Dataset

from emobench.experiment import LOG
from downstream.emotion.data import EmotionDataset, collate
from downstream.emotion.model import EmotionModel
from upstream import Featurizer, FrozenUpstream
from upstream.cache import CacheSpec, PooledCache, audio_keys, statistics


class PooledDataset(Dataset):
    """(per-layer time-means ``(L, D)``, soft label, file name), computed once per utterance.

    With a ``cache_dir`` the statistics live in an on-disk :class:`~upstream.cache.PooledCache`
    (missing entries are extracted first); without one they are computed in memory.
    """

    collate = None  # default collation stacks the tensors

    def __init__(self, base: EmotionDataset, upstream: FrozenUpstream, normalize: bool,
                 batch_size: int, device: torch.device, cache_dir: str | None = None,
                 cache_dtype: str = "float32"):
        self.labels = torch.from_numpy(base.table.labels).float()
        self.names = list(base.table.file_names)
        if cache_dir is not None:
            cache = feature_cache(cache_dir, base, upstream, normalize, cache_dtype)
            keys, _ = fill_cache(cache, base, upstream, normalize, batch_size, device)
            self.features = cache.load(keys)
            LOG.info("read %d pooled utterances from %s", len(keys), cache.folder)
            return
        prepare = Featurizer(upstream.num_layers, normalize=normalize).prepare
        start, seconds, parts = time.perf_counter(), 0.0, []
        for wavs, _, _ in DataLoader(base, batch_size=batch_size, collate_fn=collate):
            hidden, lengths = upstream([w.to(device) for w in wavs])
            with torch.no_grad():
                parts.append(statistics(prepare(hidden), lengths.to(device))["mean"].cpu())
            seconds += sum(len(w) for w in wavs) / 16_000
        self.features = torch.cat(parts)
        elapsed = time.perf_counter() - start
        LOG.info("pooled %d utterances (%.1f s of audio) through %s in %.1f s (real-time factor "
                 "%.3f): %s per-layer means, %.1f MB in memory", len(self.names), seconds,
                 upstream.info.name, elapsed, elapsed / max(seconds, 1e-9),
                 tuple(self.features.shape[1:]), self.features.numel() * 4 / 2**20)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int):
        return self.features[index], self.labels[index], self.names[index]


def fill_cache(cache: PooledCache, dataset: EmotionDataset, upstream: FrozenUpstream,
               normalize: bool, batch_size: int, device: torch.device,
               shard: tuple[int, int] = (1, 1)) -> tuple[list[str], int]:
    """Extract the dataset's missing entries (of one shard); its audio keys and the count written."""
    keys = audio_keys(dataset.table.paths)
    index = {key: i for i, key in enumerate(keys)}
    prepare = Featurizer(upstream.num_layers, normalize=normalize).prepare
    written = cache.extract(keys, lambda key: dataset[index[key]][0], upstream, prepare, device,
                            shard, batch_size if upstream.padded_batch else 1, LOG.info)
    return keys, written


def feature_cache(cache_dir: str, base: EmotionDataset, upstream: FrozenUpstream,
                  normalize: bool, dtype: str) -> PooledCache:
    """The cache folder for this upstream and preprocessing (waveform standardisation included)."""
    spec = CacheSpec(upstream=upstream.info.name, checkpoint_sha256=upstream.checkpoint_sha256,
                     padded_batch=upstream.padded_batch, layer_norm=normalize,
                     sample_rate=16_000, max_seconds=base.max_seconds,
                     wav_mean=float(base.standardizer.mean), wav_std=float(base.standardizer.std),
                     dtype=dtype)
    return PooledCache(cache_dir, spec)


class FeaturePath:
    """Turns datasets and batches into logits along the chosen path."""

    def __init__(self, pooled: bool, upstream: FrozenUpstream, normalize: bool,
                 batch_size: int, device: torch.device, cache_dir: str | None = None,
                 cache_dtype: str = "float32"):
        self.pooled, self.upstream, self.normalize = pooled, upstream, normalize
        self.batch_size, self.device = batch_size, device
        self.cache_dir, self.cache_dtype = cache_dir, cache_dtype

    @property
    def name(self) -> str:
        return "pooled" if self.pooled else "frames"

    def dataset(self, base: EmotionDataset) -> Dataset:
        if not self.pooled:
            return base
        return PooledDataset(base, self.upstream, self.normalize, self.batch_size, self.device,
                             self.cache_dir, self.cache_dtype)

    def loader(self, dataset: Dataset, seed: int | None = None) -> DataLoader:
        """Batches in a seeded order when ``seed`` is given (the same order on both paths)."""
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=seed is not None,
                          generator=generator,
                          collate_fn=None if self.pooled else collate)

    def logits(self, model: EmotionModel, inputs) -> torch.Tensor:
        if self.pooled:
            return model.forward_pooled(inputs.to(self.device))
        hidden, lengths = self.upstream([w.to(self.device) for w in inputs])
        return model(hidden, lengths.to(self.device))
