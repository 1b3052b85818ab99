"""An on-disk cache of pooled text embeddings (per hidden state), like the audio feature cache.

Layout: ``<root>/text/<spec key>/spec.json`` describes everything an embedding depends on
besides the text (the model's weights sha256, the tokenizer's sha256, pooling, max tokens,
storage dtype); another model, tokenizer or setting gives another folder, so a stale embedding
is never reused. Entries are ``items/<aa>/<sha256 of the UTF-8 text>.pt`` holding the ``(L, D)``
pooled hidden states, each written atomically (temporary file, then rename): after an
interruption a rerun computes exactly the missing entries and never reads a partial one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from emobench.core import io
from emobench.core.errors import UserError
from emobench.upstream.text import TextEncoder

VERSION = 1
DTYPES = {"float32": torch.float32, "float16": torch.float16}


@dataclass(frozen=True)
class TextCacheSpec:
    """Everything a cached text embedding depends on, besides the text itself."""

    weights_sha256: str
    tokenizer_sha256: str
    pooling: str
    max_tokens: int
    dtype: str = "float32"
    version: int = VERSION

    @classmethod
    def of(cls, encoder: TextEncoder, dtype: str = "float32") -> "TextCacheSpec":
        return cls(encoder.weights_sha256, encoder.tokenizer_sha256, encoder.pooling,
                   encoder.max_tokens, dtype)

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def text_key(text: str) -> str:
    """The cache key of a text: the sha256 of its UTF-8 bytes.

    >>> text_key("")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TextCache:
    def __init__(self, root: str | Path, spec: TextCacheSpec):
        if spec.dtype not in DTYPES:
            raise UserError(f"text cache dtype {spec.dtype!r}: one of {sorted(DTYPES)}")
        self.spec = spec
        self.folder = Path(root) / "text" / spec.key()
        spec_file = self.folder / "spec.json"
        if not spec_file.exists():
            io.write_json(spec_file, asdict(spec))

    def entry(self, key: str) -> Path:
        return self.folder / "items" / key[:2] / f"{key}.pt"

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The distinct texts without an entry, in first-seen order."""
        return [t for t in dict.fromkeys(texts) if not self.entry(text_key(t)).is_file()]

    def fill(self, texts: Sequence[str], embed: Callable[[Sequence[str]], torch.Tensor],
             batch_size: int = 16) -> int:
        """Embed and write the missing texts, ``batch_size`` at a time; how many were written."""
        todo = self.missing(texts)
        for first in range(0, len(todo), batch_size):
            chunk = todo[first:first + batch_size]
            hidden = embed(chunk)
            for b, text in enumerate(chunk):
                io.torch_save({"hidden": hidden[b].to(DTYPES[self.spec.dtype]).clone()},
                              self.entry(text_key(text)))
        return len(todo)

    def load(self, texts: Sequence[str]) -> torch.Tensor:
        """``(N, L, D)`` float32 embeddings of the texts, in order."""
        missing = self.missing(texts)
        if missing:
            raise UserError(f"text cache {self.folder} lacks {len(missing)} texts")
        return torch.stack([torch.load(self.entry(text_key(t)), weights_only=True)["hidden"]
                            .float() for t in texts])


def text_embeddings(encoder: TextEncoder, texts: Sequence[str], cache_dir: str | Path | None,
                    batch_size: int = 16, dtype: str = "float32") -> tuple[torch.Tensor, int]:
    """``(N, L, D)`` float32 embeddings of ``texts`` and how many were computed now: from the
    cache under ``cache_dir`` (missing ones embedded and written first), or in memory."""
    if cache_dir is None:
        distinct = list(dict.fromkeys(texts))
        parts = [encoder.embed(distinct[i:i + batch_size])
                 for i in range(0, len(distinct), batch_size)]
        if not parts:
            return torch.zeros(0, encoder.num_layers, encoder.dim), 0
        index = {t: i for i, t in enumerate(distinct)}
        table = torch.cat(parts)
        return table[[index[t] for t in texts]], len(distinct)
    cache = TextCache(cache_dir, TextCacheSpec.of(encoder, dtype))
    written = cache.fill(texts, encoder.embed, batch_size)
    if not texts:
        return torch.zeros(0, encoder.num_layers, encoder.dim), written
    return cache.load(texts), written
