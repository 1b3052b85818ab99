"""Cross-corpus evaluation of a trained emotion model (``-m cross``; downstream/cross_corpus.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from emobench.core.context import RunContext
from emobench.downstream import common, cross_corpus
from emobench.downstream.emotion.data import EmotionDataset, Standardizer
from emobench.downstream.emotion.evaluation import (CHECKPOINT_FORMAT, NAME, build_model,
                                                    feature_path, names, upstream_of)


@torch.no_grad()
def evaluate(ctx: RunContext, cfg: cross_corpus.CrossConfig, file: str | Path) -> dict[str, Any]:
    """The checkpoint's class probabilities on corpus B's rows, through the mapping."""
    saved = common.load_checkpoint(ctx.checkpoint, CHECKPOINT_FORMAT, NAME)
    table = cross_corpus.target_table(cfg, file)
    upstream = upstream_of(ctx)
    common.check_upstream(saved, upstream, ctx.checkpoint)
    model = build_model(upstream, ctx, len(saved["classes"]))
    model.load_state_dict(saved["model"])
    model.eval()
    path = feature_path(ctx, upstream)
    mapping, kept, block = cross_corpus.prepare_cell(cfg, file, saved["classes"],
                                                     names(ctx.config)[0], table)
    dataset = EmotionDataset(kept, ctx.config.data.max_seconds,
                             Standardizer(**saved["standardizer"]), preload=False)
    probs = [torch.softmax(path.logits(model, inputs), dim=-1).cpu()
             for inputs, _, _ in path.loader(path.dataset(dataset))]
    scored = cross_corpus.score_models(mapping, block, kept,
                                       {"model": torch.cat(probs).double().numpy()})
    return cross_corpus.write_cell(ctx, NAME, cfg, scored, kept,
                                   common.upstream_record(ctx, upstream), saved["selection"])



