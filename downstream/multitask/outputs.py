"""What a multitask experiment writes besides scores.json, by ``output.format``.

``generic``: ``predictions.csv`` (one row per utterance of every split: split, id, speaker, each
target's prediction (class name and class probabilities; values in the target's units), then
each target's truth where there is one) and figures: ``ccc_per_<target>.png`` for intensities,
``<target>.png`` (predicted vs true) for regressions, ``<target>_confusion.png`` for categorical
targets (test, or val when the test split has no labels). ``exvo_multi`` (downstream/exvo/
outputs.py) adds the ExVo-Multi submission and writes predictions.csv in the challenge's layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emobench.core import io, plots
from emobench.core.registry import Registry
from emobench.corpora.target_table import TargetTable
from emobench.downstream.multitask.kinds import Target
from emobench.downstream.multitask.metrics import per_column_ccc

OUTPUTS = Registry("output format")


@dataclass
class Written:
    """Everything an output writer may use."""

    outdir: Path
    cfg: object  # the run's MultitaskConfig
    table: TargetTable
    targets: list[Target]
    prediction: dict[str, np.ndarray]  # canonical, every row
    scored: dict[str, np.ndarray]  # split -> rows with labels
    title: str  # e.g. the upstream's name


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    return io.write_text(path, frame.to_csv(index=False, float_format="%.6f",
                                            lineterminator="\n"))


def class_names(target: Target, values: np.ndarray) -> list[str | None]:
    """The most probable class of every row (None where the row has no value)."""
    return [None if np.isnan(row).any() else target.labels[int(np.argmax(row))]
            for row in values]


def predictions_frame(w: Written) -> pd.DataFrame:
    data = w.cfg.data
    frame = pd.DataFrame({"split": w.table.splits, data.id_column: w.table.file_ids,
                          data.speaker_column: w.table.speakers})
    for t in w.targets:
        pred = w.prediction[t.name]
        if t.kind.categorical:
            frame[f"{t.name}_pred"] = class_names(t, pred)
            for c, label in enumerate(t.labels):
                frame[f"{t.name}_prob_{label}"] = pred[:, c]
        elif pred.shape[1] == 1:
            frame[f"{t.name}_pred"] = pred[:, 0]
        else:
            for c, label in enumerate(t.labels):
                frame[f"{label}_pred"] = pred[:, c]
    for t in w.targets:
        truth = t.kind.truth(t, w.table)
        if t.kind.categorical:
            frame[t.name] = class_names(t, truth)
        elif truth.shape[1] == 1:
            frame[t.name] = truth[:, 0]
        else:
            for c, label in enumerate(t.labels):
                frame[label] = truth[:, c]
    return frame


def figures(w: Written) -> None:
    """Per-column CCC bars, predicted-vs-true scatter, confusion matrices (see the module)."""
    if not w.scored:
        return
    split = "test" if "test" in w.scored else "val"
    for t in w.targets:
        present, pred = w.table.present[t.name], w.prediction[t.name]
        rows = w.scored[split] & present
        truth = t.kind.truth(t, w.table)
        if t.kind.name == "intensities":
            per_split = {s: per_column_ccc(truth[r & present], pred[r & present])
                         for s, r in w.scored.items() if (r & present).any()}
            plots.bars(per_split, t.labels, w.outdir / f"ccc_per_{t.name}.png",
                       f"{w.title}: CCC per {t.name}")
        elif t.kind.name == "regression" and rows.any():
            plots.scatter(truth[rows, 0], pred[rows, 0], w.outdir / f"{t.name}.png",
                          f"{w.title}: {t.name} ({split})", t.name)
        elif t.kind.categorical and rows.any():
            plots.confusion(truth[rows].argmax(axis=1), pred[rows].argmax(axis=1), t.labels,
                            w.outdir / f"{t.name}_confusion.png",
                            f"{w.title}: {t.name} ({split})")


class GenericOutputs:
    """predictions.csv and figures for any targets."""

    def check(self, cfg) -> None:
        """Every config can be written generically."""

    def write(self, w: Written) -> None:
        write_csv(w.outdir / "predictions.csv", predictions_frame(w))
        figures(w)


OUTPUTS.register("generic", GenericOutputs())
OUTPUTS.register("exvo_multi", "emobench.downstream.exvo.outputs:EXVO_MULTI",
                 description="the ExVo-Multi submission and predictions in its layout")
OUTPUTS.register("is25_categorical", "emobench.downstream.multitask.is25_outputs:CATEGORICAL",
                 description="predictions.csv, figures and the IS25 categorical submission")
OUTPUTS.register("is25_attributes",
                 "emobench.downstream.multitask.is25_outputs:ATTRIBUTES_OUTPUT",
                 description="predictions.csv, figures and the IS25 attributes submission")
