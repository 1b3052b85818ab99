"""The ExVo multitask outputs (``output.format: exvo_multi``): the challenge submission,
per-utterance predictions of every split in the challenge's layout, and the figures
(``ccc_per_emotion.png``, ``age.png``, ``country_confusion.png``: the generic ones of targets
named emotion, age and country). Everything is written from predictions, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from emobench.core import plots
from emobench.core.config import ConfigError
from emobench.corpora.exvo_labels import EMOTIONS
from emobench.downstream.multitask.kinds import Target
from emobench.downstream.multitask.outputs import Written, figures, write_csv

SUBMISSION_COLUMNS = ("File_ID", "Country", "Age", *EMOTIONS)
ROLES = {"emotion": "intensities", "age": "regression", "country": "categorical"}


def _roles(w: Written) -> tuple[Target, Target, Target]:
    by_name = {t.name: t for t in w.targets}
    return by_name["emotion"], by_name["age"], by_name["country"]


def submission_csv(w: Written) -> Path:
    """``ExVo-Multi_<team>_<n>.csv`` for the Test rows: File_ID, Country (class index), Age,
    then the intensities in the declared (official) order."""
    emotion, age, country = _roles(w)
    test = w.table.splits == "test"
    frame = pd.DataFrame({
        w.cfg.data.id_column: np.asarray(w.table.file_ids, dtype=object)[test],
        country.columns[0]: w.prediction["country"][test].argmax(axis=1).astype(int),
        age.columns[0]: w.prediction["age"][test, 0]})
    for e, column in enumerate(emotion.columns):
        frame[column] = w.prediction["emotion"][test, e]
    out = w.cfg.output
    return write_csv(w.outdir / f"ExVo-Multi_{out.team}_{out.submission}.csv", frame)


def predictions_csv(w: Written) -> Path:
    """One row per burst of every split: predictions, and the labels where there are any."""
    emotion, age, country = _roles(w)
    data, table = w.cfg.data, w.table
    predicted = w.prediction["country"].argmax(axis=1)
    frame = pd.DataFrame({
        "split": table.splits, data.id_column: table.file_ids,
        data.speaker_column: table.speakers,
        f"{country.columns[0]}_pred": predicted.astype(int),
        f"{country.columns[0]}_pred_name": [country.labels[c] for c in predicted],
        f"{age.columns[0]}_pred": w.prediction["age"][:, 0]})
    for e, column in enumerate(emotion.columns):
        frame[f"{column}_pred"] = w.prediction["emotion"][:, e]
    frame[country.columns[0]] = pd.array([int(c) if c >= 0 else None
                                          for c in table.values["country"]], dtype="Int64")
    frame[age.columns[0]] = table.values["age"][:, 0]
    for e, column in enumerate(emotion.columns):
        frame[column] = table.values["emotion"][:, e]
    return write_csv(w.outdir / "predictions.csv", frame)


def ccc_bars(per_split: dict[str, Sequence[float]], path: Path, title: str) -> Path:
    """Per-emotion CCC of the ten ExVo emotions, one colour per split."""
    return plots.bars(per_split, EMOTIONS, path, title)


class ExVoMultiOutputs:
    """The writer of ``output.format: exvo_multi``."""

    submission = True  # needs Test rows (downstream/multitask/checks.py: require_test_rows)

    def check(self, cfg) -> None:
        """The targets it writes: emotion (intensities), age (regression), country
        (categorical)."""
        kinds = {t.name: t.kind for t in cfg.targets}
        wrong = [f"{name} ({kind})" for name, kind in ROLES.items() if kinds.get(name) != kind]
        if wrong:
            raise ConfigError(f"output.format=exvo_multi needs the targets {wrong} (see "
                              "configs/exvo_mtl/hume_vb.yaml), or output.format=generic")

    def write(self, w: Written) -> None:
        submission_csv(w)
        predictions_csv(w)
        figures(w)


EXVO_MULTI = ExVoMultiOutputs()
