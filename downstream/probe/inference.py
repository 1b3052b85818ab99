"""Inference of a trained probe on new audio (``-m inference``, ``load_predictor``).

The features are the training's (the checkpoint's waveform standardisation, functionals and
hidden-state choice), computed in memory; the classifier is the family selected on dev, loaded
after its file's sha256 matches the checkpoint's. With ``features.speaker_standardize`` the
inputs of one call are standardised together, as one speaker (at least two inputs; predict one
speaker's recordings per call), as the test speakers' own rows are in evaluation.
"""

from __future__ import annotations

import numpy as np

from emobench.core.config import ConfigError
from emobench.core.context import RunContext
from emobench.downstream import common
from emobench.downstream.inference import Predictions, Sources, class_columns
from emobench.downstream.pooling import pooled_statistics
from emobench.downstream.probe import models
from emobench.downstream.probe.features import speaker_standardize, vectors
from emobench.downstream.waveforms import Standardizer


def infer(ctx: RunContext, sources: Sources) -> Predictions:
    """The selected family's class (and its probabilities, where the family has them)."""
    assert ctx.checkpoint is not None
    record = common.load_checkpoint(ctx.checkpoint, models.CHECKPOINT_FORMAT, "probe")
    cfg = ctx.config
    if cfg.features.speaker_standardize and len(sources) < 2:
        raise ConfigError(f"{ctx.checkpoint} standardises features per speaker: give at least "
                          "two recordings of the speaker (one call = one speaker)")
    upstream = common.upstream_of(ctx)
    common.check_upstream(record, upstream, ctx.checkpoint)
    waves = sources.dataset(cfg.data.max_seconds, Standardizer(**record["standardizer"]))
    stats = pooled_statistics(waves, upstream, ctx.upstream.normalize, cfg.batch_size,
                              ctx.device, names=("mean", "square"),
                              precision=cfg.data.extract_precision)
    x = vectors(stats["mean"], stats["square"], cfg.features.functionals, ctx.upstream.layer)
    if cfg.features.speaker_standardize:
        x = speaker_standardize(x, ["inputs"] * len(x), "inference")
    chosen, classes = record["selected"], list(record["classes"])
    model = models.load_model(ctx.checkpoint.parent, record["families"][chosen])
    predicted = model.predict(x)
    values = {}
    if hasattr(model, "predict_proba"):
        probs = np.zeros((len(x), len(classes)))
        probs[:, model.classes_] = model.predict_proba(x)  # classes seen in training
        values = class_columns(None, classes, probs)
    return Predictions(list(sources.names), {"emotion": [classes[int(k)] for k in predicted]},
                       values, {"task": "probe", "classifier": chosen,
                                "speaker_standardize": cfg.features.speaker_standardize})
