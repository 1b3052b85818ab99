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
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter

from emobench.core import io, plots, scores
from emobench.core.config import ConfigError, to_dict
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, provenance, seed_everything
from emobench.corpora import exvo_support as support_sets
from emobench.downstream.exvo.adapt import METHODS, PARAMETER_GROUPS, FewShotModel
from emobench.downstream.exvo.fewshot_config import FewShotConfig
from emobench.corpora.exvo_labels import EMOTIONS, ExVoTable, read_data_info
from emobench.downstream.exvo.metrics import ccc, per_emotion_ccc
from emobench.downstream.exvo.model import functionals
from emobench.downstream.exvo.outputs import ccc_bars
from emobench.downstream.pooling import feature_cache, fill_cache, pooled_statistics
from emobench.downstream.waveforms import Standardizer, WaveformDataset, fit_standardizer
from emobench.upstream import Featurizer, FrozenUpstream, build_upstream

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
    for key in ("data_info", "audio_root"):
        if getattr(cfg.data, key) is None:
            raise ConfigError(f"data.{key} is not set: give it in a config file (-c) or with "
                              f"-o data.{key}=PATH (or run the demo with --demo)")
    if cfg.data.k < 1 or cfg.train.epochs < 1 or cfg.train.patience < 1:
        raise ConfigError("data.k, train.epochs and train.patience must be >= 1")
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
    spec = ctx.upstream
    upstream = build_upstream(spec.name, spec.checkpoint, spec.padded_batch).to(ctx.device)
    if ctx.config.model.functionals == "mean_std" and not upstream.info.frame_rate:
        raise ConfigError(f"{upstream.info.name} gives one vector per utterance: use "
                          "model.functionals=mean")
    return upstream


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
    if not cfg.data.standardize:
        return Standardizer()
    train = table.subset("train")
    return fit_standardizer(WaveformDataset(train.paths, cfg.data.max_seconds, Standardizer(),
                                            False, table.source))


def _model(ctx: RunContext, upstream: FrozenUpstream, feature_dim: int,
           num_targets: int) -> FewShotModel:
    featurizer = Featurizer(upstream.num_layers, ctx.upstream.layer, ctx.upstream.normalize)
    return FewShotModel(featurizer, feature_dim, ctx.config.model.hidden_dim,
                        num_targets).to(ctx.device)


