"""Pooled upstream statistics of a waveform dataset: from the on-disk cache or in memory.

The statistics (per-utterance, per-hidden-state time-mean and time-mean of squares of the
optionally layer-normed frames, see :func:`upstream.cache.statistics`) are all that heads linear
up to the pooling need, and all that functionals (mean, std) of each hidden state need.

``precision`` (data.extract_precision) runs the upstream's forward under torch.autocast in
bfloat16 or float16; the statistics are accumulated in float32 either way. Waveforms are loaded
a few batches ahead of the upstream in a background thread (``upstream.cache.prefetched``).
"""

from __future__ import annotations

import contextlib
import functools
import time
from typing import Sequence

import torch

from emobench.core.audio import AudioError
from emobench.core.config import ConfigError
from emobench.core.experiment import LOG
from emobench.downstream.waveforms import WaveformDataset
from emobench.upstream import Featurizer, FrozenUpstream
from emobench.upstream.hf_models import folder_name
from emobench.upstream.cache import (PREFETCH, CacheSpec, PooledCache, audio_keys, load_batch, pool,
                            prefetched)


def feature_cache(cache_dir: str, dataset: WaveformDataset, upstream: FrozenUpstream,
                  normalize: bool, dtype: str, precision: str = "float32") -> PooledCache:
    """The cache folder for this upstream and preprocessing (waveform standardisation and
    extraction precision included)."""
    if upstream.fine_tuning is not None:  # its features change with training: never cached
        raise ConfigError(f"upstream {upstream.info.name} is fine-tuned (-f): its features are "
                          "never read from or written to the feature cache")
    spec = CacheSpec(upstream=folder_name(upstream.info.name),  # hf:<folder> holds '/'
                     checkpoint_sha256=upstream.checkpoint_sha256,
                     padded_batch=upstream.padded_batch, layer_norm=normalize,
                     sample_rate=16_000, max_seconds=dataset.max_seconds,
                     wav_mean=float(dataset.standardizer.mean),
                     wav_std=float(dataset.standardizer.std), dtype=dtype, precision=precision)
    return PooledCache(cache_dir, spec)


def waveform(dataset: WaveformDataset, index: int) -> torch.Tensor:
    """The dataset's (standardised) waveform ``index``; a failure names the audio file."""
    try:
        return dataset[index][0]
    except AudioError:
        raise  # names the file already
    except Exception as exc:
        raise RuntimeError(f"{dataset.paths[index]}: loading failed "
                           f"({type(exc).__name__}: {exc})") from exc


def fill_cache(cache: PooledCache, dataset: WaveformDataset, upstream: FrozenUpstream,
               normalize: bool, batch_size: int, device: torch.device,
               shard: tuple[int, int] = (1, 1), prefetch: int = PREFETCH
               ) -> tuple[list[str], int]:
    """Extract the dataset's missing entries (of one shard); its audio keys and the count written.

    The upstream runs in the cache spec's precision; ``prefetch`` batches of waveforms are
    loaded ahead in a background thread (0: in this thread, one after the other).
    """
    keys = audio_keys(dataset.paths)
    index = {key: i for i, key in enumerate(keys)}
    prepare = Featurizer(upstream.num_layers, normalize=normalize).prepare
    written = cache.extract(keys, lambda key: waveform(dataset, index[key]), upstream, prepare,
                            device, shard, batch_size if upstream.padded_batch else 1, LOG.info,
                            prefetch)
    return keys, written


def pooled_statistics(dataset: WaveformDataset, upstream: FrozenUpstream, normalize: bool,
                      batch_size: int, device: torch.device, cache_dir: str | None = None,
                      cache_dtype: str = "float32", names: Sequence[str] = ("mean",),
                      precision: str = "float32", prefetch: int = PREFETCH
                      ) -> dict[str, torch.Tensor]:
    """``{name: (N, L, D) float32}`` for ``names`` among ``mean`` and ``square``.

    With a ``cache_dir`` the statistics come from the on-disk cache (missing entries are
    extracted first); without one they are computed in memory. Either way the upstream runs in
    ``precision`` (float32, bfloat16 or float16 autocast) and the statistics are float32.
    """
    if cache_dir is not None:
        cache = feature_cache(cache_dir, dataset, upstream, normalize, cache_dtype, precision)
        keys, _ = fill_cache(cache, dataset, upstream, normalize, batch_size, device,
                             prefetch=prefetch)
        result = {name: cache.load(keys, name) for name in names}
        LOG.info("read %d pooled utterances from %s", len(keys), cache.folder)
        return result
    prepare = Featurizer(upstream.num_layers, normalize=normalize).prepare
    start, seconds = time.perf_counter(), 0.0
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    # batched as the cache extracts (one utterance at a time unless the upstream pads), so
    # both ways give the same numbers bit for bit
    size = batch_size if upstream.padded_batch else 1
    chunks = [range(first, min(first + size, len(dataset)))
              for first in range(0, len(dataset), size)]
    load, pin = functools.partial(waveform, dataset), device.type == "cuda"
    batches = prefetched(chunks, lambda chunk: load_batch(chunk, load, pin), prefetch)
    with contextlib.closing(batches):
        for wavs in batches:
            stats, _ = pool(upstream, wavs, prepare, device, precision)
            for name in names:
                parts[name].append(stats[name].cpu())
            seconds += sum(len(w) for w in wavs) / 16_000
    result = {name: torch.cat(parts[name]) for name in names}
    elapsed = time.perf_counter() - start
    LOG.info("pooled %d utterances (%.1f s of audio) through %s (%s) in %.1f s (real-time "
             "factor %.3f): %s per-layer statistics %s, %.1f MB in memory", len(dataset), seconds,
             upstream.info.name, precision, elapsed, elapsed / max(seconds, 1e-9),
             tuple(result[names[0]].shape[1:]), list(names),
             sum(t.numel() for t in result.values()) * 4 / 2**20)
    return result
