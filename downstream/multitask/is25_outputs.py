"""The IS25 SER challenge's submission files (``output.format: is25_categorical`` and
``is25_attributes``; docs/is25.md), written besides the generic predictions.csv and figures.

The layouts are those of the challenge organisers' baseline code (github.com/msplabresearch/
MSP-Podcast_Challenge, ``eval_dim_ser_test3.py``) and of participants' submission scripts: one
CSV row per utterance, sorted by FileName, with the header

- categorical task: ``FileName,EmoClass`` -- the most probable of the eight class codes
  (A, S, H, U, F, D, C, N);
- attributes task: ``FileName,EmoAct,EmoVal,EmoDom`` -- the predicted arousal, valence and
  dominance (after ``data_handling.minmax`` when it is set).

``is25_<task>_test.csv`` holds the test split (the challenge's Test3 when the table was prepared
with ``test=Test3``: the file to submit), ``is25_<task>_val.csv`` the validation split (to
score locally).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emobench.core.config import ConfigError
from emobench.downstream.multitask.kinds import Target
from emobench.downstream.multitask.outputs import GenericOutputs, Written, write_csv

CLASS_CODES = ("A", "S", "H", "U", "F", "D", "C", "N")
ATTRIBUTES = ("EmoAct", "EmoVal", "EmoDom")
SPLITS = ("val", "test")


def _by_column(targets, kinds: tuple[str, ...]) -> dict[str, object]:
    """The targets of the given kinds by their (single) source column."""
    return {(t.columns or [t.name])[0]: t for t in targets if t.kind in kinds}


class IS25Outputs:
    """The writer of one task's submission (``task``: categorical or attributes)."""

    submission = True  # needs Test rows (checks.require_test_rows)

    def __init__(self, task: str):
        self.task = task

    def check(self, cfg) -> None:
        """The targets the submission needs (by their source columns)."""
        if self.task == "categorical":
            found = _by_column(cfg.targets, ("categorical", "soft_categorical")).get("EmoClass")
            if found is None or not found.classes or not set(found.classes) <= set(CLASS_CODES):
                raise ConfigError("output.format=is25_categorical needs a categorical target "
                                  f"of column EmoClass whose classes are codes of {CLASS_CODES}")
        else:
            missing = [c for c in ATTRIBUTES
                       if c not in _by_column(cfg.targets, ("regression",))]
            if missing:
                raise ConfigError("output.format=is25_attributes needs regression targets of "
                                  f"the columns {list(ATTRIBUTES)}; missing {missing}")

    def frame(self, w: Written, split: str) -> pd.DataFrame:
        """The submission rows of one split, sorted by FileName."""
        rows = w.table.splits == split
        out = pd.DataFrame({"FileName": np.asarray(w.table.file_ids, dtype=object)[rows]})
        if self.task == "categorical":
            target: Target = next(t for t in w.targets if t.columns[0] == "EmoClass")
            best = w.prediction[target.name][rows].argmax(axis=1)
            out["EmoClass"] = [target.labels[c] for c in best]
        else:
            for column in ATTRIBUTES:
                target = next(t for t in w.targets
                              if t.kind.name == "regression" and t.columns[0] == column)
                out[column] = w.prediction[target.name][rows, 0]
        return out.sort_values("FileName", kind="stable").reset_index(drop=True)

    def write(self, w: Written) -> list[Path]:
        GenericOutputs().write(w)
        return [write_csv(w.outdir / f"is25_{self.task}_{split}.csv", self.frame(w, split))
                for split in SPLITS if (w.table.splits == split).any()]


CATEGORICAL = IS25Outputs("categorical")
ATTRIBUTES_OUTPUT = IS25Outputs("attributes")
