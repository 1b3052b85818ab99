"""``-d embedding_cnn``: train the seed-000 paper's task-specific embedding CNN (upstream/
window_cnn.py) on hard labels; its ``dev-best.ckpt`` is then the ``-k`` of ``-u raw_cnn`` or
``-u zff_cnn`` for any task (docs/exvo_study.md).

``-u`` names what is trained: ``raw_cnn`` (raw waveform input) or ``zff_cnn`` (zero-frequency
filtered input); there is no ``-k``. The table is read as the multitask task reads it
(corpora/target_table.py); the target is the class of the highest of several columns
(``argmax``: HUME-VB's intensities, the paper's -ER) or a label column (``categorical``: the
country, -CR). As in the paper, a fraction of the training speakers (10 %) is held out to select
the checkpoint; the corpus's validation split is scored only at the end. Training: the one
trainer, on random 250 ms windows of the training utterances (``windows_per_utterance`` each
epoch), cross-entropy on the utterance's label; evaluation: the mean log-probability over an
utterance's windows (every ``hop_ms``), its UAR, accuracy (the paper's WAR) and cross-entropy,
beside the majority-class constant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from emobench.core import io, scores
from emobench.core.config import ConfigError, to_dict
from emobench.core.context import RunContext
from emobench.core.errors import UserError
from emobench.core.experiment import LOG, provenance, seed_everything
from emobench.corpora.target_table import TableLayout, TargetTable, read_table
from emobench.downstream import common
from emobench.downstream.embedding_cnn import data
from emobench.downstream.embedding_cnn.config import EmbeddingCNNConfig
from emobench.downstream.embedding_cnn.uncertainty import attach as attach_uncertainty
from emobench.downstream.trainer import Evaluation, Loop, Schedule, Selection, StepLoss, Trainer
from emobench.downstream.waveforms import Standardizer, WaveformDataset
from emobench.upstream.embedding_cnn import INPUT_OF
from emobench.upstream.window_cnn import FORMAT, NetworkSpec, WindowCNN, load

NO_INFERENCE = ("it trains the window CNN that -u raw_cnn / -u zff_cnn load (-k its "
                "dev-best.ckpt): run inference with the task trained on that upstream")

CONFIG = EmbeddingCNNConfig
SELECTION = ("val", "uar", True)  # split, metric, higher is better (used by --seeds)


def demo(root: Path, layers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The HUME-VB demo of ``-d exvo_mtl --demo``, built in (or reused from) its folder next to
    ``root``, so that an embedding trained here serves that task's demo on the same corpus."""
    from emobench.downstream.exvo.task import demo as exvo_demo

    return exvo_demo(root.parent / "exvo_mtl", layers)


def network_spec(cfg: EmbeddingCNNConfig, input_kind: str,
                 classes: tuple[str, ...]) -> NetworkSpec:
    n = cfg.network
    return NetworkSpec(input_kind, classes, tuple(n.channels), tuple(n.kernels),
                       tuple(n.strides), n.pool, n.embedding_dim, n.window_ms, n.hop_ms,
                       n.zff_window_ms)


def check(cfg: EmbeddingCNNConfig) -> None:
    common.require_paths(cfg.data, ("data_info", "audio_root"))
    t = cfg.target
    if not t.columns:
        raise ConfigError("target.columns is empty: name the column(s) of the label")
    if t.source == "categorical" and len(t.columns) != 1:
        raise ConfigError(f"target.source=categorical reads one column; target.columns has "
                          f"{len(t.columns)}: {t.columns}")
    if t.source == "argmax" and len(t.columns) < 2:
        raise ConfigError("target.source=argmax needs at least 2 columns (one per class)")
    problems = network_spec(cfg, "raw", ("a", "b")).problems()
    if problems:
        raise ConfigError("network: " + "; ".join(problems))
    if not 0.0 < cfg.train.holdout_fraction < 1.0:
        raise ConfigError("train.holdout_fraction must be between 0 and 1")
    if cfg.train.windows_per_utterance < 1 or cfg.train.batch_size < 1:
        raise ConfigError("train.windows_per_utterance and train.batch_size must be >= 1")
    Schedule.of(cfg.train).check()


