"""The upstream registry: one line per upstream, lazy imports.

An upstream family is one module exposing ``build(info, checkpoint) -> FrozenUpstream`` and
``make_tiny(info, path, seed=0) -> TinySpec`` (a random checkpoint with small dimensions, in the
exact format of the s3prl loader). A new upstream is one ``_register`` line here, plus a module
when its family is new. Names: canonical s3prl names, EMO-SUPERB's paper names, short aliases.
"""

from __future__ import annotations

from pathlib import Path

from emobench.registry import Registry
from upstream.base import FrozenUpstream, TinySpec, UpstreamInfo

UPSTREAMS = Registry("upstream")


def _register(module: str, name: str, hidden: int, dim: int, rate: float, paper: str | None,
              aliases: tuple[str, ...] = (), *, needs_checkpoint: bool = True,
              description: str = "") -> None:
    info = UpstreamInfo(name, hidden, dim, rate, paper, needs_checkpoint, description)
    names = tuple(a for a in ((paper,) if paper and paper != name else ()) + aliases)
    UPSTREAMS.register(name, f"upstream.{module}", aliases=names, info=info)


# EMO-SUPERB's 16 rows (PROTOCOLS.md §1). Note: `wavlm` means wavlm_large here, as in EMO-SUPERB
# (s3prl's own `wavlm` is wavlm_base_plus).
_register("wav2vec2_family", "wavlm_large", 25, 1024, 50, "WavLM", ("wavlm",))
_register("wav2vec2_family", "wav2vec2_large_lv60_cv_swbd_fsh", 25, 1024, 50, "W2V2 R",
          ("w2v2_r",))
_register("wav2vec2_family", "xls_r_1b", 49, 1280, 50, "XLS-R-1B", ("xlsr",))
_register("wav2vec2_family", "data2vec_large_ll60k", 25, 1024, 50, "Data2Vec-A", ("data2vec",))
_register("wav2vec2_family", "hubert_large_ll60k", 25, 1024, 50, "Hubert", ("hubert",))
_register("wav2vec2_family", "wav2vec2_large_960", 25, 1024, 50, "W2V2", ("w2v2",))
_register("wav2vec_family", "vq_wav2vec", 13, 512, 100, "VQ-W2V", ("vqw2v",))
_register("wav2vec_family", "wav2vec_large", 13, 512, 100, "W2V", ("w2v",))
_register("wav2vec_family", "modified_cpc", 2, 256, 100, "M CPC", ("cpc", "mcpc"))
_register("wav2vec_family", "decoar2", 13, 768, 50, "DeCoAR 2")
_register("mel_family", "tera_960hr", 4, 768, 100, "TERA", ("tera",))
_register("mel_family", "mockingjay_960hr", 4, 768, 100, "Mockingjay", ("mockingjay",))
_register("mel_family", "npc_960hr", 9, 512, 100, "NPC", ("npc",))
_register("mel_family", "vq_apc_960hr", 3, 512, 100, "VQ-APC", ("vq_apc",))
_register("mel_family", "apc_960hr", 3, 512, 100, "APC", ("apc",))
# s3prl's fbank applies per-utterance CMVN: every time-mean is ~0, so mean-pooling heads receive
# no information from it (kept faithful to EMO-SUPERB's row; fbank_no_cmvn keeps it).
_register("baseline", "fbank", 1, 240, 100, "FBANK", needs_checkpoint=False,
          description="s3prl Kaldi fbank 80 + deltas, per-utterance CMVN")
_register("baseline", "fbank_no_cmvn", 1, 240, 100, None, needs_checkpoint=False,
          description="s3prl Kaldi fbank 80 + deltas, no CMVN")

# Upstreams users of the field compare against (SERAB; the ExVo baseline features).
_register("byol", "byol_a_512", 1, 512, 0, None, ("BYOL-A",),
          description="BYOL-A 512 (SERAB), utterance-level")
_register("byol", "byol_s_512", 1, 512, 0, None, ("BYOL-S",),
          description="BYOL-S 512 (SERAB), utterance-level")
_register("opensmile_features", "compare", 1, 6373, 0, None, ("ComParE",),
          needs_checkpoint=False, description="openSMILE ComParE 2016 functionals")
_register("opensmile_features", "egemaps", 1, 88, 0, None, ("eGeMAPS",),
          needs_checkpoint=False, description="openSMILE eGeMAPSv02 functionals")


def upstream_info(name: str) -> UpstreamInfo:
    return UPSTREAMS.entry(name).meta["info"]


def build_upstream(name: str, checkpoint: str | None = None,
                   padded_batch: bool | None = None) -> FrozenUpstream:
    """Load upstream ``name`` (any registered name or alias), frozen and in eval mode.

    ``padded_batch`` overrides the upstream's default extraction (per utterance unless its
    features are known not to change with padding).
    """
    canonical = UPSTREAMS.canonical(name)
    info = upstream_info(canonical)
    if checkpoint is not None and not info.needs_checkpoint:
        raise ValueError(f"upstream {canonical} takes no checkpoint, but -k {checkpoint} was given")
    upstream = UPSTREAMS.get(canonical).build(info, checkpoint)
    if padded_batch is not None:
        upstream.padded_batch = padded_batch
    return upstream


def make_tiny(name: str, path: str | Path, seed: int = 0) -> TinySpec:
    """A tiny random checkpoint for upstream ``name`` (for tests and users' CI), at ``path``."""
    canonical = UPSTREAMS.canonical(name)
    return UPSTREAMS.get(canonical).make_tiny(upstream_info(canonical), Path(path), seed)
