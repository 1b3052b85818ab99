"""A small synthetic multitask corpus with transcripts (MSP-Podcast's layout) for the text-fusion
tests: arousal is in the audio (a tone whose pitch and loudness rise with it), valence only in
the words (positive and negative words among fillers), gender in the speaker's base pitch.

Speech alone therefore cannot predict valence; a text input that carries word identity can.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

POSITIVE = ("wonderful", "happy", "great", "lovely", "delighted", "excellent")
NEGATIVE = ("terrible", "awful", "sad", "horrible", "angry", "miserable")
FILLERS = ("the", "we", "said", "today", "about", "it", "was", "then", "really", "so")
SPLITS = (("Train", 12), ("Development", 4), ("Test", 4))


def transcript(rng: np.random.Generator, polarity: int) -> str:
    """Three sentiment words (``polarity`` in -3..3 = positives - negatives) among fillers."""
    positives = (3 + polarity) // 2
    words = [str(rng.choice(POSITIVE)) for _ in range(positives)]
    words += [str(rng.choice(NEGATIVE)) for _ in range(3 - positives)]
    words += [str(rng.choice(FILLERS)) for _ in range(int(rng.integers(2, 5)))]
    rng.shuffle(words)
    return " ".join(words).capitalize() + "."


def text_corpus(root: Path, clips: int = 10, seed: int = 0, seconds: float = 0.5) -> Path:
    """Write ``root/audio/<speaker>_<k>.wav``, ``root/transcripts/<speaker>_<k>.txt`` and
    ``root/labels.csv`` (FileName, Split_Set, SpkrID, EmoAct, EmoVal, Gender); the table."""
    rng = np.random.default_rng(seed)
    rows = []
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "transcripts").mkdir(parents=True, exist_ok=True)
    n = int(16_000 * seconds)
    t = np.arange(n) / 16_000
    speaker = 0
    for split, speakers in SPLITS:
        for _ in range(speakers):
            speaker += 1
            gender = ("Female", "Male")[speaker % 2]
            base = 180.0 if gender == "Female" else 110.0
            for k in range(clips):
                stem = f"spk{speaker:02d}_{k:02d}"
                arousal = float(rng.uniform(1.5, 6.5))
                polarity = int(rng.choice([-3, -1, 1, 3]))
                valence = float(np.clip(4.0 + 0.8 * polarity + rng.normal(0, 0.3), 1, 7))
                f0 = base * (1.0 + 0.15 * (arousal - 4.0))
                tone = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in (1, 2, 3))
                wav = (0.05 + 0.04 * arousal) * tone + 0.02 * rng.standard_normal(n)
                sf.write(root / "audio" / f"{stem}.wav", wav.astype(np.float32), 16_000)
                (root / "transcripts" / f"{stem}.txt").write_text(
                    transcript(rng, polarity) + "\n", encoding="utf-8")
                rows.append({"FileName": f"{stem}.wav", "Split_Set": split,
                             "SpkrID": f"spk{speaker:02d}", "EmoAct": f"{arousal:.3f}",
                             "EmoVal": f"{valence:.3f}", "Gender": gender})
    table = root / "labels.csv"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return table


def layer(epochs: int = 25, **model) -> dict:
    """The multitask config layer of the corpus (arousal, valence: 1 - CCC; gender: alpha 1)."""
    regression = {"kind": "regression", "range": [1, 7], "standardize": True, "loss": "ccc",
                  "metrics": ["ccc", "mae"]}
    return {
        "data": {"id_format": "path", "audio_ext": "", "id_column": "FileName",
                 "split_column": "Split_Set", "speaker_column": "SpkrID",
                 "split_names": {"train": "Train", "val": "Development", "test": "Test"}},
        "targets": [{"name": "arousal", "columns": ["EmoAct"], **regression},
                    {"name": "valence", "columns": ["EmoVal"], **regression},
                    {"name": "gender", "kind": "categorical", "columns": ["Gender"],
                     "classes": ["Female", "Male"], "weight": 1.0, "metrics": ["uar"]}],
        "selection": {"metrics": ["arousal.ccc", "valence.ccc"], "name": "ccc_mean"},
        "model": {"system": "none", "head_hidden": 32, **model},
        "train": {"epochs": epochs, "batch_size": 32, "lr": 0.003, "patience": None,
                  "loss_combination": "sum"},
    }
