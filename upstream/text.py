"""Frozen text upstreams through Hugging Face ``transformers``: pooled embeddings of every hidden
state of a transcript.

A text upstream is a registered name (``roberta_large`` is ``FacebookAI/roberta-large``, loaded
with ``AutoModel`` / ``AutoTokenizer`` from the Hugging Face cache or hub) or the path of a local
model folder (``config.json``, the weights, the tokenizer files: what ``save_pretrained``
writes). :meth:`TextEncoder.embed` gives, per text, the pooled vector of every hidden state
(the embedding output and each layer's): ``(L, D)`` with ``L = layers + 1``. Pooling is ``mean``
(over the non-padding tokens, the special tokens included) or ``cls`` (the first token, RoBERTa's
``<s>``). Texts longer than ``max_tokens`` tokens (special tokens included) are truncated;
:meth:`TextEncoder.token_counts` lets the caller count them.

:func:`make_tiny` writes a small random RoBERTa with a word-level tokenizer over given words (for
tests and the offline demo): its weights are random, so its embeddings carry word identity (a
random vector per word, mixed by random layers), not pretrained meaning.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Iterable, Sequence

import torch

from emobench.core.errors import UserError
from emobench.core.registry import unknown

# registered names -> Hugging Face hub ids (anything else must be a local model folder)
TEXT_UPSTREAMS = {"roberta_large": "FacebookAI/roberta-large",
                  "roberta_base": "FacebookAI/roberta-base"}
POOLINGS = ("mean", "cls")
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # RoBERTa's ids 0..4


def resolve(name: str) -> str:
    """The hub id of a registered name, or an existing local folder; else a UserError.

    >>> resolve("roberta_large")
    'FacebookAI/roberta-large'
    >>> resolve("roberta_lrage")
    Traceback (most recent call last):
    ...
    emobench.core.registry.UnknownNameError: unknown text upstream 'roberta_lrage'; did you ...
    """
    if name in TEXT_UPSTREAMS:
        return TEXT_UPSTREAMS[name]
    if Path(name).is_dir():
        return str(Path(name).resolve())
    if "/" in name or Path(name).suffix or name.startswith("."):
        raise UserError(f"text upstream {name!r}: no such model folder (a registered name: "
                        f"{', '.join(TEXT_UPSTREAMS)}, or a folder written by save_pretrained)")
    raise unknown("text upstream", name, TEXT_UPSTREAMS)


def state_sha256(model: torch.nn.Module) -> str:
    """sha256 of a state dict: every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def tokenizer_sha256(tokenizer) -> str:
    """sha256 of what the tokenizer does: its serialised fast tokenizer without the per-call
    truncation and padding state, or its sorted vocabulary."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        spec.pop("truncation", None)
        spec.pop("padding", None)
    else:
        spec = sorted(tokenizer.get_vocab().items())
    text = json.dumps([type(tokenizer).__name__, spec], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class TextEncoder:
    """A frozen text model and its tokenizer, in eval mode, with their content hashes."""

    def __init__(self, name: str, pooling: str = "mean", max_tokens: int = 512,
                 device: torch.device | str = "cpu"):
        from transformers import AutoModel, AutoTokenizer

        if pooling not in POOLINGS:
            raise UserError(f"text pooling {pooling!r}: one of {', '.join(POOLINGS)}")
        if max_tokens < 2:
            raise UserError(f"text max_tokens {max_tokens}: at least 2 (the special tokens)")
        self.name, self.source = name, resolve(name)
        self.pooling, self.max_tokens = pooling, max_tokens
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.source)
            self.model = AutoModel.from_pretrained(self.source, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise UserError(f"text upstream {name!r} ({self.source}) could not be loaded: {exc} "
                            "(offline: give a local model folder)") from exc
        self.model.eval().requires_grad_(False).to(device)
        self.device = torch.device(device)
        self.weights_sha256 = state_sha256(self.model)
        self.tokenizer_sha256 = tokenizer_sha256(self.tokenizer)
        config = self.model.config
        self.num_layers = int(config.num_hidden_layers) + 1
        self.dim = int(config.hidden_size)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens of every text without truncation (special tokens included)."""
        return [len(ids) for ids in self.tokenizer(list(texts), truncation=False)["input_ids"]]

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """``(N, L, D)`` float32 pooled hidden states of every text (one batch)."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True,
                               max_length=self.max_tokens, return_tensors="pt").to(self.device)
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         output_hidden_states=True)
        hidden = torch.stack(out.hidden_states, dim=1).float()  # (N, L, T, D)
        if self.pooling == "cls":
            return hidden[:, :, 0].cpu()
        mask = batch["attention_mask"].to(hidden.dtype)[:, None, :, None]
        return ((hidden * mask).sum(dim=2) / mask.sum(dim=2)).cpu()


def words_of(texts: Iterable[str]) -> list[str]:
    """The sorted distinct tokens of :func:`make_tiny`'s tokenizer in ``texts`` (NFKC,
    lower case, split into runs of word characters and of punctuation).

    >>> words_of(["Good day!", "the good"])
    ['!', 'day', 'good', 'the']
    """
    import unicodedata

    found: set[str] = set()
    for text in texts:
        found.update(re.findall(r"\w+|[^\w\s]+", unicodedata.normalize("NFKC", text).lower()))
    return sorted(found)


def make_tiny(path: str | Path, words: Iterable[str], seed: int = 0, hidden: int = 64,
              layers: int = 2, max_tokens: int = 128) -> Path:
    """Write a random RoBERTa (``hidden`` wide, ``layers`` layers) with a word-level tokenizer
    of ``words`` (+ RoBERTa's special tokens; other words are ``<unk>``) to the folder ``path``.

    Deterministic: the same words and seed give the same weights (``torch.manual_seed``). The
    folder is built next to ``path`` and renamed into place, so it is complete or absent.
    """
    import os
    import shutil
    import tempfile

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    path = Path(path)
    vocab = {token: i for i, token in enumerate(
        list(SPECIAL_TOKENS) + [w for w in sorted(set(words)) if w not in SPECIAL_TOKENS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        unk_token="<unk>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
        model_max_length=max_tokens)
    config = RobertaConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers,
                           num_attention_heads=max(1, hidden // 16),
                           intermediate_size=2 * hidden, max_position_embeddings=max_tokens + 2,
                           pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = RobertaModel(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        if path.exists():  # another process finished first: keep its (identical) folder
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