def input_of(ctx: RunContext) -> str:
    """raw or zff, from ``-u``; ``-k`` is refused (the network is trained from scratch)."""
    name = ctx.upstream.name
    if name not in INPUT_OF:
        raise ConfigError(f"-d embedding_cnn trains an embedding upstream: -u raw_cnn (raw "
                          f"waveform) or -u zff_cnn (zero-frequency filtered), not -u {name}")
    if ctx.upstream.checkpoint:
        raise ConfigError(f"-d embedding_cnn trains {name} from scratch: -k is for using a "
                          f"trained one (-u {name} -k <dev-best.ckpt> -d <another task>)")
    return INPUT_OF[name]


def read(cfg: EmbeddingCNNConfig) -> TargetTable:
    d = cfg.data
    layout = TableLayout(d.id_column, d.split_column, d.speaker_column, d.id_format,
                         (("train", d.split_names.train), ("val", d.split_names.val),
                          ("test", d.split_names.test)), d.audio_ext)
    return read_table(d.data_info, d.audio_root, [data.column_spec(cfg.target)], layout,
                      d.allow_speaker_overlap)


def waveforms_of(cfg: EmbeddingCNNConfig, table: TargetTable) -> WaveformDataset:
    return WaveformDataset(table.paths, cfg.data.max_seconds, Standardizer(), False, table.source)


