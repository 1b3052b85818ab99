"""EmoGator recipe: a HUME-VB-style ``data_info.csv`` from the file names of the corpus.

File ``mp3/000001-23-2.mp3``: contributor (speaker) ``000001``, category ``23`` (01-30, the
order of ``categories`` in partitions/emogator.yaml: 23 is Romantic Love), instance ``2``. Each
file holds one vocal burst of one category, so the target is one-hot.

Writes ``<target>/data_info.csv`` with ``File_ID`` (``[000001-23-2]``), ``Split`` (Train / Val /
Test: a speaker-independent split of the contributors by the rule in partitions/emogator.yaml),
``Subject_ID`` (``Speaker_000001``) and one column per category (1.0 for the file's category,
0.0 otherwise); no ``Country`` or ``Age``. Read it with::

    read_data_info(target / "data_info.csv", source / "mp3", audio_ext=".mp3",
                   targets=CATEGORIES, speaker_attributes=False)

The audio root is ``<source>/mp3`` (read in place) and the audio extension ``.mp3``. The recipe
reads only file names, never audio. Options (``-o seed=1,,test_speakers=0.3``): ``seed`` of the
speaker shuffle, ``val_speakers`` and ``test_speakers``, the fractions of speakers in Val and Test.
"""

from __future__ import annotations

import json
import numbers
import re
from pathlib import Path

import numpy as np
import pandas as pd

from emobench.corpora import partitions
from emobench.core import io
from emobench.core.errors import LabelFileError, UserError
from emobench.core.experiment import LOG

AUDIO_DIR = "mp3"
AUDIO_EXT = ".mp3"
FILE_NAME = re.compile(r"(?P<speaker>[0-9]{6})-(?P<category>[0-9]{2})-(?P<instance>[0-9]+)"
                       + re.escape(AUDIO_EXT))
SPEC = "partitions/emogator.yaml"


def categories(spec: dict | None = None) -> list[str]:
    """The 30 category names; category code k (01-30) is ``categories()[k - 1]``."""
    names = (spec or partitions.load("emogator"))["categories"]
    if (not isinstance(names, list) or not names or len(set(names)) != len(names)
            or not all(isinstance(n, str) and n.strip() for n in names)):
        raise UserError(f"{SPEC}: categories must be a list of distinct names, got {names!r}")
    return names


def scan(audio_dir: Path, names: list[str]) -> pd.DataFrame:
    """One row per file of ``audio_dir`` (sorted by name): file id, speaker, category."""
    if not audio_dir.is_dir():
        raise UserError(f"{audio_dir}: EmoGator audio folder does not exist (expected "
                        f"<source>/{AUDIO_DIR}/NNNNNN-EE-I{AUDIO_EXT})")
    rows, problems = [], []
    for path in sorted(audio_dir.iterdir()):
        match = FILE_NAME.fullmatch(path.name)
        if not path.is_file():
            problems.append(f"{path.name}: not a file")
        elif not match:
            problems.append(f"{path.name}: not an EmoGator file name NNNNNN-EE-I{AUDIO_EXT} "
                            "(contributor, category, instance)")
        elif not 1 <= int(match["category"]) <= len(names):
            problems.append(f"{path.name}: category {match['category']} is not in "
                            f"01-{len(names):02d}")
        else:
            rows.append({"token": path.name[:-len(AUDIO_EXT)], "speaker": match["speaker"],
                         "category": names[int(match["category"]) - 1]})
    if problems:
        raise LabelFileError(audio_dir, problems)
    if not rows:
        raise UserError(f"{audio_dir}: no EmoGator files NNNNNN-EE-I{AUDIO_EXT} found")
    return pd.DataFrame(rows)


def _fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise UserError(f"EmoGator recipe: {name} must be a fraction in (0, 1), got {value!r}")
    return float(value)


