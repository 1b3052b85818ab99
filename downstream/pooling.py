"""Pooled upstream statistics of a waveform dataset: from the on-disk cache or in memory.

The statistics (per-utterance, per-hidden-state time-mean and time-mean of squares of the
optionally layer-normed frames, see :func:`upstream.cache.statistics`) are all that heads linear
up to the pooling need, and all that functionals (mean, std) of each hidden state need.
"""

from __future__ import annotations

import time
from typing import Sequence

import torch

from emobench.experiment import LOG
from downstream.waveforms import WaveformDataset
from upstream import Featurizer, FrozenUpstream
from upstream.cache import CacheSpec, PooledCache, audio_keys, statistics


def feature_cache(cache_dir: str, dataset: WaveformDataset, upstream: FrozenUpstream,
                  normalize: bool, dtype: str) -> PooledCache:
    """The cache folder for this upstream and preprocessing (waveform standardisation included)."""
    spec = CacheSpec(upstream=upstream.info.name, checkpoint_sha256=upstream.checkpoint_sha256,
                     padded_batch=upstream.padded_batch, layer_norm=normalize,
                     sample_rate=16_000, max_seconds=dataset.max_seconds,
                     wav_mean=float(dataset.standardizer.mean),
                     wav_std=float(dataset.standardizer.std), dtype=dtype)
    return PooledCache(cache_dir, spec)


def fill_cache(cache: PooledCache, dataset: WaveformDataset, upstream: FrozenUpstream,
               normalize: bool, batch_size: int, device: torch.device,
               shard: tuple[int, int] = (1, 1)) -> tuple[list[str], int]:
    """Extract the dataset's missing entries (of one shard); its audio keys and the count written."""
    keys = audio_keys(dataset.paths)
    index = {key: i for i, key in enumerate(keys)}
    prepare = Featurizer(upstream.num_layers, normalize=normalize).prepare
    written = cache.extract(keys, lambda key: dataset[index[key]][0], upstream, prepare, device,
                            shard, batch_size if upstream.padded_batch else 1, LOG.info)
    return keys, written


def pooled_statistics(dataset: WaveformDataset, upstream: FrozenUpstream, normalize: bool,
                      batch_size: int, device: torch.device, cache_dir: str | None = None,
                      cache_dtype: str = "float32", names: Sequence[str] = ("mean",)
                      ) -> dict[str, torch.Tensor]:
    """``{name: (N, L, D) float32}`` for ``names`` among ``mean`` and ``square``.

    With a ``cache_dir`` the statistics come from the on-disk cache (missing entries are
    extracted first); without one they are computed in memory.
    """
    if cache_dir is not None:
        cache = feature_cache(cache_dir, dataset, upstream, normalize, cache_dtype)
        keys, _ = fill_cache(cache, dataset, upstream, normalize, batch_size, device)
        result = {name: cache.load(keys, name) for name in names}
        LOG.info("read %d pooled utterances from %s", len(keys), cache.folder)
        return result
    prepare = Featurizer(upstream.num_layers, normalize=normalize).prepare
    start, seconds = time.perf_counter(), 0.0
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for first in range(0, len(dataset), batch_size):
        wavs = [dataset[i][0] for i in range(first, min(first + batch_size, len(dataset)))]
        hidden, lengths = upstream([w.to(device) for w in wavs])
        with torch.no_grad():
            stats = statistics(prepare(hidden), lengths.to(device))
        for name in names:
            parts[name].append(stats[name].cpu())
        seconds += sum(len(w) for w in wavs) / 16_000
    result = {name: torch.cat(parts[name]) for name in names}
    elapsed = time.perf_counter() - start
    LOG.info("pooled %d utterances (%.1f s of audio) through %s in %.1f s (real-time factor "
             "%.3f): %s per-layer statistics %s, %.1f MB in memory", len(dataset), seconds,
             upstream.info.name, elapsed, elapsed / max(seconds, 1e-9),
             tuple(result[names[0]].shape[1:]), list(names),
             sum(t.numel() for t in result.values()) * 4 / 2**20)
    return result
