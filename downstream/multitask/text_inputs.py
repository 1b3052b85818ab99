"""The text input of the multitask task (docs/text.md): every row's transcript through the text
upstream (``model.text``), pooled per hidden state and cached, fused with the speech features
(downstream/multitask/fusion.py); what scores.json, the checkpoint and layer_weights.json record
of it.

``model.text.upstream: tiny_random`` builds a random RoBERTa over the words of the table's
transcripts (all splits: a tokenizer sees no label) into ``<experiment>/text_model``, seeded by
``model.text.seed``: an offline stand-in for a pretrained model whose embeddings carry word
identity only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from emobench.core import io, svg
from emobench.core.config import ConfigError
from emobench.core.errors import UserError
from emobench.core.context import RunContext
from emobench.core.experiment import LOG
from emobench.corpora.target_table import TargetTable
from emobench.downstream.multitask.fusion import FusedFeatures
from emobench.downstream.multitask.transcripts import read_transcripts
from emobench.upstream.text import TextEncoder, make_tiny, resolve, words_of
from emobench.upstream.text_cache import text_embeddings

TINY = "tiny_random"


def check(cfg: Any) -> None:
    """Refuse text and fusion settings that cannot run, before anything is read."""
    text, model = cfg.model.text, cfg.model
    if model.fusion.projection is not None and model.fusion.projection < 1:
        raise ConfigError("model.fusion.projection must be >= 1 (or null: no projection)")
    if model.speaker.prediction < 0:
        raise ConfigError("model.speaker.prediction (beta) must be >= 0")
    if text.upstream is None:
        return
    if text.max_tokens < 2 or text.batch_size < 1:
        raise ConfigError("model.text.max_tokens must be >= 2 and model.text.batch_size >= 1")
    if text.upstream != TINY:
        try:
            resolve(text.upstream)
        except UserError as exc:
            raise ConfigError(f"model.text.upstream: {exc}") from None
    if cfg.data.transcript_dir is None:
        raise ConfigError("model.text.upstream is set but data.transcript_dir is not: give the "
                          "folder of <audio file name>.txt transcripts (docs/text.md)")


def checked(cfg: Any, table: TargetTable) -> TargetTable:
    """``table`` after its transcripts are checked (missing ones refused unless
    ``data.missing_transcripts: speech_only``): before any feature is extracted."""
    if cfg.model.text.upstream is not None:
        read_transcripts(cfg.data.transcript_dir, table.paths, cfg.data.missing_transcripts)
    return table


def text_model_path(ctx: RunContext, texts: list[str]) -> str:
    """The text upstream to load: the configured name or folder, or the demo's tiny model."""
    text = ctx.config.model.text
    if text.upstream != TINY:
        return text.upstream
    folder = ctx.expdir / "text_model"
    if not folder.is_dir():
        make_tiny(folder, words_of(texts), seed=text.seed, max_tokens=text.max_tokens)
    return str(folder)


def attach(ctx: RunContext, table: TargetTable,
           speech: torch.Tensor) -> FusedFeatures | torch.Tensor:
    """``speech`` with every row's text embedding and missing flag (``model.text.upstream``
    set), else ``speech`` unchanged."""
    cfg = ctx.config
    text = cfg.model.text
    if text.upstream is None:
        return speech
    transcripts = read_transcripts(cfg.data.transcript_dir, table.paths,
                                   cfg.data.missing_transcripts)
    present = [t for t, gone in zip(transcripts.texts, transcripts.missing) if not gone]
    encoder = TextEncoder(text_model_path(ctx, present), text.pooling, text.max_tokens,
                          ctx.device)
    if text.layer is not None and not -encoder.num_layers <= text.layer < encoder.num_layers:
        raise ConfigError(f"model.text.layer {text.layer}: the text upstream has "
                          f"{encoder.num_layers} hidden states (0..{encoder.num_layers - 1})")
    hidden, written = text_embeddings(encoder, present, cfg.data.cache_dir, text.batch_size,
                                      cfg.data.cache_dtype)
    full = torch.zeros(len(table), encoder.num_layers, encoder.dim)
    missing = torch.from_numpy(transcripts.missing)
    full[~missing] = hidden
    truncated = sum(n > text.max_tokens for n in encoder.token_counts(present))
    counts = transcripts.counts(table.splits)
    record = {"upstream": text.upstream, "source": encoder.source,
              "weights_sha256": encoder.weights_sha256,
              "tokenizer_sha256": encoder.tokenizer_sha256, "random_weights": text.upstream == TINY,
              "pooling": text.pooling, "layer": text.layer, "max_tokens": text.max_tokens,
              "hidden_states": encoder.num_layers, "dim": encoder.dim,
              "transcript_dir": str(transcripts.folder),
              "missing_transcripts": cfg.data.missing_transcripts, "transcripts": len(present),
              "missing": counts, "empty": transcripts.empty, "truncated": int(truncated)}
    LOG.info("text: %d transcripts through %s (%s pooling, %d hidden states of %d; %d embedded "
             "now, the rest from the cache); %d missing (%s), %d truncated to %d tokens",
             len(present), encoder.source, text.pooling, encoder.num_layers, encoder.dim, written,
             counts["total"], cfg.data.missing_transcripts, truncated, text.max_tokens)
    if truncated:
        ctx.warnings.append(f"{truncated} transcripts are longer than model.text.max_tokens="
                            f"{text.max_tokens} tokens and were truncated")
    del encoder
    return FusedFeatures(speech, full, missing, record)


def checkpoint_entry(features: FusedFeatures | torch.Tensor) -> dict[str, Any]:
    """What a checkpoint records of the text model (nothing without one)."""
    if not isinstance(features, FusedFeatures):
        return {}
    return {"text": {k: features.record[k] for k in ("source", "weights_sha256",
                                                     "tokenizer_sha256")}}


def check_checkpoint(saved: dict[str, Any], features: FusedFeatures | torch.Tensor,
                     checkpoint: Path) -> None:
    """The checkpoint was trained with this text model (or both have none)."""
    now = checkpoint_entry(features).get("text")
    then = saved.get("text")
    if (now is None) != (then is None):
        raise ConfigError(f"{checkpoint} was trained {'with' if then else 'without'} a text "
                          f"input, this config has {'one' if now else 'none'} (model.text)")
    for key in ("weights_sha256", "tokenizer_sha256"):
        if now is not None and now[key] != then[key]:
            raise ConfigError(f"{checkpoint} was trained on a text model with {key} {then[key]}, "
                              f"not {now[key]} ({now['source']})")


def scores_entry(features: FusedFeatures | torch.Tensor) -> dict[str, Any]:
    """scores.json's ``text`` entry: the text model and the transcript counts."""
    return {"text": features.record} if isinstance(features, FusedFeatures) else {}


def write_text_layer_weights(outdir: Path, model: torch.nn.Module, name: str | None,
                             title: str) -> None:
    """Add the text featurizer's weights to ``layer_weights.json`` (``text``) and plot them in
    ``text_layer_weights.svg``; nothing without a text input."""
    featurizer = getattr(model.inputs, "text_featurizer", None)
    if featurizer is None:
        return
    import json

    path = outdir / "layer_weights.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    weights = featurizer.layer_weights()
    record["text"] = {"upstream": name, "layer": featurizer.layer,
                      "weights": weights}
    io.write_json(path, record)
    svg.layer_weights(weights, f"{name} text layer weights ({title})",
                      outdir / "text_layer_weights.svg")
