"""The upstream registry: one line per upstream, lazy imports.

A new upstream is one module with a ``build(name, checkpoint)`` function returning a
:class:`~upstream.base.FrozenUpstream`, plus one ``_register`` line here.
"""

from __future__ import annotations

from upstream.base import FrozenUpstream, UpstreamInfo
from emobench.registry import Registry

UPSTREAMS = Registry("upstream")


def _register(info: UpstreamInfo, builder: str, aliases: tuple[str, ...] = ()) -> None:
    paper = (info.paper_name,) if info.paper_name and info.paper_name != info.name else ()
    UPSTREAMS.register(info.name, builder, aliases=paper + aliases, info=info)


# s3prl baseline features (no checkpoint). `fbank` applies per-utterance CMVN: every time-mean is
# ~0, so mean-pooling heads receive no information from it (kept faithful to EMO-SUPERB's row).
_register(UpstreamInfo("fbank", 1, 240, 100.0, paper_name="FBANK", needs_checkpoint=False,
                       description="s3prl Kaldi fbank 80 + deltas, per-utterance CMVN"),
          "upstream.baseline:build")
_register(UpstreamInfo("fbank_no_cmvn", 1, 240, 100.0, needs_checkpoint=False,
                       description="s3prl Kaldi fbank 80 + deltas, no CMVN"),
          "upstream.baseline:build")


def upstream_info(name: str) -> UpstreamInfo:
    return UPSTREAMS.entry(name).meta["info"]


def build_upstream(name: str, checkpoint: str | None = None) -> FrozenUpstream:
    """Load upstream ``name`` (any registered name or alias), frozen and in eval mode."""
    canonical = UPSTREAMS.canonical(name)
    info = upstream_info(canonical)
    if checkpoint is not None and not info.needs_checkpoint:
        raise ValueError(f"upstream {canonical} takes no checkpoint, but -k {checkpoint} was given")
    return UPSTREAMS.get(canonical)(info, checkpoint)
