"""A deterministic synthetic corpus in MSP-Podcast's release layout, for the IS25 configs
(``-d multitask --demo -c configs/is25/<task>.yaml``; docs/is25.md). Same seed, same bytes.

Layout (as :mod:`emobench.corpora.msp_podcast` reads it)::

    Labels/labels_consensus.csv   FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender,
                                  Split_Set (Train / Development / Test1), sorted by FileName
    Audios/<FileName>             16 kHz mono PCM_16, one utterance of 0.6-1.8 s
    Transcripts/<stem>.txt        one UTF-8 transcript per utterance (Test3 included)
    MANIFEST.json
    prepared/                     the recipe's is25_test1.csv (written after the build)

Speakers: demo_hume_vb's voices, seven for each of its four
countries. Per country the speakers 0-3 are Train, 4 and 5 go to Development and Test1
(alternating across countries, so both hold two women and two men) and speaker 6 records the
challenge test set: files ``MSP-PODCAST_test3_<n>.wav`` (n in a seeded order) that the CSV does
not list, as in the release. One Train speaker's SpkrID is ``Unknown`` (as many are in the
release). Other files are ``MSP-PODCAST_<1000 + speaker>_<utterance>.wav``.
Every speaker records 40 utterances by default (1,120 in all; 640 Train rows): with 16 (the first
version), the fused model's 64-dimensional random text embedding overfit the 256 Train rows and
lowered the test CCC of dominance more than it raised that of valence (docs/is25.md).

Labels: every utterance draws its consensus class from :data:`CLASS_SHARES` (Neutral the
majority, Fear the rarest primary class; O = other and X = no agreement as in the release), then
latent arousal, valence and dominance around the class's centre (:data:`CENTRES`, 0.5 s.d.; an
O utterance has a random centre, an X utterance the mean of two random classes' centres). The
attributes are ``4 + 3 tanh(0.8 z)`` plus rater noise (0.3 s.d.), on [1, 7], two decimals.

What carries which signal: the audio is demo_hume_vb's burst synthesiser driven by the latent
attributes -- arousal strongly (Triumph vs Sadness intensity: loudness, pitch and their spectral
bumps), dominance moderately (Awkwardness grows as dominance falls), valence weakly (Amusement vs
Distress at a third of the strength); the transcript's words carry valence: about a third of its
6-14 words are valence words (:data:`POSITIVE`, :data:`NEGATIVE`), each positive with probability
``sigmoid(2.5 v)`` of the latent valence ``v`` and, one word in ten, of random sign; the others
are neutral filler. So text helps valence more than the audio does, and the audio carries
arousal. Gender is the speaker's (female voices about 9 semitones higher).
"""

from __future__ import annotations

import csv
import json
import operator
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from emobench.corpora import demo_hume_vb, msp_podcast
from emobench.corpora.atomic_build import build_atomically, files_digest
from emobench.corpora.burst_synthesis import SAMPLE_RATE, synthesise

VERSION = "demo_is25-1"
CODES = msp_podcast.CLASSES + msp_podcast.AMBIGUOUS  # A S H U F D C N O X
CLASS_SHARES = np.array([0.09, 0.08, 0.13, 0.05, 0.04, 0.05, 0.06, 0.24, 0.07, 0.19])
# Latent (arousal, valence, dominance) centre of each primary class (CODES order).
CENTRES = np.array([[1.0, -1.0, 0.8], [-0.9, -1.0, -0.6], [0.6, 1.1, 0.4], [1.0, 0.4, 0.0],
                    [0.8, -0.9, -0.9], [0.2, -0.9, 0.4], [-0.2, -0.7, 0.9], [-0.3, 0.1, 0.0]])
POSITIVE = ("great", "love", "wonderful", "happy", "enjoy", "amazing", "glad", "beautiful",
            "fun", "excellent")
NEGATIVE = ("terrible", "hate", "awful", "sad", "angry", "worst", "afraid", "disgusting",
            "horrible", "upset")
FILLER = ("the", "we", "talked", "about", "today", "show", "then", "really", "people", "think",
          "going", "said", "they", "and", "it", "was", "so", "a", "this", "week", "know",
          "just", "like", "time", "episode", "guest")
_E = {name: i for i, name in enumerate(demo_hume_vb.EMOTIONS)}
SPEAKERS_PER_COUNTRY = 7  # 4 Train, 1 Development, 1 Test1, 1 Test3 (see role)
ENTRIES = {"Audios", "Transcripts", "Labels", "MANIFEST.json", "prepared"}


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def role(country: int, k: int) -> str:
    """The split of speaker ``k`` of a country: Train, Development, Test1 or Test3.

    >>> [role(0, k) for k in range(7)]
    ['Train', 'Train', 'Train', 'Train', 'Development', 'Test1', 'Test3']
    >>> [role(1, k) for k in (4, 5)]
    ['Test1', 'Development']
    """
    if k < 4:
        return "Train"
    if k == 6:
        return "Test3"
    return "Development" if (k + country) % 2 == 0 else "Test1"


