"""An on-disk cache of pooled upstream statistics: extract once, train many.

For every utterance the cache keeps, per hidden state, the time-mean and the time-mean of the
square of the (optionally layer-normed) frames, and the number of valid frames: L x D x 2 numbers
instead of L x T x D. Heads that are linear up to the mean pooling need only the means.

Layout: ``<root>/<upstream>/<spec key>/spec.json`` describes everything the features depend on
(upstream name and checkpoint hash, extraction mode, layer norm, sample rate, truncation, waveform
standardisation, storage dtype); a change of any of them gives another folder, so stale features
are never reused. Entries are ``items/<aa>/<audio sha256>.pt``, keyed by the audio file's content,
so one folder serves every fold and task that share the spec. Every entry is written atomically
(temporary file, then rename): after an interruption at any point, a rerun computes exactly the
missing entries and never reads a partial one. ``shard i/n`` extracts the i-th of n disjoint,
deterministic parts, so that n processes or cluster jobs can extract in parallel.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from tqdm import tqdm

from emobench import io
from emobench.errors import UserError
from emobench.io import sha256_file
from upstream.base import FrozenUpstream

VERSION = 1
DTYPES = {"float32": torch.float32, "float16": torch.float16}


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

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
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
                log: Callable[..., None] | None = None) -> int:
        """Compute the missing entries of this shard; returns how many were written.

        ``load(key)`` gives the utterance's (standardised) waveform; ``prepare`` is the
        featurizer's per-frame step (the optional layer norm).
        """
        i, n = shard
        todo = [k for k in sorted(set(keys)) if int(k[:8], 16) % n == i - 1]
        todo = self.missing(todo)
        start, seconds = time.perf_counter(), 0.0
        bar = tqdm(total=len(todo), desc=f"extract {self.spec.upstream} {i}/{n}", unit="utt",
                   disable=None)
        for first in range(0, len(todo), batch_size):
            chunk = todo[first:first + batch_size]
            wavs = [load(k) for k in chunk]
            seconds += sum(len(w) for w in wavs) / self.spec.sample_rate
            with torch.no_grad():
                hidden, lengths = upstream([w.to(device) for w in wavs])
                stats = statistics(prepare(hidden), lengths.to(device))
            for b, key in enumerate(chunk):
                io.torch_save({name: value[b].to(DTYPES[self.spec.dtype]).cpu().clone()
                               for name, value in stats.items()} | {"frames": int(lengths[b])},
                              self.entry(key))
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
