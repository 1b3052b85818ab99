"""An on-disk cache of pooled upstream statistics: extract once, train many.

For every utterance the cache keeps, per hidden state, the time-mean and the time-mean of the
square of the (optionally layer-normed) frames, and the number of valid frames: L x D x 2 numbers
instead of L x T x D. Heads that are linear up to the mean pooling need only the means.

Layout: ``<root>/<upstream>/<spec key>/spec.json`` describes everything the features depend on
(upstream name and checkpoint hash, extraction mode, layer norm, sample rate, truncation, waveform
standardisation, storage dtype, extraction precision); a change of any of them gives another
folder, so stale features are never reused. Entries are ``items/<aa>/<audio sha256>.pt``, keyed
by the audio file's content, so one folder serves every fold and task that share the spec. Every
entry is written atomically (temporary file, then rename): after an interruption at any point, a
rerun computes exactly the missing entries and never reads a partial one. ``shard i/n`` extracts
the i-th of n disjoint, deterministic parts, so that n processes or cluster jobs can extract in
parallel.

Extraction precision: the upstream's forward runs in float32, or under ``torch.autocast`` in
bfloat16 / float16 (``precision``); the pooled statistics are always accumulated in float32.
While the upstream computes one batch, the next batches' waveforms are loaded (decoded,
resampled, standardised) in a background thread (:func:`prefetched`), in the same order and with
the same results as loading them one after the other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import torch
from tqdm import tqdm

from emobench.core import io
from emobench.core.errors import UserError
from emobench.core.io import sha256_file
from emobench.upstream.base import FrozenUpstream

VERSION = 1
DTYPES = {"float32": torch.float32, "float16": torch.float16}
# the upstream forward's precision (data.extract_precision); float32 runs without autocast
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PREFETCH = 2  # batches of waveforms loaded ahead of the upstream, in one background thread

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class CacheSpec:
    """Everything a cached statistic depends on, besides the audio itself."""

    upstream: str
    checkpoint_sha256: str | None
    padded_batch: bool
    layer_norm: bool
    sample_rate: int
    max_seconds: float | None
    wav_mean: float
    wav_std: float
    dtype: str = "float32"
    version: int = VERSION
    precision: str = "float32"  # the upstream forward's autocast dtype (PRECISIONS)
    # "global": (wav - wav_mean) / wav_std; "utterance": each waveform by its own mean and std
    # (upstreams that layer-norm every waveform: one entry for every fold, waveform_invariance)
    standardize: str = "global"

    def key(self) -> str:
        fields = asdict(self)
        for name, default in (("precision", "float32"), ("standardize", "global")):
            if fields[name] == default:  # keys of caches made before the field existed
                del fields[name]
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` (1-based) -> (i, n).

    >>> parse_shard("2/4"), parse_shard(None)
    ((2, 4), (1, 1))
    """
    if not text:
        return 1, 1
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected i/n, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise UserError(f"--shard {text!r}: i must be between 1 and n")
    return i, n


class PooledCache:
    def __init__(self, root: str | Path, spec: CacheSpec):
        if spec.dtype not in DTYPES:
            raise UserError(f"feature cache dtype {spec.dtype!r}: one of {sorted(DTYPES)}")
        if spec.precision not in PRECISIONS:
            raise UserError(f"data.extract_precision {spec.precision!r}: one of "
                            f"{sorted(PRECISIONS)}")
        self.spec = spec
        self.folder = Path(root) / spec.upstream / spec.key()
        spec_file = self.folder / "spec.json"
        if not spec_file.exists():
            io.write_json(spec_file, asdict(spec))

    def entry(self, audio_key: str) -> Path:
        return self.folder / "items" / audio_key[:2] / f"{audio_key}.pt"

    def missing(self, keys: Sequence[str]) -> list[str]:
        return [k for k in dict.fromkeys(keys) if not self.entry(k).is_file()]

    def extract(self, keys: Sequence[str], load: Callable[[str], torch.Tensor],
                upstream: FrozenUpstream, prepare: Callable[[torch.Tensor], torch.Tensor],
                device: torch.device, shard: tuple[int, int] = (1, 1), batch_size: int = 1,
                log: Callable[..., None] | None = None, prefetch: int = PREFETCH,
                order: Callable[[list[str]], list[str]] | None = None) -> int:
        """Compute the missing entries of this shard; returns how many were written.

        ``load(key)`` gives the utterance's (standardised) waveform; ``prepare`` is the
        featurizer's per-frame step (the optional layer norm). The upstream runs in the spec's
        ``precision``; ``prefetch`` batches are loaded ahead in a background thread (0: none).
        ``order`` rearranges the missing keys before batching (upstream.bucketing.by_length).
        """
        i, n = shard
        todo = [k for k in sorted(set(keys)) if int(k[:8], 16) % n == i - 1]
        todo = self.missing(todo)
        todo = order(todo) if order is not None else todo
        start, seconds = time.perf_counter(), 0.0
        bar = tqdm(total=len(todo), desc=f"extract {self.spec.upstream} {i}/{n}", unit="utt",
                   disable=None)
        chunks = [todo[first:first + batch_size] for first in range(0, len(todo), batch_size)]
        pin = device.type == "cuda"
        batches = prefetched(chunks, lambda chunk: load_batch(chunk, load, pin), prefetch)
        with contextlib.closing(batches):
            for chunk, wavs in zip(chunks, batches):
                seconds += sum(len(w) for w in wavs) / self.spec.sample_rate
                stats, lengths = pool(upstream, wavs, prepare, device, self.spec.precision)
                for b, key in enumerate(chunk):
                    io.torch_save({name: value[b].to(DTYPES[self.spec.dtype]).cpu().clone()
                                   for name, value in stats.items()}
                                  | {"frames": int(lengths[b])}, self.entry(key))
                bar.update(len(chunk))
                elapsed = time.perf_counter() - start
                bar.set_postfix(rtf=f"{elapsed / max(seconds, 1e-9):.3f}")
        bar.close()
        if log is not None and todo:
            elapsed = time.perf_counter() - start
            log("extracted %d utterances (%.1f s of audio) through %s in %.1f s (real-time "
                "factor %.3f) into %s", len(todo), seconds, self.spec.upstream, elapsed,
                elapsed / max(seconds, 1e-9), self.folder)
        return len(todo)

    def load(self, keys: Sequence[str], statistic: str = "mean") -> torch.Tensor:
        """``(N, L, D)`` float32 statistics of the given utterances, in order."""
        missing = self.missing(keys)
        if missing:
            raise UserError(f"feature cache {self.folder} lacks {len(missing)} utterances "
                            "(run -m extract, or train, which extracts what is missing)")
        return torch.stack([torch.load(self.entry(k), weights_only=True)[statistic].float()
                            for k in keys])


