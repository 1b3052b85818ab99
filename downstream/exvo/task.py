"""ExVo 2022 multitask (``-d exvo_mtl``): ten emotion intensities, age and country of a vocal
burst from a frozen upstream's layer-weighted functionals (PROTOCOLS.md section 3).

train: per-utterance pooled statistics (from the feature cache) -> Adam, batch 8, at most 20
epochs, early stopping with patience 5 on the validation S_MTL, best weights restored -> scores,
predictions, submission CSV and figures. The Test split is never looked at before the selected
checkpoint is evaluated; Test rows without labels are predicted and not scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emobench.core import scores
from emobench.core.config import ConfigError, to_dict
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, provenance, seed_everything
from emobench.downstream import common
from emobench.downstream.exvo.config import ExVoConfig
from emobench.corpora.exvo_labels import COUNTRIES, EMOTIONS, ExVoTable, read_data_info
from emobench.downstream.exvo.loss import combine, task_losses
from emobench.downstream.exvo.metrics import all_metrics, per_emotion_ccc
from emobench.downstream.exvo.model import ExVoModel, functionals
from emobench.downstream.exvo import outputs
from emobench.downstream.exvo.outputs import Predictions
from emobench.downstream.pooling import pooled_statistics
from emobench.downstream.waveforms import Standardizer, WaveformDataset, fit_standardizer
from emobench.downstream.trainer import (Evaluation, Loop, Schedule, Selection, StepLoss, Trainer,
                                         index_batches)
from emobench.upstream import FrozenUpstream

CONFIG = ExVoConfig
NAME = "exvo_mtl"
CHECKPOINT_FORMAT = "emobench-exvo-mtl-1"
SELECTION = ("val", "s_mtl", True)  # split, metric, higher is better (used by --seeds)


def demo(root: Path, layers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the synthetic HUME-VB-format demo corpus under ``root``; its data config layer.

    ``layers`` (the config file's layer) is not used: the demo has one condition.
    """
    from emobench.corpora import demo_hume_vb

    # 48 speakers (24 train), 1440 bursts: enough for the baseline network to learn all three
    # tasks speaker-independently within the protocol's 20 epochs of batch 8
    data_info = demo_hume_vb.build(root, seed=0, speakers_per_country=12, bursts_per_speaker=30)
    return {"data": {"data_info": str(data_info), "audio_root": str(data_info.parent / "wav"),
                     "corpus": "demo_hume_vb"}}


def check(cfg: ExVoConfig) -> None:
    """Refuse a config that cannot run (before anything is written)."""
    check_data(cfg)
    if cfg.train.batch_size < 1:
        raise ConfigError("train.batch_size must be >= 1")
    Schedule.of(cfg.train).check()


def check_data(cfg: ExVoConfig) -> None:
    common.require_paths(cfg.data, ("data_info", "audio_root"))


def _table(cfg: ExVoConfig) -> ExVoTable:
    return read_data_info(cfg.data.data_info, cfg.data.audio_root, cfg.data.audio_ext,
                          allow_speaker_overlap=cfg.data.allow_speaker_overlap)


def _upstream(ctx: RunContext) -> FrozenUpstream:
    return common.upstream_of(ctx, ctx.config.model.functionals)


def _waveforms(cfg: ExVoConfig, table: ExVoTable, standardizer: Standardizer | None = None
               ) -> WaveformDataset:
    if standardizer is None:
        standardizer = Standardizer()
        if cfg.data.standardize:
            train = table.subset("train")
            standardizer = fit_standardizer(WaveformDataset(
                train.paths, cfg.data.max_seconds, Standardizer(), False, table.source))
    return WaveformDataset(table.paths, cfg.data.max_seconds, standardizer, False, table.source)


def _features(ctx: RunContext, waveforms: WaveformDataset,
              upstream: FrozenUpstream) -> torch.Tensor:
    """``(N, L, F)`` functionals of every burst, from the cache (extracted where missing)."""
    cfg: ExVoConfig = ctx.config
    names = ("mean",) if cfg.model.functionals == "mean" else ("mean", "square")
    stats = pooled_statistics(waveforms, upstream, ctx.upstream.normalize,
                              cfg.train.extract_batch_size, ctx.device, cfg.data.cache_dir,
                              cfg.data.cache_dtype, names, precision=cfg.data.extract_precision)
    return functionals(stats["mean"], stats.get("square"), cfg.model.functionals)


def _model(ctx: RunContext, upstream: FrozenUpstream, feature_dim: int) -> ExVoModel:
    cfg: ExVoConfig = ctx.config
    return ExVoModel(common.featurizer_of(ctx, upstream), feature_dim, cfg.model.system,
                     uncertainty=cfg.train.loss_combination == "uncertainty").to(ctx.device)


