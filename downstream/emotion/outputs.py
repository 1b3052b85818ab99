"""What an emotion experiment leaves behind, exported from predictions (never from logs)."""

from __future__ import annotations

import csv
import io as _io
from pathlib import Path
from typing import Sequence

import numpy as np

from emobench.core import io
from emobench.downstream.emotion.metrics import label_sets


def class_set(row: np.ndarray, classes: Sequence[str]) -> str:
    """``"c1;c2"``: the classes above 1/C, in class-list order."""
    return ";".join(c for c, on in zip(classes, label_sets(row[None])[0]) if on)


def leaderboard_files(expdir: Path, split: str, fold: int | str, names: Sequence[str],
                      classes: Sequence[str], truth: np.ndarray, probs: np.ndarray) -> list[Path]:
    """EMO-SUPERB's ``<split>_fold<k>_predict.txt`` and ``_truth.txt``: ``<FileName> <c1;c2>``."""
    written = []
    for kind, values in (("predict", probs), ("truth", truth)):
        lines = [f"{n} {class_set(v, classes)}" for n, v in zip(names, values)]
        written.append(io.write_text(expdir / f"{split}_fold{fold}_{kind}.txt",
                                     "\n".join(lines) + "\n"))
    return written


def predictions_csv(path: Path, classes: Sequence[str],
                    splits: dict[str, tuple[Sequence[str], np.ndarray, np.ndarray]]) -> Path:
    """One row per utterance: split, FileName, predicted and true sets, every probability."""
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["split", "FileName", "predicted", "truth",
                     *[f"prob_{c}" for c in classes], *[f"label_{c}" for c in classes]])
    for split, (names, truth, probs) in splits.items():
        for name, y, p in zip(names, truth, probs):
            writer.writerow([split, name, class_set(p, classes), class_set(y, classes),
                             *[f"{v:.6f}" for v in p], *[f"{v:.6f}" for v in y]])
    return io.write_text(path, buffer.getvalue())
