"""Tiny EMO-SUPERB-format label folders for tests: config.json, labels_consensus_<fold>.csv, wavs.

``write_corpus(tmp_path)`` builds a valid fold (3 classes, 2 utterances per split, one speaker per
split) and returns its :class:`Corpus`; tests then corrupt one thing and call ``read_labels``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

CLASSES = ["Anger", "Happiness", "Neutral"]
SPLIT_NAMES = {"train": "Train", "dev": "Development", "test": "Test"}
SAMPLE_RATE = 16_000

# FileName, labels, SpkrID, Gender, Split_Set
Row = tuple[str, Sequence[object], str, str, str]

DEFAULT_ROWS: list[Row] = [
    ("s1_a.wav", [1.0, 0.0, 0.0], "spk1", "Female", "Train"),
    ("s1_b.wav", [0.5, 0.5, 0.0], "spk1", "Female", "Train"),
    ("s2_a.wav", [0.0, 1.0, 0.0], "spk2", "Male", "Development"),
    ("s2_b.wav", [0.25, 0.25, 0.5], "spk2", "Male", "Development"),
    ("s3_a.wav", [0.0, 0.0, 1.0], "spk3", "Female", "Test"),
    ("s3_b.wav", [0.2, 0.3, 0.5], "spk3", "Female", "Test"),
]


@dataclass
class Corpus:
    label_dir: Path
    audio_root: Path
    rows: list[Row]

    @property
    def csv(self) -> Path:
        return self.label_dir / "labels_consensus_1.csv"


def write_wav(path: Path, seconds: float = 0.5, seed: int = 0) -> Path:
    """``seconds`` of quiet noise as 16 kHz PCM16 (0 seconds gives a valid, empty wav)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(round(seconds * SAMPLE_RATE))
    noise = np.random.default_rng(seed).uniform(-0.1, 0.1, frames).astype(np.float32)
    sf.write(str(path), noise, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return path


def write_config(label_dir: Path, classes: Sequence[str] = CLASSES) -> Path:
    """config.json exactly as EMO-SUPERB releases it."""
    label_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "data_split_type": dict(SPLIT_NAMES),
        "categorical": {"emo_type": list(classes)},
        "dimensional": {"emo_type": ["EmoAct", "EmoVal", "EmoDom"]},
    }
    path = label_dir / "config.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def write_csv(path: Path, rows: Sequence[Row], columns: Sequence[str] = CLASSES) -> Path:
    """``FileName, <columns...>, SpkrID, Gender, Split_Set`` with one line per row."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["FileName", *columns, "SpkrID", "Gender", "Split_Set"])
        for name, labels, speaker, gender, split in rows:
            writer.writerow([name, *labels, speaker, gender, split])
    return path


def write_corpus(root: Path, rows: Sequence[Row] | None = None, *,
                 columns: Sequence[str] = CLASSES, audio: bool = True) -> Corpus:
    """A condition folder ``root/labels`` and audio under ``root/audio`` for every plain row."""
    rows = list(DEFAULT_ROWS if rows is None else rows)
    label_dir, audio_root = root / "labels", root / "audio"
    write_config(label_dir)
    write_csv(label_dir / "labels_consensus_1.csv", rows, columns)
    audio_root.mkdir(parents=True, exist_ok=True)
    if audio:
        for i, (name, *_rest) in enumerate(rows):
            if name and not name.startswith(("/", "..")):
                write_wav(audio_root / name, seed=i)
    return Corpus(label_dir, audio_root, rows)


def with_row(index: int, **change: object) -> list[Row]:
    """DEFAULT_ROWS with row ``index`` (0-based; CSV line ``index + 2``) changed."""
    rows = list(DEFAULT_ROWS)
    name, labels, speaker, gender, split = rows[index]
    fields = {"name": name, "labels": labels, "speaker": speaker, "gender": gender,
              "split": split, **change}
    rows[index] = (fields["name"], fields["labels"], fields["speaker"], fields["gender"],
                   fields["split"])
    return rows
