"""HUME-VB (ICML ExVo 2022) ``data_info.csv``, read by header name and checked before training.

Columns (any order; extra columns are ignored): ``File_ID`` as ``[token]`` with the audio at
``<audio_root>/<token><audio_ext>``; ``Split`` (Train / Val / Test, any case); ``Subject_ID``;
``Country`` (a name of :data:`COUNTRIES`, any case, or its index 0-3, which must then agree with
``Country_string`` when that column exists); ``Age`` in years, in (0, 120); and the ten
:data:`EMOTIONS` intensities in [0, 1]. Train and Val rows carry every label; a Test row carries
all of them or none (it is then predicted, not scored). A speaker may appear in one split only.
Every problem is collected and reported at once with its CSV line (the header is line 1).

The same reader serves other vocal-burst corpora written in this style (e.g. EmoGator from
corpora/emogator.py): ``targets`` names the intensity columns to read instead of
:data:`EMOTIONS`, and ``speaker_attributes=False`` drops the ``Country`` and ``Age`` columns
(neither required nor read; a row is then labelled when its target columns are).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from emobench.corpora.target_table import SPLITS, ColumnSpec, TableLayout, read_table

EMOTIONS = ("Awe", "Excitement", "Amusement", "Awkwardness", "Fear", "Horror", "Distress",
            "Triumph", "Sadness", "Surprise")  # official order of data_info.csv and submissions
COUNTRIES = ("China", "South Africa", "USA", "Venezuela")  # class index 0..3 (LabelEncoder order)
SPEAKER_ATTRIBUTES = ("Country", "Age")
KEYS = ("File_ID", "Split", "Subject_ID")


@dataclass(frozen=True)
class ExVoTable:
    """A validated ``data_info.csv``: one row per vocal burst, in file order."""

    source: Path
    file_ids: list[str]  # exactly as written, e.g. "[58712]"
    paths: list[Path]
    speakers: list[str]
    splits: np.ndarray  # object: "train" | "val" | "test"
    emotions: np.ndarray  # (N, len(targets)) float64 in targets order; NaN rows where unlabelled
    age: np.ndarray  # (N,) float64; NaN where unlabelled (always without speaker attributes)
    country: np.ndarray  # (N,) int64 index into COUNTRIES; -1 where unlabelled (or not read)
    labelled: np.ndarray  # (N,) bool
    targets: tuple[str, ...] = EMOTIONS  # the column names of ``emotions``

    def __len__(self) -> int:
        return len(self.file_ids)

    def _take(self, keep: np.ndarray) -> "ExVoTable":
        keep = np.flatnonzero(keep)
        return dataclasses.replace(
            self, file_ids=[self.file_ids[i] for i in keep], paths=[self.paths[i] for i in keep],
            speakers=[self.speakers[i] for i in keep], splits=self.splits[keep],
            emotions=self.emotions[keep], age=self.age[keep], country=self.country[keep],
            labelled=self.labelled[keep])

    def subset(self, split: str) -> "ExVoTable":
        """The rows of one split (train / val / test), in file order."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self._take(self.splits == split)

    def labelled_only(self) -> "ExVoTable":
        return self._take(self.labelled)

    def counts(self) -> dict[str, int]:
        """Rows per split; ``test`` counts every Test row, ``test_unlabelled`` those without labels."""
        out = {s: int((self.splits == s).sum()) for s in SPLITS}
        out["test_unlabelled"] = int(((self.splits == "test") & ~self.labelled).sum())
        return out


def _check_targets(targets: Sequence[str], speaker_attributes: bool) -> tuple[str, ...]:
    if isinstance(targets, str):
        raise TypeError(f"targets must be a sequence of column names, not the string {targets!r}")
    names = tuple(targets)
    if not names:
        raise ValueError("targets must name at least one column")
    if not all(isinstance(t, str) and t.strip() == t and t for t in names):
        raise ValueError(f"targets must be non-empty column names without outer spaces: {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"targets name a column twice: {names}")
    reserved = KEYS + (SPEAKER_ATTRIBUTES if speaker_attributes else ())
    clash = [t for t in names if t in reserved]
    if clash:
        raise ValueError(f"targets {clash} are not intensity columns (reserved: {reserved})")
    return names


def read_data_info(path: str | Path, audio_root: str | Path, audio_ext: str = ".wav",
                   allow_speaker_overlap: bool = False, check_audio: bool = True, *,
                   targets: Sequence[str] = EMOTIONS,
                   speaker_attributes: bool = True) -> ExVoTable:
    """Read and validate ``data_info.csv`` against the audio under ``audio_root``.

    ``targets``: the intensity columns read, in this order, into ``emotions``, each a number in
    [0, 1] (default :data:`EMOTIONS`). ``speaker_attributes=False``: ``Country`` and ``Age`` are
    neither required nor read (``age`` all NaN, ``country`` all -1), and a row is labelled when
    its target columns are filled. The reading is :func:`corpora.target_table.read_table`'s
    with HUME-VB's columns declared as targets (:func:`hume_vb_specs`).
    """
    targets = _check_targets(targets, speaker_attributes)
    table = read_table(path, audio_root, hume_vb_specs(targets, speaker_attributes),
                       TableLayout(audio_ext=audio_ext), allow_speaker_overlap, check_audio)
    n = len(table)
    return ExVoTable(table.source, table.file_ids, table.paths, table.speakers, table.splits,
                     table.values["emotion"],
                     table.values["age"][:, 0] if speaker_attributes else np.full(n, np.nan),
                     table.values["country"] if speaker_attributes
                     else np.full(n, -1, dtype=np.int64), table.labelled, targets)


def hume_vb_specs(targets: Sequence[str] = EMOTIONS,
                  speaker_attributes: bool = True) -> list[ColumnSpec]:
    """HUME-VB's labels as targets: country (a name, any case, or its index, checked against
    ``Country_string``), age in (0, 120) years, and the intensities in [0, 1]."""
    attributes = [
        ColumnSpec("country", "categorical", ("Country",), COUNTRIES, indices=True,
                   names_column="Country_string"),
        ColumnSpec("age", "numbers", ("Age",), low=0.0, high=120.0, open_range=True),
    ] if speaker_attributes else []
    return [*attributes, ColumnSpec("emotion", "numbers", tuple(targets), low=0.0, high=1.0)]
