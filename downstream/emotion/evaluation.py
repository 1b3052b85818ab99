"""Evaluate a saved emotion model on dev and test and write every output: scores.json,
predictions.csv, the leaderboard files and the layer weights."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emobench.core import scores
from emobench.core.config import ConfigError
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, provenance
from emobench.corpora.emotion_labels import LabelTable, read_labels
from emobench.downstream import common, finetuning
from emobench.downstream.emotion.config import EmotionConfig
from emobench.downstream.emotion.data import EmotionDataset, Standardizer
from emobench.downstream.emotion.features import FeaturePath
from emobench.downstream.emotion.loss import soft_label_loss
from emobench.downstream.emotion.metrics import all_metrics, best_constant_probs, per_class_f1
from emobench.downstream.emotion.model import CNNSelfAttentionHead, EmotionHead, EmotionModel
from emobench.downstream.emotion.outputs import leaderboard_files, predictions_csv
from emobench.downstream.emotion.uncertainty import attach as attach_uncertainty
from emobench.upstream import FrozenUpstream

NAME = "emotion"
CHECKPOINT_FORMAT = "emobench-emotion-1"


def read_table(cfg: EmotionConfig) -> LabelTable:
    return read_labels(cfg.data.label_dir, cfg.data.fold, cfg.data.audio_root,
                       sum_tolerance=cfg.data.label_sum_tolerance,
                       allow_speaker_overlap=cfg.data.allow_speaker_overlap,
                       speakerless=cfg.data.speakerless)


def names(cfg: EmotionConfig) -> tuple[str, str]:
    """(corpus, condition) of the run: the config's, or the label folder's parent and name."""
    label_dir = Path(cfg.data.label_dir).resolve()
    return (cfg.data.corpus or label_dir.parent.name, cfg.data.condition or label_dir.name)


def build_model(upstream: FrozenUpstream, ctx: RunContext, num_classes: int) -> EmotionModel:
    cfg = ctx.config.model
    featurizer = common.featurizer_of(ctx, upstream)
    if cfg.head == "linear":
        head: torch.nn.Module = EmotionHead(upstream.dim, cfg.hidden_dim, num_classes)
    else:
        head = CNNSelfAttentionHead(upstream.dim, cfg.hidden_dim, num_classes, cfg.kernel_size,
                                    cfg.pooling, cfg.dropout)
    # a fine-tuned upstream becomes part of the model (optimised, stored in checkpoints)
    return finetuning.attach(EmotionModel(featurizer, head, upstream.dim), upstream).to(ctx.device)


def upstream_of(ctx: RunContext) -> FrozenUpstream:
    """The run's upstream; with -f trainable, unless train.feature_path=pooled asks for the
    cache's features (refused)."""
    refusal = None
    if ctx.config.train.feature_path == "pooled":
        refusal = ("train.feature_path=pooled trains on per-utterance features that the frozen "
                   "upstream computes once (the feature cache), and a fine-tuned upstream's "
                   "change at every step: use train.feature_path=frames (or auto)")
    return common.upstream_of(ctx, fine_tune=refusal)


def feature_path(ctx: RunContext, upstream: FrozenUpstream) -> FeaturePath:
    choice, head = ctx.config.train.feature_path, ctx.config.model.head
    pooled = head == "linear" and choice in ("auto", "pooled") and upstream.fine_tuning is None
    if upstream.fine_tuning is not None:
        why = "the upstream is fine-tuned (-f): it runs on every batch"
    elif pooled:
        why = ("the head is linear up to the mean pooling, so per-layer time-means computed "
               "once per utterance give the same model")
    elif head != "linear":
        why = f"the {head} head is nonlinear before the pooling: the upstream runs on every batch"
    else:
        why = "train.feature_path=frames: the upstream runs on every batch"
    LOG.info("feature path: %s (%s)", "pooled" if pooled else "frames", why)
    data = ctx.config.data
    if not pooled and data.extract_precision != "float32":
        LOG.info("data.extract_precision=%s applies to the pooled path only: the frames path "
                 "runs the upstream in float32", data.extract_precision)
    return FeaturePath(pooled, upstream, ctx.upstream.normalize, ctx.config.train.batch_size,
                       ctx.device, data.cache_dir, data.cache_dtype, data.extract_precision)


def exact_head(model: EmotionModel, path: FeaturePath) -> EmotionModel:
    """The model in float64 on the pooled path (a copy), so that an utterance's probabilities
    do not depend on which utterances share its batch (float32 matrix products can differ in
    the last bits with the batch's size): evaluation and inference then write the same digits."""
    return copy.deepcopy(model).double() if path.pooled else model


