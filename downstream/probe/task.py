"""The probe task (``-d probe``): SERAB's classical classifiers on pooled upstream features.

Any classification corpus in the emotion task's label format works (a soft label's argmax is
the class). Per family: grid search on the predefined train/dev split, refit, test; the family
with the best dev score is the run's result (SERAB's paper kept the best on test: we do not).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from emobench.core import io, scores
from emobench.core.config import ConfigError, to_dict
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, provenance, seed_everything
from emobench.downstream import common
from emobench.downstream.emotion.evaluation import names, read_table
from emobench.downstream.emotion.task import check_data, demo as emotion_demo
from emobench.downstream.emotion.task import folds as emotion_folds
from emobench.downstream.probe import classifiers, models
from emobench.downstream.probe.inference import infer
from emobench.downstream.probe.config import ProbeConfig, grid_of
from emobench.downstream.probe.features import (Features, extract as extract_features,
                                                speaker_standardize, waveform_standardizer)
from emobench.downstream.probe.metrics import all_metrics, majority_metrics
from emobench.downstream.emotion.data import EmotionDataset
from emobench.downstream.waveforms import Standardizer
from emobench.upstream import FrozenUpstream

__all__ = ["CONFIG", "NAME", "SELECTION", "check", "demo", "evaluate", "extract", "folds",
           "infer", "train"]

NAME = "probe"
CONFIG = ProbeConfig
SELECTION = ("dev", "accuracy", True)  # split, metric, higher is better (used by --seeds)


def demo(root: Path, layers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The emotion task's synthetic demo corpus (the same label format)."""
    return emotion_demo(root, layers)


def folds(cfg: ProbeConfig) -> list[int]:
    """The folds of the condition (every labels_consensus_<k>.csv); a label folder that does
    not exist yet (a sweep's dry run before the recipes ran) has the configured fold only, and
    the log says so."""
    check_data(cfg)
    if not Path(cfg.data.label_dir).exists():
        LOG.info("%s does not exist yet: fold %d (data.fold) assumed", cfg.data.label_dir,
                 cfg.data.fold)
        return [cfg.data.fold]
    return emotion_folds(cfg)


def check(cfg: ProbeConfig) -> None:
    check_data(cfg)
    classifiers.check_families(cfg.probe.families, cfg.probe.grids)
    if cfg.probe.max_iter < 1:
        raise ConfigError("probe.max_iter must be >= 1")


def features_of(ctx: RunContext, table, standardizer: Standardizer,
                upstream: FrozenUpstream) -> Features:
    """Every row's vector (per-speaker standardised when asked)."""
    feats = extract_features(ctx, table, upstream, standardizer)
    if ctx.config.features.speaker_standardize:
        feats.x = speaker_standardize(feats.x, feats.speakers, table.source)
    return feats


def train(ctx: RunContext) -> dict[str, Any]:
    cfg: ProbeConfig = ctx.config
    check(cfg)
    seed_everything(ctx.seed)
    table = read_table(cfg)
    LOG.info("%s fold %s: %d train / %d dev / %d test utterances, %d classes %s", table.source,
             cfg.data.fold, *(int((table.splits == s).sum()) for s in ("train", "dev", "test")),
             len(table.classes), table.classes)
    standardizer = waveform_standardizer(ctx, table)
    upstream = common.upstream_of(ctx)
    feats = features_of(ctx, table, standardizer, upstream)
    LOG.info("features: %d per utterance (%s, %s; speaker_standardize=%s)", feats.x.shape[1],
             cfg.features.functionals, "all hidden states concatenated"
             if ctx.upstream.layer is None else f"hidden state {ctx.upstream.layer}",
             cfg.features.speaker_standardize)
    splits = {s: (feats.x[table.splits == s], feats.y[table.splits == s])
              for s in ("train", "dev")}
    families = classifiers.check_families(cfg.probe.families, cfg.probe.grids)
    saved: dict[str, Any] = {}
    for family in families:
        found = classifiers.search(
            family, grid_of(cfg.probe, family), splits, seed=ctx.seed, max_iter=cfg.probe.max_iter,
            standardize=cfg.features.standardize, refit=cfg.probe.refit,
            metric=cfg.probe.select_metric, log=LOG.debug)
        dev = next(p["dev"] for p in found.grid if "dev" in p and p["params"] == found.params)
        saved[family] = {"params": found.params, "dev": dev, "grid": found.grid,
                         "warnings": found.warnings,
                         **models.save_model(ctx.expdir, family, found.model)}
        LOG.info("%s: chosen %s (dev %s %.4f; %d grid points)", family, found.params,
                 cfg.probe.select_metric, dev[cfg.probe.select_metric], len(found.grid))
    chosen = max(families, key=lambda f: (saved[f]["dev"][cfg.probe.select_metric],
                                          -families.index(f)))
    record = {"format": models.CHECKPOINT_FORMAT, "run": ctx.run_record(),
              "config": to_dict(cfg), "classes": list(table.classes),
              "standardizer": {"mean": standardizer.mean, "std": standardizer.std},
              "upstream_sha256": upstream.checkpoint_sha256,
              "families": saved, "selected": chosen,
              "selection": {"metric": f"dev_{cfg.probe.select_metric}", "classifier": chosen,
                            "value": saved[chosen]["dev"][cfg.probe.select_metric]}}
    checkpoint = io.torch_save(record, ctx.expdir / models.CHECKPOINT)
    return score(ctx, checkpoint, record, table, feats, upstream)


