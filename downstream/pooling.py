"""Pooled upstream statistics of a waveform dataset: from the on-disk cache or in memory.

The statistics (per-utterance, per-hidden-state time-mean and time-mean of squares of the
optionally layer-normed frames, see :func:`upstream.cache.statistics`) are all that heads linear
up to the pooling need, and all that functionals (mean, std) of each hidden state need.

``precision`` (data.extract_precision) runs the upstream's forward under torch.autocast in
bfloat16 or float16; the statistics are accumulated in float32 either way. Waveforms are loaded
a few batches ahead of the upstream in a background thread (``upstream.cache.prefetched``).

Upstreams that layer-normalise every waveform themselves (``upstream.waveform_invariance``) are
fed each utterance standardised by its own statistics instead of the fold's
(:func:`input_standardizer`), on both the cached and the in-memory path: their features do not
depend on the fold (up to the layer norm's eps, tests/test_fold_sharing.py), and one cache entry
per utterance serves every fold of a condition.
"""

from __future__ import annotations

import contextlib
import functools
import time
from typing import Callable, Sequence

import torch

from emobench.core.audio import AudioError
from emobench.core.config import ConfigError
from emobench.core.experiment import LOG
from emobench.downstream.waveforms import UtteranceStandardizer, WaveformDataset
from emobench.upstream import Featurizer, FrozenUpstream
from emobench.upstream.hf_models import folder_name
from emobench.upstream.cache import (PREFETCH, CacheSpec, PooledCache, audio_keys, load_batch, pool,
                            prefetched)
from emobench.upstream.bucketing import by_length, expected_samples
from emobench.upstream.packed_cache import load_statistics
from emobench.upstream.waveform_invariance import normalises_waveform


def input_standardizer(dataset: WaveformDataset, upstream: FrozenUpstream
                       ) -> Callable[[torch.Tensor], torch.Tensor]:
    """What the pooled paths apply to a decoded waveform before the upstream: the dataset's
    (fold) standardisation, or, for an upstream that layer-norms every waveform itself, the
    utterance's own (so that every fold shares the features)."""
    return UtteranceStandardizer() if normalises_waveform(upstream) else dataset.standardizer


def feature_cache(cache_dir: str, dataset: WaveformDataset, upstream: FrozenUpstream,
                  normalize: bool, dtype: str, precision: str = "float32") -> PooledCache:
    """The cache folder for this upstream and preprocessing (waveform standardisation and
    extraction precision included)."""
    if upstream.fine_tuning is not None:  # its features change with training: never cached
        raise ConfigError(f"upstream {upstream.info.name} is fine-tuned (-f): its features are "
                          "never read from or written to the feature cache")
    shared = normalises_waveform(upstream)  # keyed without the fold's statistics
    spec = CacheSpec(upstream=folder_name(upstream.info.name),  # hf:<folder> holds '/'
                     checkpoint_sha256=upstream.checkpoint_sha256,
                     padded_batch=upstream.padded_batch, layer_norm=normalize,
                     sample_rate=16_000, max_seconds=dataset.max_seconds,
                     wav_mean=0.0 if shared else float(dataset.standardizer.mean),
                     wav_std=1.0 if shared else float(dataset.standardizer.std), dtype=dtype,
                     precision=precision, standardize="utterance" if shared else "global")
    return PooledCache(cache_dir, spec)


def waveform(dataset: WaveformDataset, index: int,
             standardize: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """The dataset's waveform ``index``, standardised by ``standardize`` (default: the dataset's
    own standardizer); a failure names the audio file."""
    try:
        return (standardize or dataset.standardizer)(dataset.raw(index))
    except AudioError:
        raise  # names the file already
    except Exception as exc:
        raise RuntimeError(f"{dataset.paths[index]}: loading failed "
                           f"({type(exc).__name__}: {exc})") from exc


def fill_cache(cache: PooledCache, dataset: WaveformDataset, upstream: FrozenUpstream,
               normalize: bool, batch_size: int, device: torch.device,
               shard: tuple[int, int] = (1, 1), prefetch: int = PREFETCH,
               bucket: bool | None = None) -> tuple[list[str], int]:
    """Extract the dataset's missing entries (of one shard); its audio keys and the count written.

    The upstream runs in the cache spec's precision; ``prefetch`` batches of waveforms are
    loaded ahead in a background thread (0: in this thread, one after the other). ``bucket``:
    padded batches of similar lengths, longest first (default: on CUDA, where full batches
    pay; on the CPU batches follow the dataset's order, so the pooled sums, which depend on a
    batch's padded length in the last float bits, are those recorded before bucketing existed).
    """
    keys = audio_keys(dataset.paths)
    index = {key: i for i, key in enumerate(keys)}
    prepare = Featurizer(upstream.num_layers, normalize=normalize).prepare
    standardize = input_standardizer(dataset, upstream)
    order = None
    bucket = device.type == "cuda" if bucket is None else bucket
    if upstream.padded_batch and bucket:  # length buckets: similar lengths, little padding
        def order(todo: list[str]) -> list[str]:
            return by_length(todo, lambda key: expected_samples(dataset.paths[index[key]],
                                                                dataset.max_seconds))
    written = cache.extract(keys, lambda key: waveform(dataset, index[key], standardize),
                            upstream, prepare,
                            device, shard, batch_size if upstream.padded_batch else 1, LOG.info,
                            prefetch, order)
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
        result = load_statistics(cache, keys, names)  # one read per pack
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
    load = functools.partial(waveform, dataset, standardize=input_standardizer(dataset, upstream))
    pin = device.type == "cuda"
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