def train(ctx: RunContext) -> dict[str, Any]:
    cfg: EmbeddingCNNConfig = ctx.config
    check(cfg)
    input_kind = input_of(ctx)
    table = read(cfg)
    hard = data.hard_labels(cfg.target, table)
    labelled_train = (table.splits == "train") & (hard.labels >= 0)
    speakers = np.array(table.speakers, dtype=object)
    held = data.holdout_speakers(list(speakers[labelled_train]), cfg.train.holdout_fraction,
                                 ctx.seed)
    holdout = labelled_train & np.isin(speakers, held)
    fit_rows, hold_rows = np.flatnonzero(labelled_train & ~holdout), np.flatnonzero(holdout)
    spec = network_spec(cfg, input_kind, hard.classes)
    counts = np.bincount(hard.labels[fit_rows], minlength=len(hard.classes))
    LOG.info("%s: %s input; %d training utterances, %d held out (%d speakers) for selection; "
             "classes %s", table.source, input_kind, len(fit_rows), len(hold_rows), len(held),
             dict(zip(hard.classes, counts.tolist())))
    if hard.ties:
        ctx.warnings.append(f"{hard.ties} rows have several columns sharing the highest value: "
                            "their label is the first of them")
    waveforms = waveforms_of(cfg, table)
    signals = {int(i): data.signal(waveforms, int(i), spec)
               for i in np.concatenate([fit_rows, hold_rows])}

    seed_everything(ctx.seed)
    model = WindowCNN(spec).to(ctx.device)
    train_cfg = cfg.train

    def loss(model: WindowCNN, batch: tuple[torch.Tensor, torch.Tensor]) -> StepLoss:
        x, y = batch
        logits = model(x.to(ctx.device))
        return StepLoss(torch.nn.functional.cross_entropy(logits, y.to(ctx.device)), len(y))

    def evaluate(model: WindowCNN) -> Evaluation:
        log_probs = data.utterance_log_probs(model, (signals[int(i)] for i in hold_rows), spec,
                                             ctx.device)
        result = data.scores(hard.labels[hold_rows], log_probs)
        model.train()
        return Evaluation(result["uar"], result,
                          "holdout " + " ".join(f"{k} {v:.4f}" for k, v in result.items()))

    record = {"format": FORMAT, "network": spec.to_dict(), "run": ctx.run_record(),
              "config": to_dict(cfg), "holdout_speakers": held, "label_ties": hard.ties}
    trainer = Trainer(Schedule.of(train_cfg), Selection("holdout_uar"), ctx.expdir, ctx.device,
                      record, tag=ctx.task, split="holdout", resume=ctx.resume)
    windows_per_epoch = len(fit_rows) * train_cfg.windows_per_utterance
    trainer.fit(model, Loop(
        lambda epoch: data.window_batches(signals, hard.labels, fit_rows, spec,
                                          train_cfg.windows_per_utterance,
                                          train_cfg.batch_size, ctx.seed, epoch),
        loss, evaluate, steps_per_epoch=-(-windows_per_epoch // train_cfg.batch_size)))
    return evaluate_checkpoint(ctx, ctx.expdir / "dev-best.ckpt", ctx.expdir, table)


def evaluate_checkpoint(ctx: RunContext, checkpoint: Path, outdir: Path,
                        table: TargetTable | None = None) -> dict[str, Any]:
    """Score a trained network on the labelled val and test rows; scores.json, predictions."""
    cfg: EmbeddingCNNConfig = ctx.config
    saved = common.load_checkpoint(checkpoint, FORMAT, "embedding_cnn")
    spec, model = load(checkpoint)
    model = model.to(ctx.device)
    table = table if table is not None else read(cfg)
    hard = data.hard_labels(cfg.target, table)
    if tuple(spec.classes) != hard.classes:
        raise ConfigError(f"{checkpoint} predicts {list(spec.classes)}, the table's target "
                          f"{cfg.target.name} has {list(hard.classes)}")
    waveforms = waveforms_of(cfg, table)
    train_labels = hard.labels[(table.splits == "train") & (hard.labels >= 0)]
    metrics, baselines, rows_out, scored = {}, {}, [], {}
    for split in ("val", "test"):
        rows = np.flatnonzero((table.splits == split) & (hard.labels >= 0))
        if not len(rows):
            continue
        log_probs = data.utterance_log_probs(
            model, (data.signal(waveforms, int(i), spec) for i in rows), spec, ctx.device)
        metrics[split] = data.scores(hard.labels[rows], log_probs)
        scored[split] = (rows, log_probs)
        baselines[split] = data.constant_scores(hard.labels[rows], train_labels,
                                                len(hard.classes))
        LOG.info("%s: %s (majority class: %s)", split,
                 " ".join(f"{k} {v:.4f}" for k, v in metrics[split].items()),
                 " ".join(f"{k} {v:.4f}" for k, v in baselines[split].items()))
        rows_out += [(split, table.file_ids[i], table.speakers[i], spec.classes[int(p)],
                      spec.classes[int(hard.labels[i])])
                     for i, p in zip(rows, log_probs.argmax(axis=1))]
    if not metrics:
        raise UserError(f"{table.source}: no labelled val or test row to score")
    io.write_text(outdir / "predictions.csv", pd.DataFrame(
        rows_out, columns=["split", "id", "speaker", "prediction", "truth"]).to_csv(index=False))
    main_split = "test" if "test" in metrics else "val"
    counts = table.counts() | {"holdout_speakers": len(saved["holdout_speakers"]),
                               "label_ties": int(saved["label_ties"])}
    result = {
        "schema_version": 1, "task": ctx.task, "corpus": cfg.data.corpus,
        "condition": cfg.data.condition, "fold": None,
        "upstream": {"name": ctx.upstream.name, "checkpoint": None, "checkpoint_sha256": None,
                     "layer": None, "normalize": False,
                     "source": f"trained here: {spec.input} input, classes {list(spec.classes)}"},
        "seed": ctx.seed, "toolkit": provenance(), "checkpoint": str(checkpoint),
        "main_metric": {"name": "uar", "split": main_split, "value": metrics[main_split]["uar"],
                        "higher_is_better": True},
        "metrics": metrics, "baselines": baselines, "selection": saved["selection"],
        "counts": counts, "warnings": ctx.warnings,
        "embedding": {"dim": 2 * spec.embedding_dim, "network": spec.to_dict(),
                      "use": f"-u {ctx.upstream.name} -k {checkpoint}"},
    }
    attach_uncertainty(result, outdir, table, hard.labels, spec.classes, scored)  # stats
    scores.write(outdir / "scores.json", result)
    return result


def evaluate(ctx: RunContext) -> dict[str, Any]:
    assert ctx.checkpoint is not None
    return evaluate_checkpoint(ctx, ctx.checkpoint, ctx.expdir)


def extract(ctx: RunContext, shard: tuple[int, int]) -> int:
    raise UserError("-d embedding_cnn trains on waveforms and has no features to extract; "
                    "-m extract -u raw_cnn -k <its dev-best.ckpt> -d <another task> caches its "
                    "embeddings for that task")
