"""The upstream registry: one line per upstream, lazy imports.

An upstream family is one module exposing ``build(info, checkpoint) -> FrozenUpstream`` and
``make_tiny(info, path, seed=0) -> TinySpec`` (a random checkpoint with small dimensions, in the
exact format of the s3prl loader). A new upstream is one ``_register`` line here, plus a module
when its family is new. Names: canonical s3prl names, EMO-SUPERB's paper names, short aliases.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING

from emobench.core.config import ConfigError
from emobench.core.errors import UserError
from emobench.upstream.hf_models import HF_MODELS
from emobench.upstream.info import TinySpec, UpstreamInfo
from emobench.upstream.prefixed import PrefixedRegistry

if TYPE_CHECKING:
    from emobench.upstream.base import FrozenUpstream

UPSTREAMS = PrefixedRegistry("upstream")


def _register(module: str, name: str, hidden: int, dim: int, rate: float, paper: str | None,
              aliases: tuple[str, ...] = (), *, params: float | None = None,
              needs_checkpoint: bool = True, description: str = "",
              flag: str | None = None) -> None:
    info = UpstreamInfo(name, hidden, dim, rate, paper, needs_checkpoint, description, params,
                        training_data_flag=flag)
    names = tuple(a for a in ((paper,) if paper and paper != name else ()) + aliases)
    UPSTREAMS.register(name, f"emobench.upstream.{module}", aliases=names, info=info)


# EMO-SUPERB's 16 rows (PROTOCOLS.md §1; parameters in millions from the paper's Table 2).
# Note: `wavlm` means wavlm_large here, as in EMO-SUPERB (s3prl's own `wavlm` is base_plus).
W2V2, W2V, MEL = "wav2vec2_family", "wav2vec_family", "mel_family"
_register(W2V2, "wavlm_large", 25, 1024, 50, "WavLM", ("wavlm",), params=317)
_register(W2V2, "wav2vec2_large_lv60_cv_swbd_fsh", 25, 1024, 50, "W2V2 R", ("w2v2_r",),
          params=317)
_register(W2V2, "xls_r_1b", 49, 1280, 50, "XLS-R-1B", ("xlsr",), params=965)
_register(W2V2, "data2vec_large_ll60k", 25, 1024, 50, "Data2Vec-A", ("data2vec",), params=313)
_register(W2V2, "hubert_large_ll60k", 25, 1024, 50, "Hubert", ("hubert",), params=317)
_register(W2V2, "wav2vec2_large_960", 25, 1024, 50, "W2V2", ("w2v2",), params=317)
_register(W2V, "vq_wav2vec", 13, 512, 100, "VQ-W2V", ("vqw2v",), params=34)
_register(W2V, "wav2vec_large", 13, 512, 100, "W2V", ("w2v",), params=33)
_register(W2V, "modified_cpc", 2, 256, 100, "M CPC", ("cpc", "mcpc"), params=2)
_register(W2V, "decoar2", 13, 768, 50, "DeCoAR 2", params=90)
_register(MEL, "tera_960hr", 4, 768, 100, "TERA", ("tera",), params=21)
_register(MEL, "mockingjay_960hr", 4, 768, 100, "Mockingjay", ("mockingjay",), params=85)
_register(MEL, "npc_960hr", 9, 512, 100, "NPC", ("npc",), params=19)
_register(MEL, "vq_apc_960hr", 3, 512, 100, "VQ-APC", ("vq_apc",), params=5)
_register(MEL, "apc_960hr", 3, 512, 100, "APC", ("apc",), params=4)
# s3prl's fbank applies per-utterance CMVN: every time-mean is ~0, so mean-pooling heads receive
# no information from it (kept faithful to EMO-SUPERB's row; fbank_no_cmvn keeps it).
_register("baseline", "fbank", 1, 240, 100, "FBANK", params=0, needs_checkpoint=False,
          description="s3prl Kaldi fbank 80 + deltas, per-utterance CMVN")
_register("baseline", "fbank_no_cmvn", 1, 240, 100, None, params=0, needs_checkpoint=False,
          description="s3prl Kaldi fbank 80 + deltas, no CMVN")

# Upstreams users of the field compare against (SERAB; the ExVo baseline features).
_register("byol", "byol_a_512", 1, 512, 1, None, ("BYOL-A",),
          description="BYOL-A 512 (SERAB): 1-s windows every 1 s")
_register("byol", "byol_s_512", 1, 512, 20, None, ("BYOL-S",),
          description="BYOL-S 512 (SERAB): 1-s windows every 50 ms")
_register("opensmile_features", "compare", 1, 6373, 0, None, ("ComParE",), params=0,
          needs_checkpoint=False, description="openSMILE ComParE 2016 functionals")
_register("opensmile_features", "egemaps", 1, 88, 0, None, ("eGeMAPS",), params=0,
          needs_checkpoint=False, description="openSMILE eGeMAPSv02 functionals")
# The seed-000 paper's task-specific embeddings: a CNN trained here with -d embedding_cnn.
_register("embedding_cnn", "raw_cnn", 1, 20, 0, None, description="Raw(ExVo) CNN embeddings: "
          "mean+std of 10 dims over 250 ms windows (-k: a -d embedding_cnn checkpoint)")
_register("embedding_cnn", "zff_cnn", 1, 20, 0, None, description="Zff(ExVo) CNN embeddings: "
          "the same on zero-frequency filtered audio")


# Hugging Face transformers encoders (upstream/hf_models.py: hub ids, shapes, training-data
# flags) and any other transformers checkpoint as -u hf:<hub id or local folder>.
for _name, _model in HF_MODELS.items():
    UPSTREAMS.register(_name, "emobench.upstream.hf_family", aliases=_model.aliases,
                       info=_model.info(_name))
UPSTREAMS.register_prefix("hf", "emobench.upstream.hf_family",
                          "emobench.upstream.hf_models:dynamic")
# emotion2vec: known, trained with emotion data, refused with its loading route explained
# (hidden states unknown to the toolkit: 0; parameters from the model cards where stated)
_register("emotion2vec", "emotion2vec", 0, 0, 50, None, ("emotion2vec_base",),
          description="emotion2vec base (FunASR only: refused, see docs/upstreams.md)",
          flag="emotion corpora (self-supervised pre-training on emotion speech, no labels)")
_register("emotion2vec", "emotion2vec_plus_large", 0, 0, 50, None, ("emotion2vec+",),
          params=300, description="emotion2vec+ large (FunASR only: refused)",
          flag="emotion labels (fine-tuned on pseudo-labelled emotion data)")


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
        raise ConfigError(f"-k {checkpoint}: upstream {canonical} takes no checkpoint (it has "
                          "no weights); leave -k out")
    upstream = UPSTREAMS.get(canonical).build(info, checkpoint)
    if padded_batch is not None:
        upstream.padded_batch = padded_batch
    return upstream


def make_tiny(name: str, path: str | Path, seed: int = 0, full_size: bool = False) -> TinySpec:
    """A tiny random checkpoint for upstream ``name`` (for tests and users' CI), at ``path``.

    ``full_size=True`` writes the published architecture with random weights instead (for
    speed benchmarks), where the family supports it.
    """
    canonical = UPSTREAMS.canonical(name)
    module = UPSTREAMS.get(canonical)
    info = upstream_info(canonical)
    if not full_size:
        return module.make_tiny(info, Path(path), seed)
    if "full_size" not in inspect.signature(module.make_tiny).parameters:
        raise UserError(f"upstream {canonical}: no full-size random checkpoint builder")
    return module.make_tiny(info, Path(path), seed, full_size=True)
