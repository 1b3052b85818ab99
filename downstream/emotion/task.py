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

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from emobench.core import io, plots, scores
from emobench.core.config import ConfigError, to_dict
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, provenance, seed_everything
from emobench.downstream.emotion.audit import LEAK_KINDS, audit_fold, partition_spec
from emobench.downstream.emotion.config import EmotionConfig
from emobench.downstream.emotion.data import EmotionDataset, Standardizer, fit_standardizer
from emobench.downstream.emotion.features import FeaturePath, feature_cache, fill_cache
from emobench.corpora.emotion_labels import LabelTable, read_labels
from emobench.downstream.emotion.loss import class_balanced_weights, soft_label_loss
from emobench.downstream.emotion.metrics import all_metrics, best_constant_probs, per_class_f1
from emobench.downstream.emotion.model import CNNSelfAttentionHead, EmotionHead, EmotionModel
from emobench.downstream.emotion.outputs import leaderboard_files, predictions_csv
from emobench.upstream import Featurizer, FrozenUpstream, build_upstream
from emobench.upstream.cache import statistics

CONFIG = EmotionConfig
NAME = "emotion"
SELECTION = ("dev", "macro_f1", True)  # split, metric, higher is better (used by --seeds)
CHECKPOINT_FORMAT = "emobench-emotion-1"
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
    if cfg.train.epochs is None or cfg.train.epochs < 1:
        raise ConfigError("train.epochs is not set: corpus configs under configs/emotion/ set it "
                          "(EMO-SUPERB: CREMA-D 110, IEMOCAP 40, ...), or -o train.epochs=N")


def check_data(cfg: EmotionConfig) -> None:
    for key in ("label_dir", "audio_root"):
        if getattr(cfg.data, key) is None:
            raise ConfigError(f"data.{key} is not set: give it in a config file (-c) or with "
                              f"-o data.{key}=PATH (or run the demo with --demo)")
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


def _names(cfg: EmotionConfig) -> tuple[str, str]:
    label_dir = Path(cfg.data.label_dir).resolve()
    return (cfg.data.corpus or label_dir.parent.name, cfg.data.condition or label_dir.name)


def _table(cfg: EmotionConfig) -> LabelTable:
    return read_labels(cfg.data.label_dir, cfg.data.fold, cfg.data.audio_root,
                       sum_tolerance=cfg.data.label_sum_tolerance,
                       allow_speaker_overlap=cfg.data.allow_speaker_overlap)


def _audit(ctx: RunContext, table: LabelTable) -> dict[str, Any]:
    """Audit the fold being trained; refuse leakage unless data.allow_leakage (then warn)."""
    data = ctx.config.data
    spec = partition_spec(data.partition) if data.partition else None
    report = audit_fold(table, data.fold, spec, hash_audio=True)
    leaks = [p["message"] for p in report["problems"] if p["kind"] in LEAK_KINDS]
    if leaks and not data.allow_leakage:
        raise ConfigError(f"{table.source}: fold {data.fold} leaks between splits:\n  "
                          + "\n  ".join(leaks) + "\nfix the partition (python run_downstream.py"
                          " -m audit audits every fold) or set data.allow_leakage=true to train "
                          "anyway (the results are then not speaker/session-independent)")
    for problem in report["problems"]:  # no_train_positive is warned with the class weights
        if problem["kind"] != "no_train_positive":
            ctx.warnings.append(problem["message"])
            LOG.warning(ctx.warnings[-1])
    return report


def _upstream(ctx: RunContext) -> FrozenUpstream:
    spec = ctx.upstream
    return build_upstream(spec.name, spec.checkpoint, spec.padded_batch).to(ctx.device)


def _standardizer(cfg: EmotionConfig, train_set: EmotionDataset) -> Standardizer:
    """EMO-SUPERB's waveform standardisation: mean and std of the training samples."""
    return fit_standardizer(train_set) if cfg.data.standardize else Standardizer()


