"""The emotion task: train -> select on dev -> evaluate dev and test -> write every output.

The test split is never read during training: its dataset is built only when the selected
checkpoint is evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from emobench.core.config import ConfigError, to_dict
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, seed_everything
from emobench.downstream import common
from emobench.downstream.emotion.audit import audit_for_training, partition_spec
from emobench.downstream.input_checks import check_table
from emobench.downstream.emotion.config import EmotionConfig
from emobench.downstream.emotion.data import EmotionDataset, Standardizer
from emobench.downstream.emotion.evaluation import (CHECKPOINT_FORMAT, NAME, build_model,
                                                    evaluate_checkpoint, feature_path, predict,
                                                    read_table, upstream_of)
from emobench.downstream.emotion.features import (FeaturePath, pooled_variance_ratio,
                                                  variance_ratio)
from emobench.downstream.emotion.inference import infer
from emobench.downstream.emotion.loss import class_balanced_weights, soft_label_loss
from emobench.downstream.emotion.metrics import all_metrics
from emobench.downstream.emotion.model import EmotionModel
from emobench.downstream.emotion.standardization import waveform_standardizer
from emobench.downstream.trainer import (Evaluation, Loop, Schedule, Selection, StepLoss, Trainer,
                                         epoch_seed)
from emobench.upstream import FrozenUpstream

__all__ = ["CONFIG", "NAME", "SELECTION", "check", "demo", "evaluate", "evaluate_checkpoint",
           "extract", "folds", "infer", "predict", "train"]

CONFIG = EmotionConfig
SELECTION = ("dev", "macro_f1", True)  # split, metric, higher is better (used by --seeds)
NO_VARIANCE_RATIO = 1e-3


def demo(root: Path, layers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the synthetic demo corpus under ``root``; return its data config layer.

    ``layers`` (the config file's layer) may pick the demo's label condition with
    ``data.condition``: ``labels`` (4 classes, the default) or ``arousal`` (high/low).
    """
    from emobench.corpora import demo_emotion

    data = (layers or {}).get("data") or {}
    condition = data.get("condition") if isinstance(data, Mapping) else None
    condition = "labels" if condition is None else condition
    if condition not in demo_emotion.CONDITIONS:
        raise ConfigError(f"data.condition={condition!r}: the demo corpus has the conditions "
                          f"{list(demo_emotion.CONDITIONS)}")
    demo_emotion.build(root, seed=0)
    label_dir = root / condition
    return {"data": {"label_dir": str(label_dir), "audio_root": str(root / "audio"),
                     "corpus": "demo", "condition": condition}}


def check(cfg: EmotionConfig) -> None:
    """Refuse a config that cannot run (before anything is written)."""
    check_data(cfg)
    if cfg.model.head != "linear" and cfg.train.feature_path == "pooled":
        raise ConfigError(f"model.head={cfg.model.head} is nonlinear before the pooling: it "
                          "needs train.feature_path=frames (or auto)")
    if cfg.train.epochs is not None and cfg.train.epochs < 1:
        raise ConfigError(f"train.epochs={cfg.train.epochs}: the number of epochs must be >= 1")
    if cfg.train.epochs is None:
        raise ConfigError("train.epochs is not set: corpus configs under configs/emotion/ set it "
                          "(EMO-SUPERB: CREMA-D 110, IEMOCAP 40, ...), or -o train.epochs=N")
    Schedule.of(cfg.train).check()


def check_data(cfg: EmotionConfig) -> None:
    common.require_paths(cfg.data, ("label_dir", "audio_root"))
    if cfg.data.partition is not None:
        partition_spec(cfg.data.partition)


def folds(cfg: EmotionConfig) -> list[int]:
    """The folds of the condition: every labels_consensus_<k>.csv of data.label_dir."""
    check_data(cfg)
    found = sorted(int(p.stem.rsplit("_", 1)[1]) for p in
                   Path(cfg.data.label_dir).glob("labels_consensus_*.csv")
                   if p.stem.rsplit("_", 1)[1].isdigit())
    if not found:
        raise ConfigError(f"{cfg.data.label_dir} has no labels_consensus_<k>.csv")
    return found


def _standardizer(cfg: EmotionConfig, table, train_set: EmotionDataset | None = None
                  ) -> Standardizer:
    """EMO-SUPERB's waveform standardisation: mean and std of the training samples (cached)."""
    return waveform_standardizer(cfg.data, table, train_set)


