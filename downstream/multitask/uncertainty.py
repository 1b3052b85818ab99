"""A multitask run's bootstrap intervals and ceilings (downstream/intervals.py;
docs/statistics.md): every target metric and the selection score, on the rows where the target
has a label, resampling speakers."""

from __future__ import annotations

from typing import Any

import numpy as np

from emobench.core import resampled_metrics as rm
from emobench.corpora.target_table import TargetTable
from emobench.downstream import intervals
from emobench.downstream.multitask.checks import metric_key, metrics_of, selection_items
from emobench.downstream.multitask.config import MultitaskConfig
from emobench.downstream.multitask.kinds import Target


def split_units(cfg: MultitaskConfig, table: TargetTable, targets: list[Target],
                truth: dict[str, np.ndarray], pred: dict[str, np.ndarray],
                rows: np.ndarray) -> intervals.SplitUnits:
    """The statistics of every metric of ``rows`` (a target's absent rows weigh nothing)."""
    where = np.flatnonzero(rows)
    found: dict[str, tuple[str, np.ndarray]] = {}
    hashed = []
    for t in targets:
        keep = table.present[t.name][where]
        if not keep.any():
            continue
        hashed += [np.where(keep[:, None], truth[t.name][where].reshape(len(where), -1), 0.0),
                   keep]
        for m in metrics_of(t.cfg):
            found[metric_key(t.cfg, m)] = (m, rm.rows(m, truth[t.name][where],
                                                      pred[t.name][where], keep))
    keys = [metric_key(t, m) for t, m in selection_items(cfg)]
    ids = [table.file_ids[i] for i in where]
    return intervals.SplitUnits(ids, [table.speakers[i] for i in where], found,
                                {cfg.selection.name: (cfg.selection.combine, keys)},
                                intervals.truth_hash(ids, *hashed))


def split_ceiling(targets: list[Target], truth: dict[str, np.ndarray], rows: np.ndarray,
                  present: dict[str, np.ndarray], split: str) -> dict[str, Any]:
    """Absent classes of the categorical targets and their metrics' perfect scores."""
    categorical = [t for t in targets if t.kind.categorical and (rows & present[t.name]).any()]
    classes: list[str] = []
    positives: list[int] = []
    perfect: dict[str, float] = {}
    for t in categorical:
        y = truth[t.name][rows & present[t.name]]
        prefix = f"{t.name}:" if len(categorical) > 1 else ""
        classes += [f"{prefix}{c}" for c in t.labels]
        positives += (y > 1.0 / y.shape[1]).sum(axis=0).tolist()
        perfect.update({metric_key(t.cfg, m): rm.value(m, y, y) for m in metrics_of(t.cfg)})
    return intervals.ceiling(classes, np.asarray(positives), perfect, split)


def of_splits(cfg: MultitaskConfig, table: TargetTable, targets: list[Target],
              truth: dict[str, np.ndarray], pred: dict[str, np.ndarray],
              scored: dict[str, np.ndarray], settings: intervals.Settings = intervals.Settings()
              ) -> tuple[dict[str, intervals.SplitUnits], dict[str, Any]]:
    """The units of every scored split, and scores.json's ``ci`` and ``ceiling``."""
    units, ci, ceilings = {}, {}, {}
    for split, rows in scored.items():
        units[split] = split_units(cfg, table, targets, truth, pred, rows)
        ci[split] = intervals.split_intervals(units[split], settings)
        ceilings[split] = split_ceiling(targets, truth, rows, table.present, split)
    warnings = [f"{s}: classes absent from the truth {c['absent_classes']}"
                for s, c in ceilings.items() if c["absent_classes"]]
    return units, {"ci": ci, "ceiling": ceilings, **({"warnings": warnings} if warnings else {})}