def fewshot_predict(model: FewShotModel, features: torch.Tensor, table: ExVoTable,
                    sets: support_sets.SupportSets, speakers: list[str], method: str, cfg,
                    device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(query row indices, predictions) of every speaker, each adapted from ``model`` alone."""
    index = {fid: i for i, fid in enumerate(table.file_ids)}
    targets = torch.from_numpy(table.emotions).float()
    run = METHODS.get(method)
    rows, preds = [], []
    for speaker in speakers:
        support = [index[f] for f in sets.support[speaker]]
        query = support_sets.queries(table, sets, speaker)
        out = run(model, features[support].to(device), targets[support].to(device),
                  features[query].to(device), cfg)
        rows.append(query)
        preds.append(out.double().cpu().numpy())
    return np.concatenate(rows), np.concatenate(preds)


def _speakers(table: ExVoTable, sets: support_sets.SupportSets, split: str) -> list[str]:
    in_split = {s for s, sp in zip(table.speakers, table.splits) if sp == split}
    return sorted(s for s in sets.support if s in in_split)


def _score(table: ExVoTable, rows: np.ndarray, pred: np.ndarray) -> float:
    return float(per_emotion_ccc(table.emotions[rows], pred).mean())


def train(ctx: RunContext) -> dict[str, Any]:
    cfg: FewShotConfig = ctx.config
    check(cfg)
    table = _table(cfg)
    sets = _support(ctx, table)
    val_speakers = _speakers(table, sets, "val")
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
    record = {"format": CHECKPOINT_FORMAT, "run": ctx.run_record(), "config": to_dict(cfg),
              "standardizer": asdict(standardizer), "feature_dim": int(features.shape[2]),
              "targets": list(_targets(cfg)), "upstream_sha256": upstream.checkpoint_sha256}
    method = cfg.adapt.method if cfg.train.select == "adapted" else "none"
    with SummaryWriter(str(ctx.expdir)) as writer:
        for epoch in range(state["epoch"], cfg.train.epochs):
            if state["stopped"]:
                break
            model.train()
            order = torch.randperm(len(train_rows), generator=torch.Generator().manual_seed(
                ctx.seed * 100_003 + epoch))
            running = 0.0
            for first in range(0, len(order), cfg.train.batch_size):
                rows = order[first:first + cfg.train.batch_size]
                loss = F.mse_loss(model(train_x[rows].to(ctx.device)),
                                  train_y[rows.to(ctx.device)])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                state["step"] += 1
                running += float(loss.detach()) * len(rows)
            rows, pred = fewshot_predict(model, features, table, sets, val_speakers, method,
                                         cfg.adapt, ctx.device)
            value = _score(table, rows, pred)
            writer.add_scalar(f"{NAME}/train-loss", running / len(order), state["step"])
            writer.add_scalar(f"{NAME}/val-ccc_{cfg.train.select}", value, state["step"])
            state["epoch"] = epoch + 1
            message = (f"epoch {epoch + 1}/{cfg.train.epochs} train-mse "
                       f"{running / len(order):.4f} val ccc ({method}) {value:.4f}")
            if state["best"] is None or value > state["best"]:
                state.update(best=value, best_epoch=epoch + 1, bad_epochs=0)
                io.torch_save({**record, "model": model.state_dict(), "selection": {
                    "metric": f"val_ccc_{cfg.train.select}", "epoch": epoch + 1,
                    "value": value, "higher_is_better": True}}, ctx.expdir / "dev-best.ckpt")
                message += " (best)"
            else:
                state["bad_epochs"] += 1
                if state["bad_epochs"] >= cfg.train.patience:
                    state["stopped"] = True
                    message += " (stop)"
            LOG.info(message)
            io.torch_save({**record, "model": model.state_dict(), "state": state,
                           "optimizer": optimizer.state_dict()}, ctx.expdir / "last.ckpt")
    return evaluate_checkpoint(ctx, ctx.expdir / "dev-best.ckpt", ctx.expdir, upstream, table,
                               features, sets)


def load_checkpoint(path: Path) -> dict[str, Any]:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not an emobench exvo_fewshot checkpoint")
    return saved


def evaluate_checkpoint(ctx: RunContext, checkpoint: Path, outdir: Path,
                        upstream: FrozenUpstream | None = None, table: ExVoTable | None = None,
                        features: torch.Tensor | None = None,
                        sets: support_sets.SupportSets | None = None) -> dict[str, Any]:
    """Every method on the same queries of every validation and test speaker; all outputs."""
    saved = load_checkpoint(checkpoint)
    cfg: FewShotConfig = ctx.config
    table = table if table is not None else _table(cfg)
    if sets is None:
        sets = _support(ctx, table)
    upstream = upstream if upstream is not None else _upstream(ctx)
    if upstream.checkpoint_sha256 != saved["upstream_sha256"]:
        raise ConfigError(f"{checkpoint} was trained on other upstream weights")
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
        speakers = _speakers(table, sets, split)
        if not speakers:
            continue
        metrics[split], per_speaker[split] = {}, {}
        unadapted = None
        for method in methods:
            rows, pred = fewshot_predict(model, features, table, sets, speakers, method,
                                         cfg.adapt, ctx.device)
            key = "ccc_unadapted" if method == "none" else f"ccc_adapted_{method}"
            metrics[split][key] = _score(table, rows, pred)
            per_class.setdefault(key, {})[split] = dict(zip(
                targets, per_emotion_ccc(table.emotions[rows], pred).tolist()))
            per_speaker[split][key] = _per_speaker(table, rows, pred)
            if method == "none":
                unadapted = pred
            if method == cfg.adapt.method:
                adapted_pred[split] = (rows, unadapted, pred)
        metrics[split]["ccc_adapted"] = metrics[split][
            "ccc_unadapted" if cfg.adapt.method == "none" else f"ccc_adapted_{cfg.adapt.method}"]
        rows = adapted_pred[split][0]
        train = table.emotions[(table.splits == "train") & table.labelled]
        constant = np.tile(train.mean(axis=0), (len(rows), 1))
        baselines[split] = {"ccc": _score(table, rows, constant)}
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

    _outputs(outdir, cfg, table, targets, adapted_pred, per_class)
    main_split = "test" if "test" in metrics else "val"
    result = {
        "schema_version": 1, "task": NAME, "corpus": cfg.data.corpus,
        "condition": f"{cfg.data.k}-shot", "fold": None,
        "upstream": {**asdict(ctx.upstream), "name": upstream.info.name,
                     "checkpoint_sha256": upstream.checkpoint_sha256, "source": upstream.source},
        "seed": ctx.seed, "toolkit": provenance(), "checkpoint": str(checkpoint),
        "main_metric": {"name": "ccc_adapted", "split": main_split,
                        "value": metrics[main_split]["ccc_adapted"], "higher_is_better": True},
        "metrics": metrics, "baselines": baselines, "per_class": per_class,
        "per_speaker": per_speaker, "per_speaker_summary": {
            split: {key: _quantiles(values) for key, values in methods.items()}
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
    scores.write(outdir / "scores.json", result)
    return result


def _quantiles(per_speaker: dict[str, float]) -> dict[str, float]:
    """min, quartiles and max of the per-speaker scores.

    >>> _quantiles({"a": 0.1, "b": 0.3, "c": 0.2})["median"]
    0.2
    """
    values = np.array(list(per_speaker.values()))
    q = np.percentile(values, [0, 25, 50, 75, 100])
    return dict(zip(("min", "q25", "median", "q75", "max"), (float(round(v, 12)) for v in q)))


def _per_speaker(table: ExVoTable, rows: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    speakers = np.asarray(table.speakers, dtype=object)[rows]
    out = {}
    for speaker in sorted(set(speakers)):
        mine = speakers == speaker
        truth = table.emotions[rows[mine]]
        out[speaker] = float(np.mean([ccc(truth[:, e], pred[mine, e])
                                      for e in range(truth.shape[1])]))
    return out


def _outputs(outdir: Path, cfg: FewShotConfig, table: ExVoTable, targets: list[str],
             adapted_pred: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
             per_class: dict[str, dict[str, dict[str, float]]]) -> None:
    ids = np.asarray(table.file_ids, dtype=object)
    frames = []
    for split, (rows, unadapted, adapted) in adapted_pred.items():
        frame = pd.DataFrame({"split": split, "File_ID": ids[rows],
                              "Subject_ID": np.asarray(table.speakers, dtype=object)[rows]})
        for t, name in enumerate(targets):
            frame[f"{name}_unadapted"] = unadapted[:, t]
            frame[f"{name}_adapted"] = adapted[:, t]
            frame[name] = table.emotions[rows, t]
        frames.append(frame)
        if split == "test":
            submission = pd.DataFrame({"File_ID": ids[rows]})
            for t, name in enumerate(targets):
                submission[name] = adapted[:, t]
            io.write_text(outdir / f"ExVo-Few_{cfg.output.team}_{cfg.output.submission}.csv",
                          submission.to_csv(index=False, float_format="%.6f",
                                            lineterminator="\n"))
    io.write_text(outdir / "predictions.csv", pd.concat(frames).to_csv(
        index=False, float_format="%.6f", lineterminator="\n"))
    split = "test" if "test" in adapted_pred else "val"
    key = "ccc_adapted_" + cfg.adapt.method if cfg.adapt.method != "none" else "ccc_unadapted"
    if len(targets) == len(EMOTIONS) and tuple(targets) == EMOTIONS:
        ccc_bars({"unadapted": list(per_class["ccc_unadapted"][split].values()),
                  f"adapted ({cfg.adapt.method})": list(per_class[key][split].values())},
                 outdir / "ccc_per_emotion.png", f"few-shot CCC per emotion ({split})")
    table_md = _per_emotion_table(per_class, split)
    io.write_text(outdir / "per_emotion.md", table_md)
    LOG.info("per-target CCC on %s queries:\n%s", split, table_md)


def _per_emotion_table(per_class: dict[str, dict[str, dict[str, float]]], split: str) -> str:
    """Markdown like Table 4 of the ExVo paper: one row per target, one column per method."""
    methods = list(per_class)
    names = list(per_class[methods[0]][split])
    lines = ["| target | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{per_class[m][split][name]:.3f}"
                                                for m in methods) + " |")
    lines.append("| **mean** | " + " | ".join(
        f"**{np.mean(list(per_class[m][split].values())):.3f}**" for m in methods) + " |")
    return "\n".join(lines) + "\n"


def extract(ctx: RunContext, shard: tuple[int, int]) -> int:
    cfg: FewShotConfig = ctx.config
    if cfg.data.cache_dir is None:
        raise ConfigError("-m extract needs data.cache_dir (it is null)")
    check(cfg)
    table = _table(cfg)
    upstream = _upstream(ctx)
    waveforms = WaveformDataset(table.paths, cfg.data.max_seconds, _standardizer(cfg, table),
                                False, table.source)
    cache = feature_cache(cfg.data.cache_dir, waveforms, upstream, ctx.upstream.normalize,
                          cfg.data.cache_dtype, cfg.data.extract_precision)
    _, written = fill_cache(cache, waveforms, upstream, ctx.upstream.normalize,
                            cfg.train.extract_batch_size, ctx.device, shard)
    return written


def evaluate(ctx: RunContext) -> dict[str, Any]:
    assert ctx.checkpoint is not None
    ctx.expdir.mkdir(parents=True, exist_ok=True)
    return evaluate_checkpoint(ctx, ctx.checkpoint, ctx.expdir)
