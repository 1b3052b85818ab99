"""s3prl's baseline filterbank upstreams (``fbank``, ``fbank_no_cmvn``)."""

from __future__ import annotations

from pathlib import Path

from emobench.core.io import sha256_file
from emobench.upstream.base import FrozenUpstream, TinySpec, UpstreamInfo

WINDOW, HOP = 400, 160  # Kaldi 25 ms / 10 ms at 16 kHz, snip_edges


def kaldi_frames(num_samples: int) -> int:
    """Frames of a Kaldi fbank with snip_edges.

    >>> kaldi_frames(16000), kaldi_frames(399), kaldi_frames(400)
    (98, 0, 1)
    """
    return 0 if num_samples < WINDOW else 1 + (num_samples - WINDOW) // HOP


def build(info: UpstreamInfo, checkpoint: str | None) -> FrozenUpstream:
    from s3prl.upstream.baseline import hubconf

    expert = getattr(hubconf, info.name)()
    config = Path(hubconf.__file__).with_name(f"{info.name}.yaml")
    # The expert featurises each utterance alone, so a padded batch equals per-utterance runs.
    return FrozenUpstream(info, expert, checkpoint_sha256=sha256_file(config),
                          source=f"s3prl:{config.name}", frames=kaldi_frames, padded_batch=True)


def make_tiny(info: UpstreamInfo, path: Path, seed: int = 0, full_size: bool = False) -> TinySpec:
    """Filterbanks have no checkpoint (and one size): nothing is written."""
    return TinySpec(None, 1, 240, 100.0)
