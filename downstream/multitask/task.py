"""The generic multitask task (``-d multitask``): any targets declared in the config
(docs/tasks.md) on a frozen upstream's layer-weighted pooled functionals.

train: the table (corpora/target_table.py) and every config error before anything runs ->
pooled statistics of every utterance (feature cache) -> targets fitted on the training rows ->
the one trainer (selection on the validation score, optional patience) -> the selected
checkpoint predicts every row -> scores.json (per-target metrics, the selection score, the
constant baselines), predictions and figures in the configured output format. The Test split is
read for nothing but prediction after selection; Test rows without labels are predicted, not
scored.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from emobench.core import scores
from emobench.core.config import ConfigError, to_dict
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, seed_everything
from emobench.corpora.target_table import TableLayout, TargetTable, read_table
from emobench.downstream import common, input_checks
from emobench.downstream.functionals import functionals
from emobench.downstream.multitask import (frames, inference, ranges, results, sampling,
                                          scoring, speaker, text_inputs)
from emobench.downstream.multitask.checks import (check_config, columns_of, kind_of, loss_of,
                                                  require_test_rows, selection_items)
from emobench.downstream.multitask.config import MultitaskConfig
from emobench.downstream.multitask.fusion import fusion_inputs
from emobench.downstream.multitask.inputs import Parts, dims
from emobench.downstream.multitask.kinds import LOSSES, Target
from emobench.downstream.multitask.model import MultitaskModel, combine
from emobench.downstream.multitask.upstreams import Upstreams
from emobench.downstream.pooling import pooled_statistics
from emobench.downstream.standardize_cache import training_standardizer
from emobench.downstream.trainer import Evaluation, Loop, Schedule, Selection, StepLoss, Trainer
from emobench.downstream.waveforms import Standardizer, WaveformDataset
from emobench.upstream import FrozenUpstream

CONFIG = MultitaskConfig
CHECKPOINT_FORMAT = "emobench-multitask-1"
EARLY_FUSION = True  # -u a,b: one input branch per upstream (downstream/multitask/inputs.py)


def selection_of(cfg: MultitaskConfig) -> tuple[str, str, bool]:
    """(split, metric, higher is better) that ``--seeds`` picks the best seed by."""
    return ("val", cfg.selection.name, cfg.selection.higher_is_better)


SELECTION = selection_of(MultitaskConfig())


def demo(root: Path, layers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the demo corpus that the config layer's ``data.corpus`` names (default
    ``demo_dimensional``) under ``root``; its data config layer."""
    from emobench.corpora.demo_multitask import DEMO_CORPORA

    data = (layers or {}).get("data") or {}
    name = data.get("corpus") or "demo_dimensional"
    built = DEMO_CORPORA.get(name)(root / name, seed=0)  # a table, or the data keys
    data = built if isinstance(built, dict) else {"data_info": str(built),
                                                   "audio_root": str(built.parent / "audio")}
    return {"data": {**data, "corpus": name}}


def check(cfg: MultitaskConfig) -> None:
    speaker.add_target(cfg)  # model.speaker.prediction: the speaker head is a target
    check_config(cfg)
    text_inputs.check(cfg)
    sampling.check(cfg)


def read(cfg: MultitaskConfig) -> TargetTable:
    d = cfg.data
    layout = TableLayout(d.id_column, d.split_column, d.speaker_column, d.id_format,
                         tuple(asdict(d.split_names).items()), d.audio_ext)
    specs = [kind_of(t).spec(t, columns_of(t)) for t in cfg.targets]
    table = read_table(d.data_info, d.audio_root, specs, layout, d.allow_speaker_overlap)
    require_test_rows(cfg, table)
    table = sampling.training_table(cfg, table)  # data_handling.train_ambiguous
    return text_inputs.checked(cfg, speaker.restrict(cfg, table))


def _waveforms(cfg: MultitaskConfig, table: TargetTable,
               standardizer: Standardizer | None = None) -> WaveformDataset:
    if standardizer is None:  # fitted on the training rows, cached in data.cache_dir
        standardizer = training_standardizer(cfg.data.standardize, table.subset("train").paths,
                                             cfg.data.max_seconds, table.source,
                                             cfg.data.cache_dir)
    return WaveformDataset(table.paths, cfg.data.max_seconds, standardizer, False, table.source)


