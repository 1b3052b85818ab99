"""What a multitask run's predictions become: every split's metrics, constant baselines and
per-class breakdowns; the configured outputs (downstream/multitask/outputs.py) and the lossless
``predictions.npz``; the scores.json record. Shared by training and evaluation (task.py) and by
hybrid fusion (hybrid.py), so a fused system is scored by the same code as a trained one.

``predictions.npz`` (numpy, no pickles) holds the canonical prediction of every target for every
row in float64 (class probabilities; values in the target's units), with the rows' ids and
splits: what ``-m fuse`` combines.
"""

from __future__ import annotations

import io as _io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emobench.core import io
from emobench.core.errors import UserError
from emobench.core.experiment import LOG, provenance
from emobench.core.provenance import of_scores
from emobench.corpora.target_table import TargetTable
from emobench.downstream import intervals
from emobench.downstream.multitask import scoring, uncertainty
from emobench.downstream.multitask.checks import loss_of
from emobench.downstream.multitask.config import MultitaskConfig
from emobench.downstream.multitask.kinds import Target
from emobench.downstream.multitask.outputs import OUTPUTS, Written

PREDICTIONS = "predictions.npz"


@dataclass
class Scored:
    """The scores of one set of predictions."""

    metrics: dict[str, dict[str, float]]  # split -> key -> value
    baselines: dict[str, dict[str, float]]
    per_class: dict[str, dict[str, dict[str, float]]]
    scored: dict[str, np.ndarray]  # split -> its rows with labels
    units: dict[str, Any] = field(default_factory=dict)  # split -> bootstrap units (stats)
    uncertainty: dict[str, Any] = field(default_factory=dict)  # scores.json ci, ceiling


def score(cfg: MultitaskConfig, table: TargetTable, targets: list[Target],
          pred: dict[str, np.ndarray]) -> Scored:
    """Metrics and constant baselines of the val and test rows with labels (the test split only
    when it has labels)."""
    truth, train = scoring.truths(targets, table), table.splits == "train"
    constant = scoring.baseline(targets, truth, train, table.present, len(table))
    scored = {s: rows for s in ("val", "test")
              if (rows := (table.splits == s) & table.labelled).any()}
    metrics, baselines, per_class = {}, {}, {}
    for split, rows in scored.items():
        metrics[split] = scoring.split_metrics(cfg, targets, truth, pred, rows, table.present)
        baselines[split] = scoring.split_metrics(cfg, targets, truth, constant, rows,
                                                 table.present)
        for key, values in scoring.breakdowns(targets, truth, pred, rows, table.present).items():
            per_class.setdefault(key, {})[split] = values
        LOG.info("%s: %s (constant baselines: %s)", split,
                 " ".join(f"{k} {v:.4f}" for k, v in metrics[split].items()),
                 " ".join(f"{k} {v:.4f}" for k, v in baselines[split].items()))
    units, uncertain = uncertainty.of_splits(cfg, table, targets, truth, pred, scored)
    return Scored(metrics, baselines, per_class, scored, units, uncertain)


def write_outputs(outdir: Path, cfg: MultitaskConfig, table: TargetTable, targets: list[Target],
                  pred: dict[str, np.ndarray], scored: Scored, title: str) -> None:
    """The configured output format's files, and ``predictions.npz``."""
    OUTPUTS.get(cfg.output.format).write(Written(outdir, cfg, table, targets, pred,
                                                 scored.scored, title))
    write_predictions(outdir / PREDICTIONS, table, targets, pred)
    intervals.write_units(outdir / intervals.FILE, scored.units)


def write_predictions(path: Path, table: TargetTable, targets: list[Target],
                      pred: dict[str, np.ndarray]) -> Path:
    arrays = {"file_id": np.asarray(table.file_ids, dtype=str),
              "split": np.asarray(table.splits, dtype=str),
              "target": np.asarray([t.name for t in targets], dtype=str)}
    arrays.update({f"prediction_{i}": np.asarray(pred[t.name], dtype=np.float64)
                   for i, t in enumerate(targets)})
    buffer = _io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return io.write_bytes(path, buffer.getvalue())


@dataclass
class Predictions:
    """A ``predictions.npz`` read back."""

    file_ids: list[str]
    splits: list[str]
    values: dict[str, np.ndarray]  # target -> (N, K) float64


def read_predictions(path: Path) -> Predictions:
    """A ``predictions.npz``; a missing or malformed file is a UserError naming it."""
    if not path.is_file():
        raise UserError(f"{path} does not exist: experiments written before predictions.npz "
                        "existed can write it with -m evaluate -e <their folder>")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = [str(n) for n in data["target"]]
            return Predictions([str(x) for x in data["file_id"]], [str(x) for x in data["split"]],
                               {n: data[f"prediction_{i}"] for i, n in enumerate(names)})
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(f"{path} is not a readable predictions file ({exc})") from None


def scores_record(cfg: MultitaskConfig, table: TargetTable, targets: list[Target],
                  done: Scored, *, task: str, upstream: dict[str, Any], seed: int,
                  checkpoint: str | None, selection: dict[str, Any], feature_path: str,
                  warnings: list[str], upstreams: list[dict[str, Any]] | None = None,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scores.json of a multitask run (``upstreams``: each upstream's record when there are
    several; ``extra``: further top-level entries, e.g. a hybrid's ``sources``)."""
    main_split = "test" if "test" in done.metrics else "val"
    name = cfg.selection.name
    identity = {"upstream": upstream, **({"upstreams": upstreams} if upstreams else {})}
    extra = {**{k: v for k, v in done.uncertainty.items() if k != "warnings"}, **(extra or {})}
    warnings = [*warnings, *done.uncertainty.get("warnings", [])]
    record = {
        "schema_version": 1, "task": task, "corpus": cfg.data.corpus,
        "condition": cfg.data.condition, "fold": None, **identity, "seed": seed,
        "toolkit": provenance(), "checkpoint": checkpoint,
        "main_metric": {"name": name, "split": main_split,
                        "value": done.metrics.get(main_split, {}).get(name, float("nan")),
                        "higher_is_better": cfg.selection.higher_is_better},
        "metrics": done.metrics, "baselines": done.baselines, "per_class": done.per_class,
        "targets": {t.name: {"kind": t.kind.name, "labels": list(t.labels),
                             "loss": loss_of(t.cfg), "weight": t.cfg.weight}
                    for t in targets},
        "selection": selection, "feature_path": feature_path,
        "counts": table.counts(), "warnings": warnings, "notes": scoring.notes(cfg),
        **extra,
    }
    record["provenance"] = of_scores(record, [table.source])
    return record