def latent(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """The consensus class and the latent (arousal, valence, dominance) of one utterance."""
    c = int(rng.choice(len(CODES), p=CLASS_SHARES))
    if CODES[c] == "O":
        centre = rng.normal(0.0, 0.6, 3)
    elif CODES[c] == "X":
        centre = CENTRES[rng.choice(len(CENTRES), 2, replace=False)].mean(axis=0)
    else:
        centre = CENTRES[c]
    return CODES[c], centre + rng.normal(0.0, 0.5, 3)


def intensities(rng: np.random.Generator, z: np.ndarray) -> np.ndarray:
    """The burst synthesiser's ten intensities from the latent attributes (module docstring)."""
    a, v, d = z
    values = rng.beta(1.0, 6.0, len(_E)) * 0.3
    high = _sigmoid(2.0 * a)
    values[_E["Triumph"]] = max(values[_E["Triumph"]], 0.9 * high)
    values[_E["Sadness"]] = max(values[_E["Sadness"]], 0.9 * (1.0 - high))
    values[_E["Awkwardness"]] = max(values[_E["Awkwardness"]], 0.6 * _sigmoid(-2.0 * d))
    values[_E["Amusement"]] = max(values[_E["Amusement"]], 0.3 * _sigmoid(2.0 * v))
    values[_E["Distress"]] = max(values[_E["Distress"]], 0.3 * _sigmoid(-2.0 * v))
    return np.clip(values, 0.0, 1.0)


def transcript(rng: np.random.Generator, valence: float) -> str:
    """6-14 words; about a third carry the latent valence's sign (module docstring)."""
    words = []
    for _ in range(int(rng.integers(6, 15))):
        if rng.uniform() < 1.0 / 3.0:
            positive = rng.uniform() < (0.5 if rng.uniform() < 0.1 else _sigmoid(2.5 * valence))
            words.append(str(rng.choice(POSITIVE if positive else NEGATIVE)))
        else:
            words.append(str(rng.choice(FILLER)))
    return " ".join(words).capitalize() + ".\n"


def _utterances(seed: int, per_country: int, per_speaker: int):
    """(file name, split, CSV row or None for Test3, int16 audio, transcript) of every one."""
    voices = demo_hume_vb.speakers(seed, per_country)
    challenge = [s for s in range(len(voices)) if role(s // per_country, s % per_country)
                 == "Test3"]
    numbers = 1 + np.random.default_rng([seed, 13]).permutation(len(challenge) * per_speaker)
    for s, spk in enumerate(voices):
        split = role(s // per_country, s % per_country)
        for u in range(per_speaker):
            rng = np.random.default_rng([seed, 11, s, u])
            code, z = latent(rng)
            audio = synthesise(rng, intensities(rng, z), spk)
            text = transcript(np.random.default_rng([seed, 12, s, u]), float(z[1]))
            noise = np.random.default_rng([seed, 14, s, u]).normal(0.0, 0.3, 3)
            values = np.clip(4.0 + 3.0 * np.tanh(0.8 * z) + noise, 1.0, 7.0)
            if split == "Test3":
                n = int(numbers[challenge.index(s) * per_speaker + u])
                yield f"MSP-PODCAST_test3_{n:04d}.wav", split, None, audio, text
                continue
            name = f"MSP-PODCAST_{1000 + s}_{u + 1:04d}.wav"
            speaker = "Unknown" if s == per_country + 3 else str(101 + s)
            yield name, split, [name, code, *(f"{x:.2f}" for x in values), speaker,
                                spk["sex"], split], audio, text


def _write(root: Path, seed: int, params: dict[str, int]) -> None:
    rows, names = [], []
    for folder in ("Audios", "Transcripts", "Labels"):
        (root / folder).mkdir()
    for name, _split, row, audio, text in _utterances(seed, params["speakers_per_country"],
                                                      params["utterances_per_speaker"]):
        sf.write(root / "Audios" / name, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        stem = Path(name).stem
        (root / "Transcripts" / f"{stem}.txt").write_text(text, encoding="utf-8")
        names += [f"Audios/{name}", f"Transcripts/{stem}.txt"]
        if row is not None:
            rows.append(row)
    with open(root / "Labels" / msp_podcast.LABELS, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(msp_podcast.COLUMNS)
        writer.writerows(sorted(rows))
    names = sorted([f"Labels/{msp_podcast.LABELS}", *names])
    manifest = {"generator": __name__, "version": VERSION, "seed": seed, "params": params,
                "files": names, "sha256": files_digest(root, names)}
    (root / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _reusable(root: Path, seed: int, params: dict[str, int]) -> bool:
    try:
        manifest = json.loads((root / "MANIFEST.json").read_text())
        return (manifest.get("version") == VERSION and manifest.get("seed") == seed
                and manifest.get("params") == params
                and manifest.get("sha256") == files_digest(root, manifest["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def build(root: str | os.PathLike, seed: int = 0, utterances_per_speaker: int = 40) -> Path:
    """Build (or reuse) the corpus under ``root`` (atomically; MANIFEST-checked); its root."""
    seed = operator.index(seed)
    if seed < 0 or utterances_per_speaker < 1:
        raise ValueError("need seed >= 0 and utterances_per_speaker >= 1")
    root = Path(root).absolute()
    params = {"speakers_per_country": SPEAKERS_PER_COUNTRY,
              "utterances_per_speaker": operator.index(utterances_per_speaker)}
    build_atomically(root, ENTRIES, lambda: _reusable(root, seed, params),
                     lambda tmp: _write(tmp, seed, params))
    return root


def demo(root: str | os.PathLike, seed: int = 0) -> dict[str, str]:
    """The corpus built under ``root`` and prepared by the msp_podcast recipe (labelled Test1 as
    the test split): the multitask task's data keys (table, audio root, transcripts)."""
    root = build(root, seed)
    table = msp_podcast.prepare(root, root / "prepared", test="Test1")[0]
    return {"data_info": str(table), "audio_root": str(root / msp_podcast.AUDIO_DIR),
            "transcript_dir": str(root / msp_podcast.TRANSCRIPT_DIR)}
