"""Inference of a trained multitask model (exvo_mtl, IS25, any declared targets) on new audio.

What the trained model needs beyond its checkpoint is what its targets learnt from the training
table: the class names, the standardisation of regression targets and, for
``data_handling.minmax=train``, the range of the model's predictions on the training rows.
``-m evaluate`` (and the end of training) writes them to ``targets.json`` beside scores.json
(:func:`write_state`); inference reads them from the checkpoint's folder, so it needs no label
file. Columns follow predictions.csv: ``<target>_prob_<class>`` and ``predicted_<target>`` for
categorical targets, ``<target>_pred`` or ``<column>_pred`` for numeric ones.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from emobench.core import io
from emobench.core.config import ConfigError
from emobench.core.context import RunContext
from emobench.downstream import common
from emobench.downstream.inference import Predictions, Sources, class_columns
from emobench.downstream.multitask import ranges, scoring, speaker
from emobench.downstream.multitask.checks import columns_of, kind_of
from emobench.downstream.multitask.kinds import Target
from emobench.downstream.multitask.upstreams import Upstreams
from emobench.downstream.waveforms import Standardizer

STATE = "targets.json"


def write_state(outdir: Path, cfg: Any, targets: list[Target], raw: dict[str, np.ndarray],
                splits: np.ndarray) -> Path:
    """``targets.json``: each target's labels and standardisation, and the training rows'
    prediction range of regression targets (``raw``: predictions before any range mapping)."""
    train = splits == "train"
    state = []
    for t in targets:
        entry: dict[str, Any] = {"name": t.name, "kind": t.kind.name, "labels": list(t.labels),
                                 "mean": t.mean, "std": t.std}
        if t.kind.name == "regression" and train.any():
            entry["train_prediction_range"] = [float(raw[t.name][train].min()),
                                               float(raw[t.name][train].max())]
        state.append(entry)
    return io.write_json(outdir / STATE, {"minmax": cfg.data_handling.minmax, "targets": state})


def read_state(cfg: Any, checkpoint: Path) -> tuple[list[Target], dict[str, Any]]:
    """The fitted targets of the run whose checkpoint is ``checkpoint``, from its folder."""
    path = checkpoint.parent / STATE
    if not path.is_file():
        raise ConfigError(f"{path} is missing: it is written when the run is evaluated; run "
                          f"-m evaluate -e {checkpoint} -p {checkpoint.parent} once (runs "
                          "trained before inference existed lack it)")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})") from None
    speaker.add_target(cfg)
    declared = {t.name: t for t in cfg.targets}
    targets = []
    for entry in state["targets"]:
        tc = declared.get(entry["name"])
        if tc is None:
            raise ConfigError(f"{path}: target {entry['name']!r} is not in the run's config")
        targets.append(Target(tc, kind_of(tc), columns_of(tc), tuple(entry["labels"]),
                              float(entry["mean"]), float(entry["std"])))
    return targets, state


def _mapped(cfg: Any, targets: list[Target], state: dict[str, Any],
            raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Regression predictions mapped as evaluation maps the test split."""
    mode = cfg.data_handling.minmax
    if mode != "train":  # none, clip, and split (over the inference inputs, transductively)
        return ranges.map_by_split(cfg, targets, raw, np.full(len(next(iter(raw.values()))),
                                                              "test"))
    out = {k: v.copy() for k, v in raw.items()}
    spans = {e["name"]: e.get("train_prediction_range") for e in state["targets"]}
    for t in targets:
        if t.kind.name == "regression":
            lowest, highest = spans[t.name]
            out[t.name] = ranges.minmax(raw[t.name], lowest, highest, *t.cfg.range)
    return out


@torch.no_grad()
def infer(ctx: RunContext, sources: Sources, checkpoint_format: str, features_of: Callable,
          model_of: Callable) -> Predictions:
    """Every target's predictions for ``sources``; ``features_of`` and ``model_of`` are the
    task's own (downstream/multitask/task.py), so the inputs and the model are the training's."""
    assert ctx.checkpoint is not None
    saved = common.load_checkpoint(ctx.checkpoint, checkpoint_format, "multitask")
    cfg = dataclasses.replace(ctx.config, data=dataclasses.replace(ctx.config.data,
                                                                   cache_dir=None))
    ctx.config = cfg
    if cfg.model.text.upstream:
        raise ConfigError(f"{ctx.checkpoint} fuses text ({cfg.model.text.upstream}): "
                          "inference on new audio takes no transcripts yet; use a speech-only "
                          "model (docs/inference.md)")
    targets, state = read_state(cfg, ctx.checkpoint)
    upstream = Upstreams.of(ctx, cfg.model.functionals)
    upstream.check(saved, ctx.checkpoint)
    waves = sources.dataset(cfg.data.max_seconds, Standardizer(**saved["standardizer"]))
    features = upstream.features(lambda view, one: features_of(view, waves, one))
    model = model_of(ctx, upstream, saved["feature_dim"], targets, features)
    model.load_state_dict(saved["model"])
    pred = _mapped(cfg, targets, state, scoring.predict(model, features, targets, ctx.device))
    labels: dict[str, list[str]] = {}
    values: dict[str, np.ndarray] = {}
    for t in targets:
        p = pred[t.name]
        if t.kind.categorical:
            labels[t.name] = [t.labels[int(k)] for k in p.argmax(axis=1)]
            values.update(class_columns(t.name, t.labels, p))
        elif p.shape[1] == 1:
            values[f"{t.name}_pred"] = p[:, 0]
        else:
            values.update({f"{label}_pred": p[:, c] for c, label in enumerate(t.labels)})
    return Predictions(list(sources.names), labels, values,
                       {"task": ctx.task, "targets": [t.name for t in targets],
                        "minmax": cfg.data_handling.minmax})
