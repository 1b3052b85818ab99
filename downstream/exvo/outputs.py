"""What an ExVo multitask experiment leaves behind: the challenge submission, per-utterance
predictions of every split, and figures. Everything is written from predictions, atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from emobench.core import io, plots
from emobench.corpora.exvo_labels import COUNTRIES, EMOTIONS, ExVoTable

SUBMISSION_COLUMNS = ("File_ID", "Country", "Age", *EMOTIONS)


@dataclass
class Predictions:
    """Model outputs for the rows of a table, in its order: intensities, age in years, country."""

    emotions: np.ndarray  # (N, 10) in EMOTIONS order
    age: np.ndarray  # (N,)
    country: np.ndarray  # (N,) class index into COUNTRIES

    def take(self, keep: np.ndarray) -> "Predictions":
        return Predictions(self.emotions[keep], self.age[keep], self.country[keep])


def _csv(path: Path, frame: pd.DataFrame) -> Path:
    return io.write_text(path, frame.to_csv(index=False, float_format="%.6f", lineterminator="\n"))


def submission_csv(outdir: Path, team: str, number: int, table: ExVoTable,
                   pred: Predictions) -> Path:
    """``ExVo-Multi_<team>_<n>.csv`` for the Test rows: File_ID, Country (class index), Age,
    then the ten intensities in the official order."""
    test = table.splits == "test"
    frame = pd.DataFrame({"File_ID": np.asarray(table.file_ids, dtype=object)[test],
                          "Country": pred.country[test].astype(int), "Age": pred.age[test]})
    for e, emotion in enumerate(EMOTIONS):
        frame[emotion] = pred.emotions[test, e]
    return _csv(outdir / f"ExVo-Multi_{team}_{number}.csv", frame[list(SUBMISSION_COLUMNS)])


def predictions_csv(path: Path, table: ExVoTable, pred: Predictions) -> Path:
    """One row per burst of every split: predictions, and the labels where there are any."""
    frame = pd.DataFrame({
        "split": table.splits, "File_ID": table.file_ids, "Subject_ID": table.speakers,
        "Country_pred": pred.country.astype(int),
        "Country_pred_name": [COUNTRIES[c] for c in pred.country],
        "Age_pred": pred.age})
    for e, emotion in enumerate(EMOTIONS):
        frame[f"{emotion}_pred"] = pred.emotions[:, e]
    frame["Country"] = pd.array([int(c) if c >= 0 else None for c in table.country],
                                dtype="Int64")
    frame["Age"] = table.age
    for e, emotion in enumerate(EMOTIONS):
        frame[emotion] = table.emotions[:, e]
    return _csv(path, frame)


def ccc_bars(per_split: dict[str, Sequence[float]], path: Path, title: str) -> Path:
    """Per-emotion CCC, one bar group per emotion and one colour per split."""
    fig, ax = plots.plt.subplots(figsize=(8, 3.2))
    width = 0.8 / max(1, len(per_split))
    for k, (split, values) in enumerate(per_split.items()):
        ax.bar(np.arange(len(EMOTIONS)) + k * width, values, width, label=split)
    ax.set_xticks(np.arange(len(EMOTIONS)) + 0.4 - width / 2)
    ax.set_xticklabels(EMOTIONS, rotation=30, ha="right")
    ax.set_ylabel("CCC")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return plots.save(fig, path)


def age_scatter(truth: np.ndarray, pred: np.ndarray, path: Path, title: str) -> Path:
    fig, ax = plots.plt.subplots(figsize=(3.8, 3.6))
    ax.scatter(truth, pred, s=6, alpha=0.5)
    low, high = float(min(truth.min(), pred.min())), float(max(truth.max(), pred.max()))
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("true age (years)")
    ax.set_ylabel("predicted age (years)")
    ax.set_title(title)
    return plots.save(fig, path)


def confusion(truth: np.ndarray, pred: np.ndarray, path: Path, title: str) -> Path:
    """Row-normalised country confusion matrix (rows: truth), with counts in the cells."""
    counts = np.zeros((len(COUNTRIES), len(COUNTRIES)), dtype=int)
    np.add.at(counts, (truth, pred), 1)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plots.plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
    for i in range(len(COUNTRIES)):
        for j in range(len(COUNTRIES)):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                    color="white" if rates[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(len(COUNTRIES)))
    ax.set_xticklabels(COUNTRIES, rotation=30, ha="right")
    ax.set_yticks(range(len(COUNTRIES)))
    ax.set_yticklabels(COUNTRIES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return plots.save(fig, path)
