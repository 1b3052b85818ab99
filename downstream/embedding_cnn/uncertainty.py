"""The embedding CNN's bootstrap intervals, ceilings and provenance (downstream/intervals.py;
docs/statistics.md): UAR and accuracy of the most probable class, resampling speakers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emobench.core import provenance
from emobench.core import resampled_metrics as rm
from emobench.corpora.target_table import TargetTable
from emobench.downstream import intervals


def attach(result: dict[str, Any], outdir: Path, table: TargetTable, labels: np.ndarray,
           classes: Sequence[str], scored: dict[str, tuple[np.ndarray, np.ndarray]],
           settings: intervals.Settings = intervals.Settings()) -> dict[str, Any]:
    """Add ``ci``, ``ceiling`` and ``provenance`` to ``result`` (``scored``: per split its rows
    and (N, C) log-probabilities; ``labels``: every row's class index); write the units file."""
    units, ci, ceilings = {}, {}, {}
    for split, (rows, log_probs) in scored.items():
        truth = np.eye(len(classes))[labels[rows]]
        units[split] = intervals.SplitUnits(
            [table.file_ids[i] for i in rows], [table.speakers[i] for i in rows],
            {m: (m, rm.rows(m, truth, log_probs)) for m in ("uar", "accuracy")}, {},
            intervals.truth_hash([table.file_ids[i] for i in rows], truth))
        ci[split] = intervals.split_intervals(units[split], settings)
        ceilings[split] = intervals.ceiling(classes, truth.sum(axis=0),
                                            {m: rm.value(m, truth, truth)
                                             for m in ("uar", "accuracy")}, split)
    intervals.write_units(outdir / intervals.FILE, units)
    result.update(ci=ci, ceiling=ceilings,
                  provenance=provenance.of_scores(result, [table.source]))
    return result
