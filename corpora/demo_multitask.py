"""Deterministic synthetic corpora for the generic multitask task (``-d multitask --demo``),
built from the vocal bursts of :mod:`emobench.corpora.demo_hume_vb` (same speakers, same
synthesiser, same seeds), with other labels and layouts. Same seed, same bytes.

``demo_dimensional`` (IS25-style: MSP-Podcast's columns)
    ``labels.csv``: ``FileName`` (``<Subject>/<id>.wav``, audio in speaker subfolders of
    ``audio/``), ``Split_Set`` (Train / Development / Test), ``SpkrID``, ``EmoAct``,
    ``EmoVal``, ``EmoDom`` on a 1-7 scale, ``Gender`` (Female / Male). Arousal, valence and
    dominance are weighted sums of the burst's ten intensities (:data:`DIMENSIONS`): arousal
    through loudness and pitch (the synthesiser's arousal cue), valence and dominance through
    the emotions' spectral cues; then ``4 + 3 tanh(z)`` with rater noise (0.25 s.d.), two
    decimals. Gender is the speaker's (female voices about 9 semitones higher).
``demo_vocalisation`` (a vocalisation corpus in class subfolders)
    ``vocalisations.csv``: ``path`` (``<class>/<id>.wav``), ``split`` (train / val / test),
    ``speaker``, ``class`` (the burst's primary emotion: ten classes), ``age`` (years, one
    decimal) and ``sex`` (female / male) of the speaker.

Speakers and splits are demo_hume_vb's (speaker-independent, stratified by its four voice
groups); each corpus is written in a temporary sibling and renamed into place, and reused
while its MANIFEST (version, seed, parameters, sha256 of every file) matches.
"""

from __future__ import annotations

import csv
import json
import operator
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from emobench.core.registry import Registry
from emobench.corpora import demo_hume_vb
from emobench.corpora.atomic_build import build_atomically, files_digest
from emobench.corpora.burst_synthesis import AROUSAL, SAMPLE_RATE, synthesise

VERSION = "demo_multitask-1"
EMOTIONS = demo_hume_vb.EMOTIONS
# Weights of the ten intensities (EMOTIONS order) in each dimension, before 4 + 3 tanh(z).
DIMENSIONS = {
    "EmoAct": AROUSAL * 2.0 - 0.6,
    "EmoVal": np.array([0.8, 1.4, 1.6, -0.8, -1.4, -1.6, -1.4, 1.4, -1.6, 0.3]),
    "EmoDom": np.array([-0.6, 0.8, 0.6, -1.2, -1.6, -0.8, -0.8, 1.8, -1.0, -0.4]),
}
SPLIT_NAMES = {"dimensional": {"Train": "Train", "Val": "Development", "Test": "Test"},
               "vocalisation": {"Train": "train", "Val": "val", "Test": "test"}}
TABLES = {"dimensional": "labels.csv", "vocalisation": "vocalisations.csv"}
DEMO_CORPORA = Registry("demo corpus")


def _rows(layout: str, seed: int, per_country: int, bursts: int):
    """(relative audio path, int16 samples, CSV row) of every burst."""
    voices = demo_hume_vb.speakers(seed, per_country)
    total = len(voices) * bursts
    ids = demo_hume_vb.FIRST_ID + np.random.default_rng([seed, 3]).permutation(total)
    for j in range(total):
        s, u, file_id = j // bursts, j % bursts, int(ids[j])
        spk = voices[s]
        rng = np.random.default_rng([seed, 1, s, u])
        intensity, primary = demo_hume_vb.draw_intensities(rng)
        audio = synthesise(rng, intensity, spk)
        split = SPLIT_NAMES[layout][spk["split"]]
        if layout == "dimensional":
            raters = np.random.default_rng([seed, 5, s, u]).normal(0.0, 0.25, len(DIMENSIONS))
            values = [float(np.clip(4.0 + 3.0 * np.tanh(w @ intensity) + noise, 1.0, 7.0))
                      for w, noise in zip(DIMENSIONS.values(), raters)]
            relative = f"{spk['id']}/{file_id}.wav"
            row = [relative, split, spk["id"], *(f"{v:.2f}" for v in values), spk["sex"]]
        else:
            relative = f"{EMOTIONS[primary]}/{file_id}.wav"
            row = [relative, split, spk["id"], EMOTIONS[primary], f"{spk['age']:.1f}",
                   str(spk["sex"]).lower()]
        yield relative, audio, row


HEADERS = {"dimensional": ("FileName", "Split_Set", "SpkrID", *DIMENSIONS, "Gender"),
           "vocalisation": ("path", "split", "speaker", "class", "age", "sex")}


def _write(root: Path, layout: str, seed: int, params: dict[str, int]) -> None:
    rows, names = [], []
    for relative, audio, row in _rows(layout, seed, params["speakers_per_country"],
                                      params["bursts_per_speaker"]):
        path = root / "audio" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        rows.append(row)
        names.append(f"audio/{relative}")
    with open(root / TABLES[layout], "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADERS[layout])
        writer.writerows(sorted(rows))
    names = sorted([TABLES[layout], *names])
    manifest = {"generator": __name__, "version": VERSION, "layout": layout, "seed": seed,
                "params": params, "files": names, "sha256": files_digest(root, names)}
    (root / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _reusable(root: Path, layout: str, seed: int, params: dict[str, int]) -> bool:
    try:
        manifest = json.loads((root / "MANIFEST.json").read_text())
        return (manifest.get("version") == VERSION and manifest.get("layout") == layout
                and manifest.get("seed") == seed and manifest.get("params") == params
                and manifest.get("sha256") == files_digest(root, manifest["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def build(root: str | os.PathLike, layout: str = "dimensional", seed: int = 0,
          speakers_per_country: int = 8, bursts_per_speaker: int = 16) -> Path:
    """Build (or reuse) one corpus under ``root``; the path of its table."""
    if layout not in TABLES:
        raise ValueError(f"layout {layout!r}: one of {sorted(TABLES)}")
    seed = operator.index(seed)
    if seed < 0 or speakers_per_country < 4 or bursts_per_speaker < 1:
        raise ValueError("need seed >= 0, speakers_per_country >= 4, bursts_per_speaker >= 1")
    root = Path(root).absolute()
    params = {"speakers_per_country": operator.index(speakers_per_country),
              "bursts_per_speaker": operator.index(bursts_per_speaker)}
    build_atomically(root, {"audio", TABLES[layout], "MANIFEST.json"},
                     lambda: _reusable(root, layout, seed, params),
                     lambda tmp: _write(tmp, layout, seed, params))
    return root / TABLES[layout]


def dimensional(root: str | os.PathLike, seed: int = 0) -> Path:
    return build(root, "dimensional", seed)


def vocalisation(root: str | os.PathLike, seed: int = 0) -> Path:
    return build(root, "vocalisation", seed)


DEMO_CORPORA.register("demo_dimensional", dimensional,
                      description="IS25-style arousal/valence/dominance (1-7) and gender")
DEMO_CORPORA.register("demo_vocalisation", vocalisation,
                      description="vocalisations in class subfolders: class, age, sex")
DEMO_CORPORA.register("demo_is25", "emobench.corpora.demo_is25:demo",
                      description="MSP-Podcast's layout (IS25): EmoClass with O/X, A/V/D, "
                                  "gender, transcripts; docs/is25.md")
