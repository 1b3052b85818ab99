"""Cross-corpus evaluation of a trained probe (``-m cross``; downstream/cross_corpus.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from emobench.core.context import RunContext
from emobench.core.experiment import LOG
from emobench.downstream import common, cross_corpus
from emobench.downstream.emotion.evaluation import names
from emobench.downstream.probe import models
from emobench.downstream.probe.classifiers import recording
from emobench.downstream.probe.task import NAME, features_of
from emobench.downstream.waveforms import Standardizer


def class_scores(model: Any, x: np.ndarray, num_classes: int) -> np.ndarray:
    """``(N, C)`` scores over every source class (probabilities, or an SVM's decision values);
    a class the model never saw in training gets -inf."""
    scores = model.predict_proba(x) if hasattr(model, "predict_proba") else \
        model.decision_function(x)
    out = np.full((len(x), num_classes), -np.inf)
    out[:, model.classes_] = scores
    return out


def evaluate(ctx: RunContext, cfg: cross_corpus.CrossConfig, file: str | Path) -> dict[str, Any]:
    """The probe's selected family first, then every other family, on corpus B."""
    record = common.load_checkpoint(ctx.checkpoint, models.CHECKPOINT_FORMAT, NAME)
    table = cross_corpus.target_table(cfg, file)
    upstream = common.upstream_of(ctx)
    common.check_upstream(record, upstream, ctx.checkpoint)
    mapping, kept, block = cross_corpus.prepare_cell(cfg, file, record["classes"],
                                                     names(ctx.config)[0], table)
    feats = features_of(ctx, kept, Standardizer(**record["standardizer"]), upstream)
    folder = ctx.checkpoint.parent
    order = [record["selected"], *(f for f in record["families"] if f != record["selected"])]
    caught: Counter = Counter()
    with recording(caught):
        model_scores = {f: class_scores(models.load_model(folder, record["families"][f]),
                                        feats.x, len(record["classes"])) for f in order}
    for message, count in caught.items():
        ctx.warnings.append(f"predicting: {count} warning(s): {message}")
        LOG.warning(ctx.warnings[-1])
    scored = cross_corpus.score_models(mapping, block, kept, model_scores)
    return cross_corpus.write_cell(ctx, NAME, cfg, scored, kept,
                                   common.upstream_record(ctx, upstream), record["selection"])
