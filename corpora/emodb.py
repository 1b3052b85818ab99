"""EmoDB recipe: label files in EMO-SUPERB's format from the file names of the corpus.

File ``03a01Fa.wav``: speaker ``03``, text ``a01``, emotion code ``F`` (6th character),
version ``a``. EmoDB has one acted emotion per file and no per-listener votes
(``erkennung.txt`` gives only the share of listeners who recognised the acted emotion), so the
label is the acted emotion as a one-hot vote smoothed like EMO-SUPERB's (0.95 / 0.05 / (C-1)).

Writes ``<target>/<condition>/config.json`` and ``labels_consensus_<fold>.csv`` for every
condition of partitions/emodb.yaml (SERAB's split; five speaker folds). The audio root is the
corpus's ``wav/`` folder, which is read in place.

With ``multitask=true`` it also writes, per condition and fold, a table for the multitask task
(``<target>/multitask/<condition>_<fold>.csv``: ``FileName, Split_Set, SpkrID, emotion,
Gender, Age``; configs/multitask/emodb.yaml): the acted emotion, and the speaker's sex and age
from the corpus documentation (:data:`SPEAKER_AGES`; sex from partitions/emodb.yaml).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from emobench.corpora import partitions
from emobench.core import io
from emobench.core.errors import UserError
from emobench.core.experiment import LOG
from emobench.corpora.emotion_labels import smooth

CODES = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy",
         "T": "sad", "N": "neutral"}
CLASSES = list(CODES.values())
# Age in years at recording of every speaker, from the EmoDB documentation (Burkhardt et al.
# 2005, the corpus's speaker page): 03 male 31, 08 female 34, 09 female 21, 10 male 32,
# 11 male 26, 12 male 30, 13 female 32, 14 female 35, 15 male 25, 16 female 31.
SPEAKER_AGES = {"03": 31, "08": 34, "09": 21, "10": 32, "11": 26, "12": 30, "13": 32,
                "14": 35, "15": 25, "16": 31}
SPLIT_NAMES = {"train": "Train", "dev": "Development", "test": "Test"}
MULTITASK_COLUMNS = ("FileName", "Split_Set", "SpkrID", "emotion", "Gender", "Age")


def scan(wav_dir: Path, speakers: dict[str, str]) -> pd.DataFrame:
    rows, problems = [], []
    for path in sorted(wav_dir.glob("*.wav")):
        name = path.name
        speaker, code = name[:2], name[5:6]
        if len(name) != 11 or code not in CODES or speaker not in speakers:
            problems.append(f"{path}: not an EmoDB file name (speaker, text, emotion, version)")
            continue
        rows.append({"FileName": name, "SpkrID": speaker, "Gender": speakers[speaker],
                     "emotion": CODES[code]})
    if problems:
        raise UserError("\n".join(problems[:20]) + (f"\n... {len(problems)} in all"
                                                    if len(problems) > 20 else ""))
    if not rows:
        raise UserError(f"{wav_dir}: no EmoDB .wav files found")
    return pd.DataFrame(rows)


def prepare(source: Path, target: Path, multitask: bool = False) -> list[Path]:
    wav_dir = source / "wav" if (source / "wav").is_dir() else source
    spec = partitions.load("emodb")
    speakers = {str(k): v for k, v in spec["units"].items()}
    table = scan(wav_dir, speakers)
    labels = smooth(np.eye(len(CLASSES))[[CLASSES.index(e) for e in table["emotion"]]])
    base = table[["FileName"]].join(pd.DataFrame(labels, columns=CLASSES))
    base[["SpkrID", "Gender"]] = table[["SpkrID", "Gender"]]

    written = []
    for condition, rule in spec["conditions"].items():
        folder = target / condition
        config = {"data_split_type": SPLIT_NAMES, "categorical": {"emo_type": CLASSES},
                  "dimensional": {"max_score": 1, "min_score": 0},
                  "description": f"EmoDB {condition} - {len(CLASSES)} classes (acted labels)",
                  "audio_root": str(wav_dir.resolve())}
        written.append(io.write_text(folder / "config.json", json.dumps(config, indent=4) + "\n"))
        for fold, frame in partitions.fold_frames(base, rule, f"partitions/emodb.yaml {condition}",
                                                  "speakers", SPLIT_NAMES).items():
            got = frame["Split_Set"].value_counts().to_dict()
            path = folder / f"labels_consensus_{fold}.csv"
            written.append(io.write_text(path, frame.to_csv(index=False, float_format="%.6g")))
            LOG.info("%s: %s", path, got)
            if multitask:
                path = target / "multitask" / f"{condition}_{fold}.csv"
                extra = table.assign(Split_Set=frame["Split_Set"],
                                     Age=table["SpkrID"].map(SPEAKER_AGES))
                written.append(io.write_text(path, extra[list(MULTITASK_COLUMNS)].to_csv(
                    index=False)))
    return written
