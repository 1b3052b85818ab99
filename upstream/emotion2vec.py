"""emotion2vec and emotion2vec+: registered so that asking for them gets a clear refusal.

Their only maintained loaders are FunASR's and ModelScope's pipelines (the hub repositories hold
``model.pt`` + ``config.yaml`` in FunASR's format and a ``configuration.json`` naming the
``funasr-pipeline``; the original code is a fairseq fork); no transformers or s3prl loader is
published (checked 2026-11 in the hub repositories' files and model cards). The toolkit depends
on neither FunASR nor fairseq, so it refuses them before a run starts (no run folder is kept)
and explains the route: extract features with FunASR yourself. Both models saw emotion speech in
training (emotion2vec: self-supervised pre-training on emotion corpora; emotion2vec+: fine-tuned
on pseudo-labelled emotion data), which also rules them out where challenge rules forbid
emotion-trained models (Interspeech 2025 SER challenge).
"""

from __future__ import annotations

from pathlib import Path

from emobench.upstream.info import TinySpec, UpstreamInfo
from emobench.upstream.s3prl_compat import UpstreamUnavailable

HUB = {"emotion2vec": "emotion2vec/emotion2vec_base",
       "emotion2vec_plus_large": "emotion2vec/emotion2vec_plus_large"}


def refusal(name: str) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        f"upstream {name} ({HUB[name]}) cannot be loaded by this toolkit: its only maintained "
        "loader is FunASR (pip install funasr; model.pt + config.yaml in FunASR's format), "
        "which this toolkit does not depend on, and no transformers or s3prl port exists. It "
        "was also trained on emotion data (flagged; banned by rules such as the Interspeech "
        "2025 SER challenge's). To compare with it, extract its features with FunASR "
        "(AutoModel(model=\"iic/emotion2vec_base\").generate(..., extract_embedding=True)) "
        "outside this toolkit; see docs/upstreams.md.")


def available(info: UpstreamInfo, checkpoint: str | None) -> None:
    raise refusal(info.name)


def build(info: UpstreamInfo, checkpoint: str | None):
    raise refusal(info.name)


def make_tiny(info: UpstreamInfo, path: Path, seed: int = 0) -> TinySpec:
    raise refusal(info.name)