def features_of(ctx: RunContext, waveforms: WaveformDataset,
              upstream: FrozenUpstream) -> torch.Tensor:
    """``(N, L, F)`` functionals of every utterance, from the cache (extracted where missing);
    with a fine-tuned upstream, their stand-in for the frames path (frames.py)."""
    cfg: MultitaskConfig = ctx.config
    if upstream.fine_tuning is not None:
        return frames.inputs(ctx, waveforms, upstream)
    names = ("mean",) if cfg.model.functionals == "mean" else ("mean", "square")
    stats = pooled_statistics(waveforms, upstream, ctx.upstream.normalize,
                              cfg.train.extract_batch_size, ctx.device, cfg.data.cache_dir,
                              cfg.data.cache_dtype, names, precision=cfg.data.extract_precision)
    return functionals(stats["mean"], stats.get("square"), cfg.model.functionals)


def model_of(ctx: RunContext, upstreams: Upstreams, feature_dim: int | list[int],
           targets: list[Target], features) -> MultitaskModel:
    """Speech input branches (+ text: fusion.py) -> trunk -> heads; behind the upstream on the
    frames path when it is fine-tuned (frames.py)."""
    m = ctx.config.model
    inputs = fusion_inputs(m, upstreams.inputs(feature_dim), features)
    model = MultitaskModel(inputs, targets, m.system, m.head_hidden,
                           ctx.config.train.loss_combination == "uncertainty")
    return frames.wrap(ctx, upstreams.models[0], model).to(ctx.device)


def _loss(ctx: RunContext, targets: list[Target], table: TargetTable,
          train_x: torch.Tensor | Parts):
    """The loss of a batch of training rows: every target's loss on its present rows."""
    cfg: MultitaskConfig = ctx.config
    train = table.splits == "train"
    truth = scoring.truths(targets, table)
    values = {t.name: t.kind.train_values(t, truth[t.name][train]).to(ctx.device)
              for t in targets}
    present = {t.name: torch.from_numpy(table.present[t.name][train]).to(ctx.device)
               for t in targets}
    losses = {t.name: LOSSES.get(loss_of(t.cfg)) for t in targets}
    weights = torch.tensor([t.cfg.weight for t in targets], device=ctx.device)

    def loss(model: MultitaskModel, rows: torch.Tensor) -> StepLoss:
        rows_dev = rows.to(ctx.device)
        out = model(train_x[rows].to(ctx.device))
        parts = {}
        for t in targets:
            keep = present[t.name][rows_dev]
            if bool(keep.all()):
                parts[t.name] = losses[t.name](out[t.name], values[t.name][rows_dev], t)
            elif bool(keep.any()):
                parts[t.name] = losses[t.name](out[t.name][keep],
                                               values[t.name][rows_dev][keep], t)
            else:  # no label of this target in the batch
                parts[t.name] = out[t.name].sum() * 0.0
        total = combine(torch.stack(list(parts.values())), weights, model.log_vars,
                        cfg.train.loss_combination)
        return StepLoss(total, len(rows), parts)

    return loss


def _check_selection_rows(cfg: MultitaskConfig, table: TargetTable) -> None:
    """Every target of the selection score has validation rows (before anything trains)."""
    val = table.splits == "val"
    empty = sorted({t.name for t, _ in selection_items(cfg)
                    if not (table.present[t.name] & val).any()})
    if empty:
        raise ConfigError(f"{table.source}: the selection score's target(s) {empty} have no "
                          f"value in any {cfg.data.split_names.val} row")


