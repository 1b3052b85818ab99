"""The few-shot task's bootstrap intervals and provenance (downstream/intervals.py;
docs/statistics.md): ``ccc_unadapted`` and ``ccc_adapted`` over the query clips of every
evaluation split, resampling speakers (every query speaker is known)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emobench.core import provenance
from emobench.core import resampled_metrics as rm
from emobench.corpora.exvo_labels import ExVoTable
from emobench.downstream import intervals


def attach(result: dict[str, Any], outdir: Path, table: ExVoTable,
           adapted: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
           settings: intervals.Settings = intervals.Settings()) -> dict[str, Any]:
    """Add ``ci`` and ``provenance`` to ``result`` (``adapted``: per split the query rows, the
    unadapted and the adapted predictions); write the units file."""
    units, ci = {}, {}
    for split, (rows, unadapted, pred) in adapted.items():
        truth = table.emotions[rows]
        units[split] = intervals.SplitUnits(
            [table.file_ids[i] for i in rows], [table.speakers[i] for i in rows],
            {"ccc_unadapted": ("ccc", rm.rows("ccc", truth, unadapted)),
             "ccc_adapted": ("ccc", rm.rows("ccc", truth, pred))}, {},
            intervals.truth_hash([table.file_ids[i] for i in rows], truth))
        ci[split] = intervals.split_intervals(units[split], settings)
    intervals.write_units(outdir / intervals.FILE, units)
    result.update(ci=ci, provenance=provenance.of_scores(result, [table.source]))
    return result