def split_speakers(speakers: list[str], rule: dict, seed: int, fractions: dict[str, float]
                   ) -> dict[str, str]:
    """{speaker: Train | Val | Test} by ``rule`` (partitions/emogator.yaml ``split``)."""
    order, minimum = list(rule["order"]), int(rule["minimum_speakers"])
    if sorted(order) != ["Test", "Train", "Val"] or order[-1] != "Train":
        raise UserError(f"{SPEC}: split.order must list Test and Val, then Train: {order}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise UserError(f"EmoGator recipe: seed must be an integer in [0, 2**32), got {seed!r}")
    if sum(fractions.values()) >= 1:
        raise UserError(f"EmoGator recipe: val_speakers + test_speakers must be below 1, got "
                        f"{fractions['Val']} + {fractions['Test']}")
    speakers = sorted(speakers)
    n = len(speakers)
    if n < 3 * minimum:
        raise UserError(f"EmoGator: {n} speaker(s); a speaker-independent Train / Val / Test "
                        f"split needs at least {3 * minimum}")
    sizes = {s: max(minimum, int(np.floor(fractions[s] * n + 0.5))) for s in order[:-1]}
    while n - sum(sizes.values()) < minimum:
        largest = max(order[:-1], key=lambda s: sizes[s])  # first of the largest: Test on a tie
        sizes[largest] -= 1
    shuffled = [speakers[i] for i in np.random.RandomState(int(seed)).permutation(n)]
    split_of, start = {}, 0
    for split in order[:-1]:
        split_of.update({s: split for s in shuffled[start:start + sizes[split]]})
        start += sizes[split]
    split_of.update({s: order[-1] for s in shuffled[start:]})
    return split_of


def prepare(source: Path, target: Path, seed: int = 0, val_speakers: float = 0.2,
            test_speakers: float = 0.2, emotion: bool = False) -> list[Path]:
    """Write ``<target>/data_info.csv`` for the corpus at ``source`` (audio in ``source/mp3``);
    with ``emotion=true`` also the same rows and split in the emotion task's label format,
    ``<target>/emotion/`` (``config.json``, ``labels_consensus_1.csv``; one-hot labels), e.g. as
    a cross-corpus target (docs/serab.md)."""
    source, target = Path(source), Path(target)
    fractions = {"Val": _fraction("val_speakers", val_speakers),
                 "Test": _fraction("test_speakers", test_speakers)}
    if not source.is_dir():
        raise UserError(f"EmoGator source {source} is not a folder")
    spec = partitions.load("emogator")
    names = categories(spec)
    audio_dir = source / AUDIO_DIR
    table = scan(audio_dir, names)
    split_of = split_speakers(sorted(set(table["speaker"])), spec["split"], seed, fractions)

    frame = pd.DataFrame({"File_ID": "[" + table["token"] + "]",
                          "Split": table["speaker"].map(split_of),
                          "Subject_ID": "Speaker_" + table["speaker"]})
    onehot = np.eye(len(names))[[names.index(c) for c in table["category"]]]
    frame = frame.join(pd.DataFrame(onehot, columns=names))
    path = io.write_text(target / "data_info.csv", frame.to_csv(index=False))
    written = [path]
    if emotion:
        written += write_emotion_format(target / "emotion", table, frame, names, audio_dir)

    order = spec["split"]["order"][::-1]  # Train, Val, Test
    speakers = {s: sum(v == s for v in split_of.values()) for s in order}
    rows = frame["Split"].value_counts()
    LOG.info("%s: %d files of %d speakers; speakers %s, files %s (seed %s, val_speakers %g, "
             "test_speakers %g); audio root %s, extension %s", path, len(frame), len(split_of),
             " / ".join(f"{s} {speakers[s]}" for s in order),
             " / ".join(f"{s} {int(rows.get(s, 0))}" for s in order), seed, fractions["Val"],
             fractions["Test"], audio_dir.resolve(), AUDIO_EXT)
    return written


EMOTION_SPLITS = {"train": "Train", "dev": "Val", "test": "Test"}


def write_emotion_format(folder: Path, table: pd.DataFrame, frame: pd.DataFrame,
                         names: list[str], audio_dir: Path) -> list[Path]:
    """The rows of ``data_info.csv`` as an emotion-task label folder (fold 1)."""
    config = {"data_split_type": EMOTION_SPLITS, "categorical": {"emo_type": names},
              "description": f"EmoGator - {len(names)} vocal-burst categories (one-hot)",
              "audio_root": str(audio_dir.resolve())}
    labels = frame[["Split", *names]].rename(columns={"Split": "Split_Set"})
    labels.insert(0, "FileName", table["token"] + AUDIO_EXT)
    labels.insert(1, "SpkrID", table["speaker"])
    return [io.write_text(folder / "config.json", json.dumps(config, indent=4) + "\n"),
            io.write_text(folder / "labels_consensus_1.csv", labels.to_csv(index=False))]
