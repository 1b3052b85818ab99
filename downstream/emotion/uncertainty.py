"""An emotion run's bootstrap intervals, ceilings and provenance in scores.json, and its
``bootstrap_units.npz`` (downstream/intervals.py; docs/statistics.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emobench.core import provenance
from emobench.core import resampled_metrics as rm
from emobench.corpora.emotion_labels import LabelTable
from emobench.downstream import intervals
from emobench.downstream.emotion.metrics import label_sets, macro_f1, paper_batch_macro_f1

RESAMPLED = ("macro_f1", "accuracy")  # loss and the batch-averaged reference number have none


def split_units(names: Sequence[str], speakers: Sequence[str | None], truth: np.ndarray,
                probs: np.ndarray) -> intervals.SplitUnits:
    return intervals.SplitUnits(list(names), list(speakers),
                                {m: (m, rm.rows(m, truth, probs)) for m in RESAMPLED},
                                {}, intervals.truth_hash(names, truth))


def attach(result: dict[str, Any], outdir: Path, table: LabelTable,
           outputs: dict[str, tuple[Sequence[str], np.ndarray, np.ndarray]],
           settings: intervals.Settings = intervals.Settings()) -> dict[str, Any]:
    """Add ``ci``, ``ceiling`` and ``provenance`` to ``result``; write the units file."""
    units, ci, ceilings = {}, {}, {}
    for split, (names, truth, probs) in outputs.items():
        units[split] = split_units(names, table.subset(split).speakers, truth, probs)
        ci[split] = intervals.split_intervals(units[split], settings)
        perfect = {"macro_f1": macro_f1(truth, truth),
                   "paper_batch_macro_f1": paper_batch_macro_f1(truth, truth)}
        ceilings[split] = intervals.ceiling(table.classes, label_sets(truth).sum(axis=0),
                                            perfect, split)
        if ceilings[split]["absent_classes"]:
            result.setdefault("warnings", []).append(
                f"{split}: classes absent from the truth {ceilings[split]['absent_classes']}; "
                f"a perfect predictor scores macro_f1 {perfect['macro_f1']:.4f}")
    intervals.write_units(outdir / intervals.FILE, units)
    result.update(ci=ci, ceiling=ceilings, provenance=provenance.of_scores(
        result, [table.source, Path(table.source).parent / "config.json"]))
    return result
