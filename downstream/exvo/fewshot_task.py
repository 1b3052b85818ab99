"""ExVo few-shot personalisation (``-d exvo_fewshot``), PROTOCOLS.md section 4.

A speaker-agnostic regressor of the intensities is trained on the training speakers (pooled
layer-weighted functionals from the feature cache). Every validation and test speaker has k
labelled support clips; for each speaker, each adaptation method starts from the trained model,
uses the speaker's support clips and predicts the speaker's other clips (queries). Support clips
are never scored. The checkpoint is selected on validation speakers with the same protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from emobench.core import scores
from emobench.core.config import ConfigError, to_dict
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, provenance, seed_everything
from emobench.corpora import exvo_support as support_sets
from emobench.downstream import common
from emobench.downstream.exvo.adapt import METHODS, PARAMETER_GROUPS, FewShotModel
from emobench.downstream.exvo.fewshot_config import FewShotConfig
from emobench.corpora.exvo_labels import EMOTIONS, ExVoTable, read_data_info
from emobench.downstream.exvo.fewshot_outputs import write_outputs
from emobench.downstream.exvo.fewshot_uncertainty import attach as attach_uncertainty
from emobench.downstream.exvo.fewshot_protocol import (fewshot_predict, mean_ccc,
                                                       per_speaker_ccc, quantiles, speakers_in)
from emobench.downstream.exvo.metrics import per_emotion_ccc
from emobench.downstream.functionals import functionals
from emobench.downstream.pooling import pooled_statistics
from emobench.downstream.standardize_cache import training_standardizer
from emobench.downstream.waveforms import Standardizer, WaveformDataset
from emobench.downstream.trainer import (Evaluation, Loop, Schedule, Selection, StepLoss, Trainer,
                                         index_batches)
from emobench.upstream import FrozenUpstream

NO_INFERENCE = ("ExVo few-shot adapts the model to each test speaker from that speaker's "
                "labelled support clips: predicting unlabelled new audio is not defined; score "
                "a label table with -m evaluate instead")

CONFIG = FewShotConfig
NAME = "exvo_fewshot"
CHECKPOINT_FORMAT = "emobench-exvo-fewshot-1"
SELECTION = ("val", "ccc_adapted", True)
EVAL_SPLITS = ("val", "test")


def demo(root: Path, layers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A synthetic HUME-VB-format corpus whose speakers have personal expression styles.

    ``layers`` (the config file's layer) is not used: the demo has one condition.
    """
    from emobench.corpora import demo_hume_vb

    data_info = demo_hume_vb.build(root, seed=0, speakers_per_country=12, bursts_per_speaker=30,
                                   idiosyncrasy=0.15)
    return {"data": {"data_info": str(data_info), "audio_root": str(data_info.parent / "wav"),
                     "corpus": "demo_hume_vb_idiosyncratic"}}


def check(cfg: FewShotConfig) -> None:
    common.require_paths(cfg.data, ("data_info", "audio_root"))
    if cfg.data.k < 1 or cfg.train.batch_size < 1:
        raise ConfigError("data.k and train.batch_size must be >= 1")
    Schedule.of(cfg.train).check()
    unknown = [g for g in cfg.adapt.params if g not in PARAMETER_GROUPS]
    if unknown:
        raise ConfigError(f"adapt.params {unknown}: each one of {list(PARAMETER_GROUPS)}")


def _targets(cfg: FewShotConfig) -> tuple[str, ...]:
    return tuple(cfg.data.targets) if cfg.data.targets else EMOTIONS


def _table(cfg: FewShotConfig) -> ExVoTable:
    return read_data_info(cfg.data.data_info, cfg.data.audio_root, cfg.data.audio_ext,
                          allow_speaker_overlap=cfg.data.allow_speaker_overlap,
                          targets=_targets(cfg), speaker_attributes=False)


def _support(ctx: RunContext, table: ExVoTable) -> support_sets.SupportSets:
    """The support sets (read, or drawn and written to ``<expdir>/support.csv``)."""
    data = ctx.config.data
    if data.support_file is not None:
        sets = support_sets.read_support(data.support_file, table, EVAL_SPLITS)
        LOG.info("support sets of %d speakers from %s", len(sets.support), data.support_file)
        return sets
    sets, skipped = support_sets.make_support(table, data.k, data.support_seed, EVAL_SPLITS)
    if skipped:
        ctx.warnings.append(f"{len(skipped)} speakers have fewer than k + 1 = {data.k + 1} "
                            f"labelled clips and are not evaluated: {skipped[:10]}")
        LOG.warning(ctx.warnings[-1])
    support_sets.write_support(ctx.expdir / "support.csv", sets)
    LOG.info("support sets: %d clips of each of %d speakers (seed %d), written to %s", data.k,
             len(sets.support), data.support_seed, ctx.expdir / "support.csv")
    return sets


def _upstream(ctx: RunContext) -> FrozenUpstream:
    return common.upstream_of(ctx, ctx.config.model.functionals)