def evaluate(ctx: RunContext) -> dict[str, Any]:
    """``-m evaluate -e <probe experiment>``: the saved models on dev and test again."""
    assert ctx.checkpoint is not None
    record = common.load_checkpoint(ctx.checkpoint, models.CHECKPOINT_FORMAT, NAME)
    table = read_table(ctx.config)
    if list(table.classes) != record["classes"]:
        raise ConfigError(f"{ctx.checkpoint} was trained on classes {record['classes']}, the "
                          f"label file has {table.classes}")
    upstream = common.upstream_of(ctx)
    common.check_upstream(record, upstream, ctx.checkpoint)
    feats = features_of(ctx, table, Standardizer(**record["standardizer"]), upstream)
    return score(ctx, ctx.checkpoint, record, table, feats, upstream)


def extract(ctx: RunContext, shard: tuple[int, int]) -> int:
    """``-m extract``: fill the feature cache with every utterance of the fold (one shard)."""
    cfg: ProbeConfig = ctx.config
    check_data(cfg)
    table = read_table(cfg)
    dataset = EmotionDataset(table, cfg.data.max_seconds, waveform_standardizer(ctx, table),
                             preload=False)
    return common.extract_shard(ctx, dataset, common.upstream_of(ctx), cfg.batch_size, shard)


def score(ctx: RunContext, checkpoint: Path, record: dict[str, Any], table, feats: Features,
          upstream: FrozenUpstream) -> dict[str, Any]:
    """Every family on dev and test; scores.json, predictions.csv and the log."""
    cfg: ProbeConfig = ctx.config
    folder, out = checkpoint.parent, ctx.expdir  # the models' folder; where results go
    part = {s: table.splits == s for s in ("train", "dev", "test")}
    families, chosen = record["families"], record["selected"]
    results, predicted = {}, {}
    caught: Counter = Counter()
    for family, saved in families.items():
        model = models.load_model(folder, saved)
        with classifiers.recording(caught):
            predicted[family] = model.predict(feats.x)
        test = all_metrics(feats.y[part["test"]], predicted[family][part["test"]])
        results[family] = {**saved, "test": test}
        LOG.info("%-19s test accuracy %.4f uar %.4f macro_f1 %.4f  (dev %s %.4f) %s", family,
                 test["accuracy"], test["uar"], test["macro_f1"], cfg.probe.select_metric,
                 saved["dev"][cfg.probe.select_metric], saved["params"])
        for message, count in saved["warnings"].items():
            ctx.warnings.append(f"{family}: {count} fit(s) warned: {message}")
            LOG.warning(ctx.warnings[-1])
    for message, count in caught.items():
        ctx.warnings.append(f"predicting: {count} warning(s): {message}")
        LOG.warning(ctx.warnings[-1])
    train_y = feats.y[part["train"]]
    truth_test = feats.y[part["test"]]
    per_class = f1_score(truth_test, predicted[chosen][part["test"]], average=None,
                         labels=list(range(len(table.classes))), zero_division=0)
    corpus, condition = names(cfg)
    result = {
        "schema_version": 1, "task": NAME, "corpus": corpus, "condition": condition,
        "fold": cfg.data.fold, "upstream": common.upstream_record(ctx, upstream),
        "seed": ctx.seed, "toolkit": provenance(), "checkpoint": str(checkpoint),
        "main_metric": {"name": "accuracy", "split": "test",
                        "value": results[chosen]["test"]["accuracy"], "higher_is_better": True},
        "metrics": {"dev": families[chosen]["dev"], "test": results[chosen]["test"]},
        "baselines": {s: majority_metrics(train_y, feats.y[part[s]]) for s in ("dev", "test")},
        "per_class": {"f1": {"test": dict(zip(table.classes, per_class.tolist()))}},
        "selection": record["selection"], "classifiers": results,
        "features": {**to_dict(cfg.features), "layer": ctx.upstream.layer,
                     "dim": int(feats.x.shape[1])},
        "probe": {"refit": cfg.probe.refit, "select_metric": cfg.probe.select_metric},
        "counts": {s: int(m.sum()) for s, m in part.items()},
        "warnings": ctx.warnings,
        "notes": {
            "selection": "the family with the best dev score of its grid search (fitted on "
                         "train); SERAB's reference kept the best on test",
            "dev": "each family's dev metrics are those of its chosen grid point fitted on "
                   "train (also when probe.refit=train_dev)",
            "baselines": "always the training set's most frequent class",
            "models": "models/*.joblib are pickles written by this run: trusted artefacts, "
                      "loaded only after their sha256 matches the checkpoint's",
        },
    }
    predictions_csv(out / "predictions.csv", table, feats, predicted, chosen)
    scores.write(out / "scores.json", result)
    LOG.info("selected %s on dev: test accuracy %.4f -> %s", chosen,
             result["main_metric"]["value"], out / "scores.json")
    return result


def predictions_csv(path: Path, table, feats: Features, predicted: dict[str, np.ndarray],
                    chosen: str) -> None:
    """One row per dev and test utterance: truth, the selected family's and every family's
    predicted class."""
    classes = table.classes
    rows = [[feats.names[i], str(table.splits[i]), classes[feats.y[i]],
             classes[predicted[chosen][i]], *(classes[p[i]] for p in predicted.values())]
            for i in np.flatnonzero(table.splits != "train")]
    frame = pd.DataFrame(rows, columns=["FileName", "split", "truth", "predicted", *predicted])
    io.write_text(path, frame.to_csv(index=False))