def train(ctx: RunContext) -> dict[str, Any]:
    cfg: MultitaskConfig = ctx.config
    check(cfg)
    table = read(cfg)
    input_checks.check_paths(ctx, table.paths, table.file_ids, table.source)
    targets = scoring.build_targets(cfg, table)
    _check_selection_rows(cfg, table)
    counts = table.counts()
    LOG.info("%s: %d train / %d val / %d test rows (%d test without labels); targets %s",
             table.source, counts["train"], counts["val"], counts["test"],
             counts["test_unlabelled"], {t.name: f"{t.kind.name} {list(t.labels)}"
                                         for t in targets})
    upstream = Upstreams.of(ctx, cfg.model.functionals)
    waveforms = _waveforms(cfg, table)
    # every split (extraction sees no labels), from each upstream's own cache entry
    features = text_inputs.attach(ctx, table, upstream.features(
        lambda view, one: features_of(view, waveforms, one)))
    val_rows = sampling.validation_rows(cfg, table, ctx.seed)  # data_handling.val_per_class
    train_x, val_x = features[table.splits == "train"], features[val_rows]
    val = table.take(val_rows)
    val_truth = scoring.truths(targets, val)
    every = np.ones(len(val), dtype=bool)

    seed_everything(ctx.seed)
    model = model_of(ctx, upstream, dims(features), targets, features)
    if cfg.model.standardize_features:
        model.fit_standardization(train_x.to(ctx.device))

    def evaluate(model: MultitaskModel) -> Evaluation:
        pred = ranges.map_split(cfg, targets, scoring.predict(model, val_x, targets, ctx.device),
                                lambda: scoring.predict(model, train_x, targets, ctx.device))
        metrics = scoring.split_metrics(cfg, targets, val_truth, pred, every, val.present)
        return Evaluation(metrics[cfg.selection.name], metrics,
                          "val " + " ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

    record = {"format": CHECKPOINT_FORMAT, "run": ctx.run_record(), "config": to_dict(cfg),
              "standardizer": asdict(waveforms.standardizer),
              "feature_dim": dims(features), "upstream_sha256": upstream.sha256(),
              **text_inputs.checkpoint_entry(features)}
    selection = Selection(f"val_{cfg.selection.name}", cfg.selection.higher_is_better)
    trainer = Trainer(Schedule.of(cfg.train), selection, ctx.expdir, ctx.device, record,
                      tag=ctx.task, resume=ctx.resume)
    batches, steps = sampling.epoch_batches(cfg, table, ctx.seed)  # data_handling.undersample
    trainer.fit(model, Loop(batches, _loss(ctx, targets, table, train_x), evaluate, steps))
    return evaluate_checkpoint(ctx, ctx.expdir / "dev-best.ckpt", ctx.expdir, upstream, table,
                               features)


def evaluate_checkpoint(ctx: RunContext, checkpoint: Path, outdir: Path,
                        upstream: Upstreams | None = None,
                        table: TargetTable | None = None,
                        features: torch.Tensor | Parts | None = None) -> dict[str, Any]:
    """Predict every row with a saved model; write scores.json and the configured outputs."""
    saved = common.load_checkpoint(checkpoint, CHECKPOINT_FORMAT, "multitask")
    cfg: MultitaskConfig = ctx.config
    table = table if table is not None else read(cfg)
    targets = scoring.build_targets(cfg, table)
    if upstream is None:
        upstream = Upstreams.of(ctx, cfg.model.functionals)
    upstream.check(saved, checkpoint)
    if features is None:
        waveforms = _waveforms(cfg, table, Standardizer(**saved["standardizer"]))
        features = text_inputs.attach(ctx, table, upstream.features(
            lambda view, one: features_of(view, waveforms, one)))
    text_inputs.check_checkpoint(saved, features, checkpoint)
    model = model_of(ctx, upstream, saved["feature_dim"], targets, features)
    model.load_state_dict(saved["model"])
    raw = scoring.predict(model, features, targets, ctx.device)
    pred = ranges.map_by_split(cfg, targets, raw, table.splits)
    inference.write_state(outdir, cfg, targets, raw, table.splits)  # for -m inference

    done = results.score(cfg, table, targets, pred)
    results.write_outputs(outdir, cfg, table, targets, pred, done, upstream.name)
    upstream.write_layer_weights(outdir, model.featurizers, ctx.task)
    text_inputs.write_text_layer_weights(outdir, model, cfg.model.text.upstream, ctx.task)
    result = results.scores_record(
        cfg, table, targets, done, task=ctx.task, upstream=upstream.record(), seed=ctx.seed,
        checkpoint=str(checkpoint), selection=saved["selection"],
        feature_path=frames.path_name(upstream.models[0], cfg.model.functionals),
        warnings=ctx.warnings, upstreams=upstream.records() if upstream.fused else None,
        extra={**text_inputs.scores_entry(features),
               "data_handling": sampling.record(cfg, table, ctx.seed)})
    scores.write(outdir / "scores.json", result)
    return result


def infer(ctx: RunContext, sources) -> Any:
    """``-m inference``: predictions for new audio (downstream/multitask/inference.py)."""
    return inference.infer(ctx, sources, CHECKPOINT_FORMAT, features_of, model_of)


def extract(ctx: RunContext, shard: tuple[int, int]) -> int:
    """Fill the feature cache with every utterance of every split, one shard of it."""
    cfg: MultitaskConfig = ctx.config
    check(cfg)
    common.require_cache(cfg.data)
    table = read(cfg)
    input_checks.check_paths(ctx, table.paths, table.file_ids, table.source)
    waveforms = _waveforms(cfg, table)
    upstreams = Upstreams.of(ctx, cfg.model.functionals)
    return sum(common.extract_shard(view, waveforms, one, cfg.train.extract_batch_size, shard)
               for view, one in zip(upstreams.contexts, upstreams.models))


def evaluate(ctx: RunContext) -> dict[str, Any]:
    assert ctx.checkpoint is not None
    return evaluate_checkpoint(ctx, ctx.checkpoint, ctx.expdir)