def _model(upstream: FrozenUpstream, ctx: RunContext, num_classes: int) -> EmotionModel:
    featurizer = Featurizer(upstream.num_layers, ctx.upstream.layer, ctx.upstream.normalize)
    cfg = ctx.config.model
    if cfg.head == "linear":
        head: torch.nn.Module = EmotionHead(upstream.dim, cfg.hidden_dim, num_classes)
    else:
        head = CNNSelfAttentionHead(upstream.dim, cfg.hidden_dim, num_classes, cfg.kernel_size,
                                    cfg.pooling, cfg.dropout)
    return EmotionModel(featurizer, head, upstream.dim).to(ctx.device)


@torch.no_grad()
def predict(model: EmotionModel, path: FeaturePath, dataset, weights: torch.Tensor):
    """Probabilities of every utterance and the mean class-weighted loss over the split."""
    model.eval()
    probs, total = [], 0.0
    for inputs, labels, _ in path.loader(dataset):
        logits = path.logits(model, inputs)
        total += float(soft_label_loss(logits, labels.to(path.device), weights)) * len(labels)
        probs.append(torch.softmax(logits, dim=-1).cpu())
    return torch.cat(probs).double().numpy(), total / len(dataset)


def _path(ctx: RunContext, upstream: FrozenUpstream) -> FeaturePath:
    choice, head = ctx.config.train.feature_path, ctx.config.model.head
    pooled = head == "linear" and choice in ("auto", "pooled")
    if pooled:
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


@torch.no_grad()
def pooled_variance_ratio(upstream: FrozenUpstream, dataset: EmotionDataset, device: torch.device,
                          limit: int = 64) -> float:
    """Between-utterance std of time-mean features relative to their within-utterance std.

    Near zero means the pooled features are the same for every utterance (e.g. per-utterance
    CMVN), so a mean-pooled linear head can only learn a constant.
    """
    means, squares = [], []
    wavs = [dataset[i][0].to(device) for i in range(min(limit, len(dataset)))]
    for start in range(0, len(wavs), 16):
        hidden, lengths = upstream(wavs[start:start + 16])
        stats = statistics(hidden, lengths.to(device))
        means.append(stats["mean"])
        squares.append(stats["square"])
    return variance_ratio(torch.cat(means), torch.cat(squares))


def variance_ratio(mean: torch.Tensor, square: torch.Tensor) -> float:
    """:func:`pooled_variance_ratio` from per-utterance time-means of the frames and of their
    squares, ``(N, L, D)`` each (the pooled path has them cached: no upstream run)."""
    spread = (square - mean * mean).clamp_min(0).sqrt().mean(dim=0)  # within utterances
    ratio = mean.std(dim=0).mean(dim=-1) / spread.mean(dim=-1).clamp_min(1e-12)
    return float(ratio.max())


def _scheduler(optimizer: torch.optim.Optimizer, cfg: EmotionConfig, total_steps: int):
    if cfg.train.scheduler == "none":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    warmup = cfg.train.warmup_steps

    def cosine(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)


def _better(value: float, best: float | None, metric: str) -> bool:
    if best is None:
        return True
    return value < best if metric == "dev_loss" else value > best


