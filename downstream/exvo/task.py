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
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from emobench.core import io, plots, scores
from emobench.core.config import ConfigError, to_dict
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, provenance, seed_everything
from emobench.downstream.exvo.config import ExVoConfig
from emobench.corpora.exvo_labels import COUNTRIES, EMOTIONS, ExVoTable, read_data_info
from emobench.downstream.exvo.loss import combine, task_losses
from emobench.downstream.exvo.metrics import all_metrics, per_emotion_ccc
from emobench.downstream.exvo.model import ExVoModel, functionals
from emobench.downstream.exvo import outputs
from emobench.downstream.exvo.outputs import Predictions
from emobench.downstream.pooling import feature_cache, fill_cache, pooled_statistics
from emobench.downstream.waveforms import Standardizer, WaveformDataset, fit_standardizer
from emobench.upstream import Featurizer, FrozenUpstream, build_upstream

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
    if cfg.train.epochs < 1 or cfg.train.patience < 1 or cfg.train.batch_size < 1:
        raise ConfigError("train.epochs, train.patience and train.batch_size must be >= 1")


def check_data(cfg: ExVoConfig) -> None:
    for key in ("data_info", "audio_root"):
        if getattr(cfg.data, key) is None:
            raise ConfigError(f"data.{key} is not set: give it in a config file (-c) or with "
                              f"-o data.{key}=PATH (or run the demo with --demo)")


def _table(cfg: ExVoConfig) -> ExVoTable:
    return read_data_info(cfg.data.data_info, cfg.data.audio_root, cfg.data.audio_ext,
                          allow_speaker_overlap=cfg.data.allow_speaker_overlap)


def _upstream(ctx: RunContext) -> FrozenUpstream:
    spec = ctx.upstream
    upstream = build_upstream(spec.name, spec.checkpoint, spec.padded_batch).to(ctx.device)
    if ctx.config.model.functionals == "mean_std" and not upstream.info.frame_rate:
        raise ConfigError(f"{upstream.info.name} gives one vector per utterance: it has no "
                          "frames to take a standard deviation over (use "
                          "model.functionals=mean)")
    return upstream


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
    featurizer = Featurizer(upstream.num_layers, ctx.upstream.layer, ctx.upstream.normalize)
    return ExVoModel(featurizer, feature_dim, cfg.model.system,
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
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr,
                                 weight_decay=cfg.train.weight_decay)
    state: dict[str, Any] = {"epoch": 0, "step": 0, "best": None, "best_epoch": None,
                             "bad_epochs": 0, "stopped": False}
    if ctx.resume is not None:
        saved = torch.load(ctx.resume, map_location=ctx.device, weights_only=True)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = saved["state"]
        LOG.info("resumed from %s at epoch %d", ctx.resume, state["epoch"])

    targets = _targets(train_table, age_mean, age_std, ctx.device)
    record = {"format": CHECKPOINT_FORMAT, "run": ctx.run_record(), "config": to_dict(cfg),
              "standardizer": asdict(waveforms.standardizer), "age_mean": age_mean,
              "age_std": age_std, "feature_dim": int(features.shape[2]),
              "upstream_sha256": upstream.checkpoint_sha256}
    batch = cfg.train.batch_size
    with SummaryWriter(str(ctx.expdir)) as writer:
        for epoch in range(state["epoch"], cfg.train.epochs):
            if state["stopped"]:
                break
            model.train()
            order = torch.randperm(len(train_x),
                                   generator=torch.Generator().manual_seed(ctx.seed * 100_003 + epoch))
            running = torch.zeros(3)
            for first in tqdm(range(0, len(order), batch), leave=False, disable=None,
                              desc=f"epoch {epoch + 1}/{cfg.train.epochs}"):
                rows = order[first:first + batch]
                rows_dev = rows.to(ctx.device)
                losses = task_losses(model(train_x[rows].to(ctx.device)),
                                     *(t[rows_dev] for t in targets))
                loss = combine(losses, model.log_vars)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                state["step"] += 1
                running += losses.detach().cpu() * len(rows)
                writer.add_scalar(f"{NAME}/train-loss", float(loss.detach()), state["step"])
            running /= len(order)
            pred = predict(model, val_x, age_mean, age_std, ctx.device)
            val = _split_metrics(val_table, pred)
            for name, value in val.items():
                writer.add_scalar(f"{NAME}/val-{name}", value, state["step"])
            state["epoch"] = epoch + 1
            message = (f"epoch {epoch + 1}/{cfg.train.epochs} train-loss emotion "
                       f"{running[0]:.4f} age {running[1]:.4f} country {running[2]:.4f} | val "
                       f"ccc {val['ccc']:.4f} uar {val['uar']:.4f} mae {val['mae']:.3f} "
                       f"s_mtl {val['s_mtl']:.4f}")
            if state["best"] is None or val["s_mtl"] > state["best"]:
                state.update(best=val["s_mtl"], best_epoch=epoch + 1, bad_epochs=0)
                io.torch_save({**record, "model": model.state_dict(),
                               "selection": _selection(state)}, ctx.expdir / "dev-best.ckpt")
                message += " (best)"
            else:
                state["bad_epochs"] += 1
                if state["bad_epochs"] >= cfg.train.patience:
                    state["stopped"] = True
                    message += f" (no better S_MTL for {cfg.train.patience} epochs: stop)"
            LOG.info(message)
            io.torch_save({**record, "model": model.state_dict(), "state": state,
                           "optimizer": optimizer.state_dict()}, ctx.expdir / "last.ckpt")
    LOG.info("selected epoch %s by validation S_MTL = %.4f", state["best_epoch"], state["best"])
    return evaluate_checkpoint(ctx, ctx.expdir / "dev-best.ckpt", ctx.expdir, upstream=upstream,
                               table=table, features=features)