def prefetched(items: Sequence[T], load: Callable[[T], R], ahead: int = PREFETCH
               ) -> Iterator[R]:
    """``load(item)`` of every item, in order.

    With ``ahead`` > 0, up to ``ahead`` items are loaded by one background thread while the
    caller works on the current one (loads run one at a time, in order, so a dataset that is not
    thread-safe is still used by one thread at a time); ``ahead`` = 0 loads in the caller's
    thread. An exception of ``load`` is raised by the caller's ``next`` for that item.
    """
    if ahead <= 0:
        for item in items:
            yield load(item)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="emobench-load") as executor:
        queue: deque[Future] = deque()
        rest = iter(items)
        try:
            for item in rest:
                queue.append(executor.submit(load, item))
                if len(queue) >= ahead:
                    break
            while queue:
                result = queue.popleft().result()
                for item in rest:  # the next item loads while the caller uses this one
                    queue.append(executor.submit(load, item))
                    break
                yield result
        finally:
            for future in queue:
                future.cancel()


def load_batch(keys: Sequence[T], load: Callable[[T], torch.Tensor],
               pin: bool = False) -> list[torch.Tensor]:
    """The waveforms of ``keys``, in page-locked memory when ``pin`` (for non-blocking copies)."""
    wavs = [load(k) for k in keys]
    return [w.pin_memory() for w in wavs] if pin else wavs


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """Run the enclosed upstream forward in ``precision``: float32 as is, else ``torch.autocast``.

    Refuses (a UserError naming data.extract_precision) where this torch cannot autocast to that
    dtype on this device, instead of silently running in float32 as torch.autocast would.
    """
    if precision not in PRECISIONS:
        raise UserError(f"data.extract_precision {precision!r}: one of {sorted(PRECISIONS)}")
    if precision == "float32":
        yield
        return
    dtype = PRECISIONS[precision]
    why = ""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            context = torch.autocast(device_type=device.type, dtype=dtype)
        why = "; ".join(str(w.message) for w in caught)
    except RuntimeError as exc:
        context, why = None, str(exc)
    if context is None:
        raise UserError(f"data.extract_precision={precision} is not supported on "
                        f"{device.type} by torch {torch.__version__} ({why}); use float32"
                        + ("" if precision == "bfloat16" else " or bfloat16"))
    with context:
        if (not torch.is_autocast_enabled(device.type)
                or torch.get_autocast_dtype(device.type) != dtype):
            raise UserError(f"data.extract_precision={precision} is not supported on "
                            f"{device.type} by torch {torch.__version__} ({why or 'autocast off'})"
                            "; use float32")
        yield


def pool(upstream: FrozenUpstream, wavs: Sequence[torch.Tensor],
         prepare: Callable[[torch.Tensor], torch.Tensor], device: torch.device,
         precision: str = "float32") -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The pooled :func:`statistics` of one batch (on ``device``) and its valid frame counts.

    The upstream's forward runs under :func:`autocast` in ``precision``; its hidden states are
    cast to float32 before ``prepare`` and the statistics, which are always float32.
    """
    non_blocking = device.type == "cuda"
    with torch.no_grad():
        try:
            with autocast(device, precision):
                hidden, lengths = upstream([w.to(device, non_blocking=non_blocking)
                                            for w in wavs])
        except ValueError as exc:
            if precision == "float32" or "non-finite" not in str(exc):
                raise
            raise UserError(f"{exc}; under data.extract_precision={precision}"
                            + (" (float16 overflows above 65504)" if precision == "float16"
                               else "") + ": try float32") from exc
        return statistics(prepare(hidden.float()), lengths.to(device)), lengths


def statistics(prepared: torch.Tensor, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-utterance, per-layer mean and mean of squares over valid frames: ``(B, L, D)`` each."""
    mask = (torch.arange(prepared.shape[2], device=prepared.device)[None, :]
            < lengths[:, None]).to(prepared.dtype)  # (B, T)
    count = lengths.to(prepared.dtype)[None, :, None]
    weighted = prepared * mask[None, :, :, None]
    mean = weighted.sum(dim=2) / count
    square = (weighted * prepared).sum(dim=2) / count
    return {"mean": mean.transpose(0, 1), "square": square.transpose(0, 1)}


def audio_keys(paths: Sequence[Path]) -> list[str]:
    """The content hash of every audio file (the cache's per-utterance key)."""
    return [sha256_file(p) for p in paths]