def train(ctx: RunContext) -> dict[str, Any]:
    cfg: EmotionConfig = ctx.config
    check(cfg)
    table = read_table(cfg)
    check_table(ctx, table, cfg.data)
    upstream = upstream_of(ctx)  # its checkpoint is checked before anything is written
    audit = audit_for_training(table, cfg.data, ctx.warnings)
    train_table, dev_table = table.subset("train"), table.subset("dev")
    LOG.info("%s fold %s: %d train / %d dev / %d test utterances, %d classes %s", table.source,
             cfg.data.fold, len(train_table), len(dev_table), int((table.splits == "test").sum()),
             len(table.classes), table.classes)

    train_set = EmotionDataset(train_table, cfg.data.max_seconds, Standardizer(),
                               cfg.data.preload_audio)
    standardizer = _standardizer(cfg, table, train_set)
    train_set.standardizer = standardizer
    dev_set = EmotionDataset(dev_table, cfg.data.max_seconds, standardizer, cfg.data.preload_audio)
    LOG.info("waveform standardisation from training samples: mean %.6g std %.6g",
             standardizer.mean, standardizer.std)

    class_weights = class_balanced_weights(train_table.labels)
    for c, w in zip(table.classes, class_weights):
        if w == 0.0:
            ctx.warnings.append(f"class {c!r} has no positive training label: weight 0")
            LOG.warning(ctx.warnings[-1])
    LOG.info("class-balanced weights: %s",
             {c: round(float(w), 4) for c, w in zip(table.classes, class_weights)})
    weights = torch.tensor(class_weights, dtype=torch.float32, device=ctx.device)

    path = feature_path(ctx, upstream)
    train_inputs, dev_inputs = path.dataset(train_set), path.dataset(dev_set)
    _warn_constant_features(ctx, upstream, path, train_set, train_inputs)

    seed_everything(ctx.seed)
    model = build_model(upstream, ctx, len(table.classes))
    if cfg.model.standardize_features:
        pooled = train_inputs if path.pooled else FeaturePath(
            True, upstream, ctx.upstream.normalize, cfg.train.batch_size, ctx.device,
            None if upstream.fine_tuning else cfg.data.cache_dir, cfg.data.cache_dtype,
            cfg.data.extract_precision
        ).dataset(train_set)
        model.fit_standardization(pooled.features.to(ctx.device))
        LOG.info("features standardised by training-set statistics of %d utterances",
                 len(pooled))

    def batches(epoch: int):
        return path.loader(train_inputs, seed=epoch_seed(ctx.seed, epoch))

    def loss(model: EmotionModel, batch) -> StepLoss:
        inputs, labels, _ = batch
        value = soft_label_loss(path.logits(model, inputs), labels.to(ctx.device), weights)
        return StepLoss(value, len(labels))

    def evaluate(model: EmotionModel) -> Evaluation:
        probs, dev_loss = predict(model, path, dev_inputs, weights)
        dev = {"loss": dev_loss, **all_metrics(dev_table.labels, probs)}
        value = dev_loss if cfg.train.select_metric == "dev_loss" else dev["macro_f1"]
        return Evaluation(value, dev, f"dev-loss {dev_loss:.4f} dev-macro_f1 "
                                      f"{dev['macro_f1']:.4f}")

    record = {"format": CHECKPOINT_FORMAT, "run": ctx.run_record(), "config": to_dict(cfg),
              "classes": list(table.classes), "standardizer": asdict(standardizer),
              "class_weights": [float(w) for w in class_weights],
              "upstream_sha256": upstream.checkpoint_sha256}
    trainer = Trainer(Schedule.of(cfg.train), _selection(cfg), ctx.expdir, ctx.device, record,
                      tag=f"{NAME}-fold{cfg.data.fold}", split="dev", resume=ctx.resume)
    trainer.fit(model, Loop(batches, loss, evaluate,
                            steps_per_epoch=math.ceil(len(train_set) / cfg.train.batch_size)))
    return evaluate_checkpoint(ctx, ctx.expdir / "dev-best.ckpt", ctx.expdir, upstream=upstream,
                               table=table, path=path, audit=audit)


def _selection(cfg: EmotionConfig) -> Selection:
    return Selection(cfg.train.select_metric, cfg.train.select_metric != "dev_loss",
                     record_step=True)


def _warn_constant_features(ctx: RunContext, upstream: FrozenUpstream, path: FeaturePath,
                            train_set: EmotionDataset, train_inputs) -> None:
    """Warn when the pooled features are the same for every utterance (e.g. s3prl's fbank)."""
    if path.pooled:
        count = len(train_inputs.squares)
        ratio = variance_ratio(train_inputs.features[:count], train_inputs.squares)
    else:
        ratio = pooled_variance_ratio(upstream, train_set, ctx.device)
    if ratio < NO_VARIANCE_RATIO:
        ctx.warnings.append(
            f"pooled {upstream.info.name} features carry no per-utterance variance (between/"
            f"within std ratio {ratio:.2e}): the mean-pooled head can only learn a constant"
            + (" (s3prl's fbank applies per-utterance CMVN; fbank_no_cmvn does not)"
               if upstream.info.name == "fbank" else ""))
        LOG.warning(ctx.warnings[-1])


def extract(ctx: RunContext, shard: tuple[int, int]) -> int:
    """Fill the feature cache with every utterance of the fold (all splits), one shard of it."""
    cfg: EmotionConfig = ctx.config
    check_data(cfg)
    common.require_cache(cfg.data)
    table = read_table(cfg)
    check_table(ctx, table, cfg.data)
    everything = EmotionDataset(table, cfg.data.max_seconds, _standardizer(cfg, table),
                                preload=False)
    return common.extract_shard(ctx, everything, common.upstream_of(ctx), cfg.train.batch_size,
                                shard)


def evaluate(ctx: RunContext) -> dict[str, Any]:
    assert ctx.checkpoint is not None
    return evaluate_checkpoint(ctx, ctx.checkpoint, ctx.expdir)