def _selection(state: dict[str, Any]) -> dict[str, Any]:
    return {"metric": "val_s_mtl", "epoch": int(state["best_epoch"]),
            "value": float(state["best"]), "higher_is_better": True}


def load_checkpoint(path: Path) -> dict[str, Any]:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not an emobench exvo_mtl checkpoint")
    return saved


def _baseline(train: ExVoTable, n: int) -> Predictions:
    """Train mean intensities, train mean age, majority train country, for ``n`` bursts."""
    majority = int(np.bincount(train.country, minlength=len(COUNTRIES)).argmax())
    return Predictions(np.tile(train.emotions.mean(axis=0), (n, 1)),
                       np.full(n, train.age.mean()), np.full(n, majority))


def evaluate_checkpoint(ctx: RunContext, checkpoint: Path, outdir: Path,
                        upstream: FrozenUpstream | None = None, table: ExVoTable | None = None,
                        features: torch.Tensor | None = None) -> dict[str, Any]:
    """Predict every burst with a saved model; write scores, predictions, submission, figures."""
    saved = load_checkpoint(checkpoint)
    cfg: ExVoConfig = ctx.config
    table = table if table is not None else _table(cfg)
    upstream = upstream if upstream is not None else _upstream(ctx)
    if upstream.checkpoint_sha256 != saved["upstream_sha256"]:
        raise ConfigError(f"{checkpoint} was trained on upstream weights with sha256 "
                          f"{saved['upstream_sha256']}, not {upstream.checkpoint_sha256}")
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
        "upstream": {**asdict(ctx.upstream), "name": upstream.info.name,
                     "checkpoint_sha256": upstream.checkpoint_sha256, "source": upstream.source},
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
    weights = model.featurizer.layer_weights()
    io.write_json(outdir / "layer_weights.json",
                  {"upstream": name, "layer": ctx.upstream.layer,
                   "normalize": ctx.upstream.normalize, "weights": weights})
    plots.layer_weights(weights, f"{name} layer weights ({NAME})", outdir / "layer_weights.png")


def extract(ctx: RunContext, shard: tuple[int, int]) -> int:
    """Fill the feature cache with every burst of every split, one shard of it."""
    cfg: ExVoConfig = ctx.config
    check_data(cfg)
    if cfg.data.cache_dir is None:
        raise ConfigError("-m extract needs data.cache_dir (it is null)")
    table = _table(cfg)
    upstream = _upstream(ctx)
    waveforms = _waveforms(cfg, table)
    cache = feature_cache(cfg.data.cache_dir, waveforms, upstream, ctx.upstream.normalize,
                          cfg.data.cache_dtype, cfg.data.extract_precision)
    keys, written = fill_cache(cache, waveforms, upstream, ctx.upstream.normalize,
                               cfg.train.extract_batch_size, ctx.device, shard)
    LOG.info("shard %d/%d: %d new entries; %d of %d bursts cached in %s", *shard, written,
             len(keys) - len(cache.missing(keys)), len(set(keys)), cache.folder)
    return written


def evaluate(ctx: RunContext) -> dict[str, Any]:
    assert ctx.checkpoint is not None
    return evaluate_checkpoint(ctx, ctx.checkpoint, ctx.expdir)