@torch.no_grad()
def predict(model: ExVoModel, features: torch.Tensor, age_mean: float, age_std: float,
            device: torch.device, batch_size: int = 512) -> Predictions:
    model.eval()
    emotions, age, country = [], [], []
    for first in range(0, len(features), batch_size):
        e, a, c = model(features[first:first + batch_size].to(device))
        emotions.append(e.double().cpu())
        age.append(a.double().cpu() * age_std + age_mean)
        country.append(c.argmax(dim=-1).cpu())
    return Predictions(torch.cat(emotions).numpy(), torch.cat(age).numpy(),
                       torch.cat(country).numpy())


def _targets(table: ExVoTable, age_mean: float, age_std: float, device: torch.device):
    return (torch.from_numpy(table.emotions).float().to(device),
            torch.from_numpy((table.age - age_mean) / age_std).float().to(device),
            torch.from_numpy(table.country).long().to(device))


def _split_metrics(table: ExVoTable, pred: Predictions) -> dict[str, float]:
    return all_metrics(table.emotions, pred.emotions, table.age, pred.age, table.country,
                       pred.country)


def train(ctx: RunContext) -> dict[str, Any]:
    cfg: ExVoConfig = ctx.config
    check(cfg)
    table = _table(cfg)
    counts = table.counts()
    LOG.info("%s: %d train / %d val / %d test bursts (%d test without labels)", table.source,
             counts["train"], counts["val"], counts["test"], counts["test_unlabelled"])
    upstream = _upstream(ctx)
    waveforms = _waveforms(cfg, table)
    features = _features(ctx, waveforms, upstream)  # every split: extraction sees no labels
    is_train, is_val = table.splits == "train", table.splits == "val"
    train_table, val_table = table.subset("train"), table.subset("val")
    train_x, val_x = features[is_train], features[is_val]
    age_mean, age_std = float(train_table.age.mean()), float(train_table.age.std())
    if not age_std > 0:
        raise ConfigError(f"{table.source}: every training speaker has the same age")
    LOG.info("features: %s functionals of %d hidden states x %d dims; age standardised by "
             "train mean %.2f, std %.2f years", cfg.model.functionals, features.shape[1],
             features.shape[2], age_mean, age_std)

    seed_everything(ctx.seed)
    model = _model(ctx, upstream, features.shape[2])
    if cfg.model.standardize_features:
        model.fit_standardization(train_x.to(ctx.device))
    targets = _targets(train_table, age_mean, age_std, ctx.device)

    def loss(model: ExVoModel, rows: torch.Tensor) -> StepLoss:
        rows_dev = rows.to(ctx.device)
        losses = task_losses(model(train_x[rows].to(ctx.device)),
                             *(t[rows_dev] for t in targets))
        return StepLoss(combine(losses, model.log_vars), len(rows),
                        dict(zip(("emotion", "age", "country"), losses)))

    def evaluate(model: ExVoModel) -> Evaluation:
        val = _split_metrics(val_table, predict(model, val_x, age_mean, age_std, ctx.device))
        return Evaluation(val["s_mtl"], val, f"val ccc {val['ccc']:.4f} uar {val['uar']:.4f} "
                                             f"mae {val['mae']:.3f} s_mtl {val['s_mtl']:.4f}")

    record = {"format": CHECKPOINT_FORMAT, "run": ctx.run_record(), "config": to_dict(cfg),
              "standardizer": asdict(waveforms.standardizer), "age_mean": age_mean,
              "age_std": age_std, "feature_dim": int(features.shape[2]),
              "upstream_sha256": upstream.checkpoint_sha256}
    batch = cfg.train.batch_size
    trainer = Trainer(Schedule.of(cfg.train), Selection("val_s_mtl"), ctx.expdir, ctx.device,
                      record, tag=NAME, resume=ctx.resume)
    trainer.fit(model, Loop(lambda epoch: index_batches(len(train_x), batch, ctx.seed, epoch),
                            loss, evaluate, steps_per_epoch=-(-len(train_x) // batch)))
    return evaluate_checkpoint(ctx, ctx.expdir / "dev-best.ckpt", ctx.expdir, upstream=upstream,
                               table=table, features=features)


def _baseline(train: ExVoTable, n: int) -> Predictions:
    """Train mean intensities, train mean age, majority train country, for ``n`` bursts."""
    majority = int(np.bincount(train.country, minlength=len(COUNTRIES)).argmax())
    return Predictions(np.tile(train.emotions.mean(axis=0), (n, 1)),
                       np.full(n, train.age.mean()), np.full(n, majority))


def evaluate_checkpoint(ctx: RunContext, checkpoint: Path, outdir: Path,
                        upstream: FrozenUpstream | None = None, table: ExVoTable | None = None,
                        features: torch.Tensor | None = None) -> dict[str, Any]:
    """Predict every burst with a saved model; write scores, predictions, submission, figures."""
    saved = common.load_checkpoint(checkpoint, CHECKPOINT_FORMAT, NAME)
    cfg: ExVoConfig = ctx.config
    table = table if table is not None else _table(cfg)
    upstream = upstream if upstream is not None else _upstream(ctx)
    common.check_upstream(saved, upstream, checkpoint)
    if features is None:
        standardizer = Standardizer(**saved["standardizer"])
        features = _features(ctx, _waveforms(cfg, table, standardizer), upstream)
    model = _model(ctx, upstream, saved["feature_dim"])
    model.load_state_dict(saved["model"])
    pred = predict(model, features, saved["age_mean"], saved["age_std"], ctx.device)

    scored = {"val": (table.splits == "val") & table.labelled,
              "test": (table.splits == "test") & table.labelled}
    scored = {split: rows for split, rows in scored.items() if rows.any()}
    train = table.subset("train")
    metrics, baselines, per_emotion = {}, {}, {}
    for split, rows in scored.items():
        part, part_pred = table.subset(split).labelled_only(), pred.take(rows)
        metrics[split] = _split_metrics(part, part_pred)
        baselines[split] = _split_metrics(part, _baseline(train, len(part)))
        per_emotion[split] = dict(zip(EMOTIONS, per_emotion_ccc(part.emotions,
                                                                part_pred.emotions).tolist()))
        LOG.info("%s: ccc %.4f uar %.4f mae %.3f s_mtl %.4f (baselines: ccc %.4f uar %.4f mae "
                 "%.3f s_mtl %.4f)", split, *metrics[split].values(), *baselines[split].values())

    out = cfg.output
    outputs.submission_csv(outdir, out.team, out.submission, table, pred)
    outputs.predictions_csv(outdir / "predictions.csv", table, pred)
    _figures(outdir, table, pred, scored, per_emotion, model, upstream, ctx)

    main_split = "test" if "test" in metrics else "val"
    result = {
        "schema_version": 1, "task": NAME, "corpus": cfg.data.corpus, "condition": "multitask",
        "fold": None,
        "upstream": common.upstream_record(ctx, upstream),
        "seed": ctx.seed, "toolkit": provenance(), "checkpoint": str(checkpoint),
        "main_metric": {"name": "s_mtl", "split": main_split,
                        "value": metrics[main_split]["s_mtl"], "higher_is_better": True},
        "metrics": metrics, "baselines": baselines, "per_class": {"ccc": per_emotion},
        "selection": saved["selection"], "feature_path": f"pooled_{cfg.model.functionals}",
        "counts": table.counts(), "warnings": ctx.warnings,
        "notes": {
            "ccc": "mean over the ten emotions of the concordance correlation coefficient, "
                   "population moments (variances and covariance divided by N)",
            "uar": "macro recall over the countries present in the split",
            "mae": "mean absolute error of age in years",
            "s_mtl": "3 / (1/ccc + mae + 1/uar); 0 when ccc or uar <= 0",
            "baselines": "train mean intensities, train mean age, majority train country",
        },
    }
    scores.write(outdir / "scores.json", result)
    return result


def _figures(outdir: Path, table: ExVoTable, pred: Predictions, scored: dict[str, np.ndarray],
             per_emotion: dict[str, dict[str, float]], model: ExVoModel,
             upstream: FrozenUpstream, ctx: RunContext) -> None:
    name = upstream.info.name
    if per_emotion:
        outputs.ccc_bars({s: list(v.values()) for s, v in per_emotion.items()},
                         outdir / "ccc_per_emotion.png", f"{name}: CCC per emotion")
    if scored:
        split = "test" if "test" in scored else "val"
        rows = scored[split]
        outputs.age_scatter(table.age[rows], pred.age[rows], outdir / "age.png",
                            f"{name}: age ({split})")
        outputs.confusion(table.country[rows], pred.country[rows],
                          outdir / "country_confusion.png", f"{name}: country ({split})")
    common.write_layer_weights(outdir, model.featurizer, upstream, ctx, NAME)


def extract(ctx: RunContext, shard: tuple[int, int]) -> int:
    """Fill the feature cache with every burst of every split, one shard of it."""
    cfg: ExVoConfig = ctx.config
    check_data(cfg)
    common.require_cache(cfg.data)
    return common.extract_shard(ctx, _waveforms(cfg, _table(cfg)), _upstream(ctx),
                                cfg.train.extract_batch_size, shard, "bursts")


def evaluate(ctx: RunContext) -> dict[str, Any]:
    assert ctx.checkpoint is not None
    return evaluate_checkpoint(ctx, ctx.checkpoint, ctx.expdir)