@torch.no_grad()
def predict(model: EmotionModel, path: FeaturePath, dataset, weights: torch.Tensor):
    """Probabilities of every utterance and the mean class-weighted loss over the split."""
    model.eval()
    dtype = next(model.parameters()).dtype
    probs, total = [], 0.0
    for inputs, labels, _ in path.loader(dataset):
        logits = path.logits(model, inputs.to(dtype) if path.pooled else inputs)
        total += float(soft_label_loss(logits, labels.to(path.device), weights)) * len(labels)
        probs.append(torch.softmax(logits, dim=-1).cpu())
    return torch.cat(probs).double().numpy(), total / len(dataset)


def evaluate_checkpoint(ctx: RunContext, checkpoint: Path, outdir: Path,
                        upstream: FrozenUpstream | None = None,
                        table: LabelTable | None = None,
                        path: FeaturePath | None = None,
                        audit: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate a saved model on dev and test and write scores, predictions, files, plots.

    ``audit``: the training fold's leakage audit, written under "audit" in scores.json."""
    saved = common.load_checkpoint(checkpoint, CHECKPOINT_FORMAT, NAME)
    cfg: EmotionConfig = ctx.config  # the checkpoint's config, with any -o given to evaluate
    table = table if table is not None else read_table(cfg)
    if list(table.classes) != saved["classes"]:
        raise ConfigError(f"{checkpoint} was trained on classes {saved['classes']}, "
                          f"the label file has {table.classes}")
    upstream = upstream if upstream is not None else upstream_of(ctx)
    common.check_upstream(saved, upstream, checkpoint)
    model = build_model(upstream, ctx, len(table.classes))
    model.load_state_dict(saved["model"])
    path = path if path is not None else feature_path(ctx, upstream)
    standardizer = Standardizer(**saved["standardizer"])
    weights = torch.tensor(saved["class_weights"], dtype=torch.float32, device=ctx.device)

    metrics, baselines, per_class, outputs = {}, {}, {}, {}
    for split in ("dev", "test"):
        part = table.subset(split)
        dataset = EmotionDataset(part, cfg.data.max_seconds, standardizer, preload=False)
        probs, loss = predict(exact_head(model, path), path, path.dataset(dataset), weights)
        metrics[split] = {**all_metrics(part.labels, probs), "loss": loss}
        constant = np.tile(best_constant_probs(part.labels), (len(part), 1))
        baselines[split] = all_metrics(part.labels, constant)
        per_class[split] = dict(zip(table.classes, per_class_f1(part.labels, probs).tolist()))
        outputs[split] = (part.file_names, part.labels, probs)
        leaderboard_files(outdir, split, cfg.data.fold, part.file_names, table.classes,
                          part.labels, probs)
        LOG.info("%s: macro_f1 %.4f accuracy %.4f (best constant: macro_f1 %.4f accuracy %.4f)",
                 split, metrics[split]["macro_f1"], metrics[split]["accuracy"],
                 baselines[split]["macro_f1"], baselines[split]["accuracy"])
    predictions_csv(outdir / "predictions.csv", table.classes, outputs)
    common.write_layer_weights(outdir, model.featurizer, upstream, ctx,
                               f"{NAME}, fold {cfg.data.fold}")

    corpus, condition = names(cfg)
    result = {
        "schema_version": 1, "task": NAME, "corpus": corpus, "condition": condition,
        "fold": cfg.data.fold, "upstream": common.upstream_record(ctx, upstream),
        "seed": ctx.seed, "toolkit": provenance(), "checkpoint": str(checkpoint),
        "main_metric": {"name": "macro_f1", "split": "test",
                        "value": metrics["test"]["macro_f1"], "higher_is_better": True},
        "metrics": metrics, "baselines": baselines, "per_class": {"f1": per_class},
        "selection": saved["selection"], "feature_path": path.name,
        "counts": {s: int((table.splits == s).sum()) for s in ("train", "dev", "test")},
        "warnings": ctx.warnings,
        "notes": {
            "macro_f1": "threshold 1/C macro-F1 over the whole split (main metric)",
            "paper_batch_macro_f1": "the EMO-SUPERB reference's macro-F1 averaged over batches "
                                    "of 32, for comparison with published numbers only",
            "baselines": "the best constant predictor on the same split (an upper bound on "
                         "what any constant achieves)",
        },
    }
    if audit is not None:
        result["audit"] = audit
    attach_uncertainty(result, outdir, table, outputs)  # ci, ceiling, provenance (stats)
    scores.write(outdir / "scores.json", result)
    return result