def _features(ctx: RunContext, table: ExVoTable, upstream: FrozenUpstream,
              standardizer: Standardizer) -> torch.Tensor:
    cfg: FewShotConfig = ctx.config
    waveforms = WaveformDataset(table.paths, cfg.data.max_seconds, standardizer, False,
                                table.source)
    names = ("mean",) if cfg.model.functionals == "mean" else ("mean", "square")
    stats = pooled_statistics(waveforms, upstream, ctx.upstream.normalize,
                              cfg.train.extract_batch_size, ctx.device, cfg.data.cache_dir,
                              cfg.data.cache_dtype, names, precision=cfg.data.extract_precision)
    return functionals(stats["mean"], stats.get("square"), cfg.model.functionals)


def _standardizer(cfg: FewShotConfig, table: ExVoTable) -> Standardizer:
    return training_standardizer(cfg.data.standardize, table.subset("train").paths,
                                 cfg.data.max_seconds, table.source, cfg.data.cache_dir)


def _model(ctx: RunContext, upstream: FrozenUpstream, feature_dim: int,
           num_targets: int) -> FewShotModel:
    return FewShotModel(common.featurizer_of(ctx, upstream), feature_dim,
                        ctx.config.model.hidden_dim,
                        num_targets).to(ctx.device)


def train(ctx: RunContext) -> dict[str, Any]:
    cfg: FewShotConfig = ctx.config
    check(cfg)
    table = _table(cfg)
    sets = _support(ctx, table)
    val_speakers = speakers_in(table, sets, "val")
    if not val_speakers:
        raise ConfigError(f"{table.source}: no validation speaker has a support set")
    upstream = _upstream(ctx)
    standardizer = _standardizer(cfg, table)
    features = _features(ctx, table, upstream, standardizer)
    train_rows = np.flatnonzero((table.splits == "train") & table.labelled)
    train_x = features[train_rows]
    train_y = torch.from_numpy(table.emotions[train_rows]).float().to(ctx.device)
    LOG.info("%d training clips of %d speakers; %d validation speakers with %d-shot support",
             len(train_rows), len({table.speakers[i] for i in train_rows}), len(val_speakers),
             cfg.data.k)

    seed_everything(ctx.seed)
    model = _model(ctx, upstream, features.shape[2], table.emotions.shape[1])
    if cfg.model.standardize_features:
        model.inputs.fit_standardization(train_x.to(ctx.device))
    record = {"format": CHECKPOINT_FORMAT, "run": ctx.run_record(), "config": to_dict(cfg),
              "standardizer": asdict(standardizer), "feature_dim": int(features.shape[2]),
              "targets": list(_targets(cfg)), "upstream_sha256": upstream.checkpoint_sha256}
    method = cfg.adapt.method if cfg.train.select == "adapted" else "none"

    def loss(model: FewShotModel, rows: torch.Tensor) -> StepLoss:
        return StepLoss(F.mse_loss(model(train_x[rows].to(ctx.device)),
                                   train_y[rows.to(ctx.device)]), len(rows))

    def evaluate(model: FewShotModel) -> Evaluation:
        rows, pred = fewshot_predict(model, features, table, sets, val_speakers, method,
                                     cfg.adapt, ctx.device)
        value = mean_ccc(table, rows, pred)
        return Evaluation(value, {f"ccc_{cfg.train.select}": value},
                          f"val ccc ({method}) {value:.4f}")

    batch = cfg.train.batch_size
    trainer = Trainer(Schedule.of(cfg.train), Selection(f"val_ccc_{cfg.train.select}"),
                      ctx.expdir, ctx.device, record, tag=NAME, resume=ctx.resume)
    trainer.fit(model, Loop(lambda epoch: index_batches(len(train_rows), batch, ctx.seed, epoch),
                            loss, evaluate, steps_per_epoch=-(-len(train_rows) // batch)))
    return evaluate_checkpoint(ctx, ctx.expdir / "dev-best.ckpt", ctx.expdir, upstream, table,
                               features, sets)


def evaluate_checkpoint(ctx: RunContext, checkpoint: Path, outdir: Path,
                        upstream: FrozenUpstream | None = None, table: ExVoTable | None = None,
                        features: torch.Tensor | None = None,
                        sets: support_sets.SupportSets | None = None) -> dict[str, Any]:
    """Every method on the same queries of every validation and test speaker; all outputs."""
    saved = common.load_checkpoint(checkpoint, CHECKPOINT_FORMAT, NAME)
    cfg: FewShotConfig = ctx.config
    table = table if table is not None else _table(cfg)
    if sets is None:
        sets = _support(ctx, table)
    upstream = upstream if upstream is not None else _upstream(ctx)
    common.check_upstream(saved, upstream, checkpoint)
    if features is None:
        features = _features(ctx, table, upstream, Standardizer(**saved["standardizer"]))
    model = _model(ctx, upstream, saved["feature_dim"], len(saved["targets"]))
    model.load_state_dict(saved["model"])
    targets = list(saved["targets"])
    methods = ["none", *[m for m in METHODS.names() if m not in ("none", cfg.adapt.method)],
               cfg.adapt.method]
    methods = list(dict.fromkeys(methods))

    metrics: dict[str, dict[str, float]] = {}
    baselines: dict[str, dict[str, float]] = {}
    per_class: dict[str, dict[str, dict[str, float]]] = {}
    per_speaker: dict[str, dict[str, dict[str, float]]] = {}
    adapted_pred: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for split in EVAL_SPLITS:
        speakers = speakers_in(table, sets, split)
        if not speakers:
            continue
        metrics[split], per_speaker[split] = {}, {}
        unadapted = None
        for method in methods:
            rows, pred = fewshot_predict(model, features, table, sets, speakers, method,
                                         cfg.adapt, ctx.device)
            key = "ccc_unadapted" if method == "none" else f"ccc_adapted_{method}"
            metrics[split][key] = mean_ccc(table, rows, pred)
            per_class.setdefault(key, {})[split] = dict(zip(
                targets, per_emotion_ccc(table.emotions[rows], pred).tolist()))
            per_speaker[split][key] = per_speaker_ccc(table, rows, pred)
            if method == "none":
                unadapted = pred
            if method == cfg.adapt.method:
                adapted_pred[split] = (rows, unadapted, pred)
        metrics[split]["ccc_adapted"] = metrics[split][
            "ccc_unadapted" if cfg.adapt.method == "none" else f"ccc_adapted_{cfg.adapt.method}"]
        rows = adapted_pred[split][0]
        train = table.emotions[(table.splits == "train") & table.labelled]
        constant = np.tile(train.mean(axis=0), (len(rows), 1))
        baselines[split] = {"ccc": mean_ccc(table, rows, constant)}
        speaker_values = per_speaker[split]
        gains = np.array([speaker_values["ccc_adapted_" + cfg.adapt.method][s]
                          - speaker_values["ccc_unadapted"][s] for s in speakers]) \
            if cfg.adapt.method != "none" else np.zeros(len(speakers))
        metrics[split]["speakers"] = float(len(speakers))
        metrics[split]["queries"] = float(len(rows))
        metrics[split]["speakers_improved_fraction"] = float((gains > 0).mean())
        LOG.info("%s (%d speakers, %d queries): %s (train-mean constant %.4f)", split,
                 len(speakers), len(rows), " ".join(f"{k} {v:.4f}" for k, v in
                                                   metrics[split].items() if k.startswith("ccc")),
                 baselines[split]["ccc"])

    write_outputs(outdir, cfg, table, targets, adapted_pred, per_class)
    main_split = "test" if "test" in metrics else "val"
    result = {
        "schema_version": 1, "task": NAME, "corpus": cfg.data.corpus,
        "condition": f"{cfg.data.k}-shot", "fold": None,
        "upstream": common.upstream_record(ctx, upstream),
        "seed": ctx.seed, "toolkit": provenance(), "checkpoint": str(checkpoint),
        "main_metric": {"name": "ccc_adapted", "split": main_split,
                        "value": metrics[main_split]["ccc_adapted"], "higher_is_better": True},
        "metrics": metrics, "baselines": baselines, "per_class": per_class,
        "per_speaker": per_speaker, "per_speaker_summary": {
            split: {key: quantiles(values) for key, values in methods.items()}
            for split, methods in per_speaker.items()},
        "adaptation": asdict(cfg.adapt),
        "selection": saved["selection"], "feature_path": f"pooled_{cfg.model.functionals}",
        "counts": {"support_speakers": len(sets.support),
                   "support_clips": sum(len(v) for v in sets.support.values()),
                   **{s: int((table.splits == s).sum()) for s in ("train", "val", "test")}},
        "warnings": ctx.warnings,
        "notes": {
            "ccc_unadapted": "mean over targets of the CCC (population moments) over all query "
                             "clips of the split's speakers, speaker-agnostic model",
            "ccc_adapted": f"the same queries after adaptation with {cfg.adapt.method!r} "
                           "(ccc_adapted_<method> for every method)",
            "per_speaker": "mean CCC over targets on each speaker's queries",
            "baselines": "the training-set mean intensities for every query",
        },
    }
    attach_uncertainty(result, outdir, table, adapted_pred)  # ci, provenance (stats)
    scores.write(outdir / "scores.json", result)
    return result


def extract(ctx: RunContext, shard: tuple[int, int]) -> int:
    cfg: FewShotConfig = ctx.config
    common.require_cache(cfg.data)
    check(cfg)
    table = _table(cfg)
    waveforms = WaveformDataset(table.paths, cfg.data.max_seconds, _standardizer(cfg, table),
                                False, table.source)
    return common.extract_shard(ctx, waveforms, _upstream(ctx), cfg.train.extract_batch_size,
                                shard, "bursts")


def evaluate(ctx: RunContext) -> dict[str, Any]:
    assert ctx.checkpoint is not None
    ctx.expdir.mkdir(parents=True, exist_ok=True)
    return evaluate_checkpoint(ctx, ctx.checkpoint, ctx.expdir)
