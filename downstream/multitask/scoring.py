"""Targets fitted on a table, canonical truths and predictions, and the metrics of a split."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emobench.core.config import ConfigError
from emobench.corpora.target_table import TargetTable
from emobench.downstream.multitask.checks import (columns_of, kind_of, metric_key, metrics_of,
                                                  selection_items)
from emobench.downstream.multitask.config import MultitaskConfig
from emobench.downstream.multitask.kinds import Target
from emobench.downstream.multitask.metrics import COMBINERS, METRICS


def build_targets(cfg: MultitaskConfig, table: TargetTable) -> list[Target]:
    """Every declared target, fitted on the present training rows of ``table``."""
    targets = []
    train = table.splits == "train"
    for tc in cfg.targets:
        kind, columns = kind_of(tc), columns_of(tc)
        if kind.categorical and len(columns) == 1:
            labels = table.classes[tc.name]
        else:
            labels = tuple(tc.classes) if tc.classes else columns
        target = Target(tc, kind, columns, labels)
        if kind.categorical and len(labels) < 2:
            raise ConfigError(f"{table.source}: target {tc.name!r} has fewer than two classes "
                              f"({list(labels)})")
        try:
            kind.fit(target, kind.truth(target, table)[train & table.present[tc.name]])
        except ValueError as exc:
            raise ConfigError(f"{table.source}: {exc}") from None
        targets.append(target)
    return targets


def truths(targets: list[Target], table: TargetTable) -> dict[str, np.ndarray]:
    return {t.name: t.kind.truth(t, table) for t in targets}


@torch.no_grad()
def predict(model: torch.nn.Module, features: torch.Tensor, targets: list[Target],
            device: torch.device, batch_size: int = 512) -> dict[str, np.ndarray]:
    """Every target's canonical prediction for every row of ``features``."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {t.name: [] for t in targets}
    for first in range(0, len(features), batch_size):
        out = model(features[first:first + batch_size].to(device))
        for t in targets:
            parts[t.name].append(t.kind.canonical(t, out[t.name]))
    return {name: np.concatenate(values) for name, values in parts.items()}


def split_metrics(cfg: MultitaskConfig, targets: list[Target], truth: dict[str, np.ndarray],
                  prediction: dict[str, np.ndarray], rows: np.ndarray,
                  present: dict[str, np.ndarray]) -> dict[str, float]:
    """Every target's metrics on its present rows among ``rows``, and the selection score."""
    out: dict[str, float] = {}
    for t in targets:
        keep = rows & present[t.name]
        if keep.any():
            for m in metrics_of(t.cfg):
                out[metric_key(t.cfg, m)] = METRICS.get(m)(truth[t.name][keep],
                                                           prediction[t.name][keep])
    keys = [metric_key(t, m) for t, m in selection_items(cfg)]
    if all(k in out for k in keys):
        out[cfg.selection.name] = COMBINERS.get(cfg.selection.combine)([out[k] for k in keys])
    return out


def breakdowns(targets: list[Target], truth: dict[str, np.ndarray],
               prediction: dict[str, np.ndarray], rows: np.ndarray,
               present: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per class or column (e.g. the CCC of every intensity, the F1 of every class)."""
    out: dict[str, dict[str, float]] = {}
    for t in targets:
        keep = rows & present[t.name]
        for m in metrics_of(t.cfg):
            breakdown = METRICS.entry(m).meta.get("breakdown")
            if breakdown and keep.any():
                name, function = breakdown
                out[metric_key(t.cfg, name)] = dict(zip(
                    t.labels, function(truth[t.name][keep], prediction[t.name][keep])))
    return out


def baseline(targets: list[Target], truth: dict[str, np.ndarray], train: np.ndarray,
             present: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Each target's constant predictor from its present training rows, for ``n`` rows."""
    return {t.name: t.kind.baseline(t, truth[t.name][train & present[t.name]], n)
            for t in targets}


def notes(cfg: MultitaskConfig) -> dict[str, Any]:
    """What every reported number is (scores.json ``notes``)."""
    out = {metric_key(t, m): METRICS.entry(m).meta["note"]
           for t in cfg.targets for m in metrics_of(t)}
    items = ", ".join(f"{t.name}.{m}" for t, m in selection_items(cfg))
    out[cfg.selection.name] = (f"{COMBINERS.entry(cfg.selection.combine).meta['note']} "
                               f"of {items} (the selection score)")
    out["baselines"] = ("constant predictors from the training set: the mean of numeric targets, "
                        "the majority class of categorical ones, EMO-SUPERB's best constant "
                        "probabilities of soft-label ones")
    return out
