"""Inference of a trained emotion model on new audio (``-m inference``, ``load_predictor``).

The same model, upstream and preprocessing as ``-m evaluate``: the checkpoint's classes,
waveform standardisation and feature path; the pooled statistics are computed in memory (the
feature cache is neither read nor written), in the checkpoint's extraction precision.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from emobench.core.context import RunContext
from emobench.downstream import common
from emobench.downstream.emotion.evaluation import (CHECKPOINT_FORMAT, NAME, build_model,
                                                    exact_head, feature_path, upstream_of)
from emobench.downstream.emotion.outputs import class_set
from emobench.downstream.inference import Predictions, Sources, class_columns
from emobench.downstream.pooling import pooled_statistics
from emobench.downstream.waveforms import Standardizer


@torch.no_grad()
def infer(ctx: RunContext, sources: Sources) -> Predictions:
    """Class probabilities of every input; the predicted set is EMO-SUPERB's (every class
    above 1/C, as in predictions.csv), ``predicted_emotion`` the most probable class."""
    assert ctx.checkpoint is not None
    saved = common.load_checkpoint(ctx.checkpoint, CHECKPOINT_FORMAT, NAME)
    ctx.config = replace(ctx.config, data=replace(ctx.config.data, cache_dir=None))
    cfg = ctx.config
    classes = list(saved["classes"])
    upstream = upstream_of(ctx)
    common.check_upstream(saved, upstream, ctx.checkpoint)
    model = build_model(upstream, ctx, len(classes))
    model.load_state_dict(saved["model"])
    model.eval()
    path = feature_path(ctx, upstream)
    waves = sources.dataset(cfg.data.max_seconds, Standardizer(**saved["standardizer"]))
    size = cfg.train.batch_size
    if path.pooled:
        pooled = pooled_statistics(waves, upstream, ctx.upstream.normalize, size, ctx.device,
                                   precision=cfg.data.extract_precision)["mean"]
        batches = list(pooled.double().split(size))
        model = exact_head(model, path)  # float64: the digits -m evaluate writes
    else:
        batches = [[waves[i][0] for i in range(first, min(first + size, len(waves)))]
                   for first in range(0, len(waves), size)]
    probs = torch.cat([torch.softmax(path.logits(model, b), dim=-1).cpu() for b in batches])
    probs = probs.double().numpy()
    return Predictions(
        list(sources.names),
        labels={"emotion": [classes[k] for k in probs.argmax(axis=1)],
                "set": [class_set(p, classes) for p in probs]},
        values=class_columns(None, classes, probs),
        info={"task": NAME, "feature_path": path.name, "classes": classes})