def train(ctx: RunContext) -> dict[str, Any]:
    cfg: EmotionConfig = ctx.config
    check(cfg)
    table = _table(cfg)
    audit = _audit(ctx, table)
    train_table, dev_table = table.subset("train"), table.subset("dev")
    LOG.info("%s fold %s: %d train / %d dev / %d test utterances, %d classes %s", table.source,
             cfg.data.fold, len(train_table), len(dev_table), int((table.splits == "test").sum()),
             len(table.classes), table.classes)

    train_set = EmotionDataset(train_table, cfg.data.max_seconds, Standardizer(),
                               cfg.data.preload_audio)
    standardizer = _standardizer(cfg, train_set)
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

    upstream = _upstream(ctx)
    path = _path(ctx, upstream)
    train_inputs, dev_inputs = path.dataset(train_set), path.dataset(dev_set)
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

    seed_everything(ctx.seed)
    model = _model(upstream, ctx, len(table.classes))
    if cfg.model.standardize_features:
        pooled = train_inputs if path.pooled else FeaturePath(
            True, upstream, ctx.upstream.normalize, cfg.train.batch_size, ctx.device,
            cfg.data.cache_dir, cfg.data.cache_dtype, cfg.data.extract_precision
        ).dataset(train_set)
        model.fit_standardization(pooled.features.to(ctx.device))
        LOG.info("features standardised by training-set statistics of %d utterances",
                 len(pooled))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr,
                                  weight_decay=cfg.train.weight_decay)
    steps_per_epoch = math.ceil(len(train_set) / cfg.train.batch_size)
    scheduler = _scheduler(optimizer, cfg, steps_per_epoch * cfg.train.epochs)
    state: dict[str, Any] = {"epoch": 0, "step": 0, "best": None, "best_epoch": None,
                             "best_step": None}
    if ctx.resume is not None:
        saved = torch.load(ctx.resume, map_location=ctx.device, weights_only=True)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
        LOG.info("resumed from %s at epoch %d, step %d", ctx.resume, state["epoch"], state["step"])

    tag = f"{NAME}-fold{cfg.data.fold}"
    record = _record(ctx, table, standardizer, class_weights, upstream)
    with SummaryWriter(str(ctx.expdir)) as writer:
        for epoch in range(state["epoch"], cfg.train.epochs):
            model.train()
            running, seen = 0.0, 0
            loader = path.loader(train_inputs, seed=ctx.seed * 100_003 + epoch)
            for inputs, labels, _ in tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.train.epochs}",
                                          leave=False, disable=None):
                logits = path.logits(model, inputs)
                loss = soft_label_loss(logits, labels.to(ctx.device), weights)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
                optimizer.step()
                scheduler.step()
                state["step"] += 1
                running += float(loss.detach()) * len(labels)
                seen += len(labels)
                writer.add_scalar(f"{tag}/train-loss", float(loss.detach()), state["step"])
            state["epoch"] = epoch + 1
            message = f"epoch {epoch + 1}/{cfg.train.epochs} train-loss {running / seen:.4f}"
            last = epoch + 1 == cfg.train.epochs
            if (epoch + 1) % cfg.train.eval_every_epochs == 0 or last:
                probs, dev_loss = predict(model, path, dev_inputs, weights)
                dev = {"loss": dev_loss, **all_metrics(dev_table.labels, probs)}
                for name, value in dev.items():
                    writer.add_scalar(f"{tag}/dev-{name}", value, state["step"])
                value = dev_loss if cfg.train.select_metric == "dev_loss" else dev["macro_f1"]
                message += f" dev-loss {dev_loss:.4f} dev-macro_f1 {dev['macro_f1']:.4f}"
                if _better(value, state["best"], cfg.train.select_metric):
                    state.update(best=value, best_epoch=epoch + 1, best_step=state["step"])
                    io.torch_save({**record, "model": model.state_dict(),
                                   "selection": _selection(cfg, state)},
                                  ctx.expdir / "dev-best.ckpt")
                    message += " (best)"
            LOG.info(message)
            if (epoch + 1) % cfg.train.save_every_epochs == 0 or last:
                io.torch_save({**record, "model": model.state_dict(), "state": state,
                               "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict()}, ctx.expdir / "last.ckpt")
    LOG.info("selected epoch %s by %s = %.4f", state["best_epoch"], cfg.train.select_metric,
             state["best"])
    return evaluate_checkpoint(ctx, ctx.expdir / "dev-best.ckpt", ctx.expdir, upstream=upstream,
                               table=table, path=path, audit=audit)


def _record(ctx: RunContext, table: LabelTable, standardizer: Standardizer,
            class_weights: np.ndarray, upstream: FrozenUpstream) -> dict[str, Any]:
    """Plain data (loadable with weights_only=True) that makes a checkpoint self-contained."""
    return {"format": CHECKPOINT_FORMAT, "run": ctx.run_record(), "config": to_dict(ctx.config),
            "classes": list(table.classes), "standardizer": asdict(standardizer),
            "class_weights": [float(w) for w in class_weights],
            "upstream_sha256": upstream.checkpoint_sha256}


def _selection(cfg: EmotionConfig, state: dict[str, Any]) -> dict[str, Any]:
    return {"metric": cfg.train.select_metric, "epoch": int(state["best_epoch"]),
            "step": int(state["best_step"]), "value": float(state["best"]),
            "higher_is_better": cfg.train.select_metric != "dev_loss"}


def load_checkpoint(path: Path) -> dict[str, Any]:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not an emobench emotion checkpoint")
    return saved


def evaluate_checkpoint(ctx: RunContext, checkpoint: Path, outdir: Path,
                        upstream: FrozenUpstream | None = None,
                        table: LabelTable | None = None,
                        path: FeaturePath | None = None,
                        audit: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate a saved model on dev and test and write scores, predictions, files, plots.

    ``audit``: the training fold's leakage audit, written under "audit" in scores.json."""
    saved = load_checkpoint(checkpoint)
    cfg: EmotionConfig = ctx.config  # the checkpoint's config, with any -o given to evaluate
    table = table if table is not None else _table(cfg)
    if list(table.classes) != saved["classes"]:
        raise ConfigError(f"{checkpoint} was trained on classes {saved['classes']}, "
                          f"the label file has {table.classes}")
    if upstream is None:
        upstream = _upstream(ctx)
    if upstream.checkpoint_sha256 != saved["upstream_sha256"]:
        raise ConfigError(f"{checkpoint} was trained on upstream weights with sha256 "
                          f"{saved['upstream_sha256']}, not {upstream.checkpoint_sha256}")
    model = _model(upstream, ctx, len(table.classes))
    model.load_state_dict(saved["model"])
    path = path if path is not None else _path(ctx, upstream)
    standardizer = Standardizer(**saved["standardizer"])
    weights = torch.tensor(saved["class_weights"], dtype=torch.float32, device=ctx.device)

    metrics, baselines, per_class, outputs = {}, {}, {}, {}
    for split in ("dev", "test"):
        part = table.subset(split)
        dataset = EmotionDataset(part, cfg.data.max_seconds, standardizer, preload=False)
        probs, loss = predict(model, path, path.dataset(dataset), weights)
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

    weights_list = model.featurizer.layer_weights()
    io.write_json(outdir / "layer_weights.json",
                  {"upstream": upstream.info.name, "layer": ctx.upstream.layer,
                   "normalize": ctx.upstream.normalize, "weights": weights_list})
    plots.layer_weights(weights_list, f"{upstream.info.name} layer weights ({NAME}, fold "
                        f"{cfg.data.fold})", outdir / "layer_weights.png")

    corpus, condition = _names(cfg)
    result = {
        "schema_version": 1, "task": NAME, "corpus": corpus, "condition": condition,
        "fold": cfg.data.fold,
        "upstream": {**asdict(ctx.upstream), "name": upstream.info.name,
                     "checkpoint_sha256": upstream.checkpoint_sha256, "source": upstream.source},
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
    scores.write(outdir / "scores.json", result)
    return result


def extract(ctx: RunContext, shard: tuple[int, int]) -> int:
    """Fill the feature cache with every utterance of the fold (all splits), one shard of it."""
    cfg: EmotionConfig = ctx.config
    check_data(cfg)
    if cfg.data.cache_dir is None:
        raise ConfigError("-m extract needs data.cache_dir (it is null)")
    table = _table(cfg)
    train_set = EmotionDataset(table.subset("train"), cfg.data.max_seconds, Standardizer(),
                               preload=False)
    everything = EmotionDataset(table, cfg.data.max_seconds, _standardizer(cfg, train_set),
                                preload=False)
    upstream = _upstream(ctx)
    cache = feature_cache(cfg.data.cache_dir, everything, upstream, ctx.upstream.normalize,
                          cfg.data.cache_dtype, cfg.data.extract_precision)
    keys, written = fill_cache(cache, everything, upstream, ctx.upstream.normalize,
                               cfg.train.batch_size, ctx.device, shard)
    LOG.info("shard %d/%d: %d new entries; %d of %d utterances cached in %s", *shard, written,
             len(keys) - len(cache.missing(keys)), len(set(keys)), cache.folder)
    return written


def evaluate(ctx: RunContext) -> dict[str, Any]:
    assert ctx.checkpoint is not None
    return evaluate_checkpoint(ctx, ctx.checkpoint, ctx.expdir)
