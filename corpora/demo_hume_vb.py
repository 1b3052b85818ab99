"""Deterministic synthetic vocal-burst corpus in HUME-VB's format (ICML ExVo 2022 multitask).

Used by ``--demo`` and by the tests.  No third-party audio: everything is
synthesised with numpy from ``seed``; the same seed and parameters give
byte-identical files.  Layout::

    root/data_info.csv     File_ID, Split, Subject_ID, Country, Age, <EMOTIONS...>
    root/wav/<id>.wav      16 kHz mono PCM_16, one burst of 0.6-1.8 s
    root/MANIFEST.json

Speakers and splits
    ``speakers_per_country`` speakers per country in :data:`COUNTRIES`;
    ``Subject_ID`` is ``Speaker_<n>`` (n = 1.. over all countries).  Speaker
    ``k`` of a country is female for even ``k``, male for odd ``k``; its age is
    uniform in [18, 39.5] years (one decimal).  Splits are speaker-independent
    and stratified by country: per country the first half of the speakers is
    ``Train``, the next quarter ``Val``, the rest ``Test`` (4/2/2 with the
    default 8), so every split holds every country.  ``File_ID`` is
    ``[<number>]`` with the numbers 10001.. assigned to the bursts in a
    seed-dependent random order (rows are sorted by it, so splits interleave).

Label simulation
    Each burst has a primary emotion (uniform) with intensity U(0.5, 1); the
    others get Beta(1, 6) * 0.5.  As in the real data some pairs co-occur: the
    partner of the primary emotion (Amusement<->Excitement, Fear<->Horror,
    Sadness<->Distress, Awe<->Surprise) gets at least U(0.25, 0.7) times the
    primary intensity in 70 % of the bursts.  Intensities are written with three
    decimals and the audio is synthesised from the written values (with
    ``idiosyncrasy > 0``: from the values before the speaker's rater offset,
    see below).

Speaker idiosyncrasies (``idiosyncrasy``, default 0.0: none; the corpus is then
byte-identical to one built before the parameter existed)
    For the ExVo few-shot track: every speaker gets a personal style that a
    speaker-independent model cannot know but a few labelled clips of the
    speaker reveal.  Drawn per speaker from a random stream of its own (all
    other draws are unchanged), with ``s = idiosyncrasy``:

    * rater offset: a vector ``o ~ N(0, s)`` (one value per emotion) added to
      every written intensity of the speaker, then clipped to [0, 1] and
      rounded to three decimals; the audio is synthesised from the intensities
      before the offset (raters perceive this speaker's bursts as more or less
      intense than the acoustics alone suggest);
    * cue gains: the speaker's emotion bumps are scaled by ``2 ** N(0, 2 s)``
      per emotion (some speakers express Fear louder, others Awe softer).

    Adding the mean residual of two labelled clips to a speaker's other
    predictions (a bias correction) recovers much of the offset; see
    tests/test_demo_hume_vb.py.  The value is recorded in the MANIFEST
    parameters only when it is non-zero.

Audio synthesis (everything the labels can be learnt from)
    * Emotions: each emotion owns a spectral region: a bump, Gaussian in
      log-frequency (0.15 octave s.d.), centred at an emotion-specific frequency
      (ten centres log-spaced between 400 Hz and 6.8 kHz, scrambled across the
      emotions), whose gain in dB is ``14 * intensity`` times a per-burst factor
      U(0.6, 1.4).  Prosody adds group cues: an arousal score (a weighted sum of
      intensities, high for Triumph/Horror/Excitement, negative for Sadness)
      raises loudness and pitch; Sadness/Distress/Awe add breathiness;
      Amusement/Excitement/Surprise/Triumph widen the pitch range; Amusement
      speeds up the laugh-like pulsing.
    * Country: every speaker of a country shares its vowel (F1, F2) and a
      spectral tilt (:data:`_COUNTRY_TIMBRE`), with per-speaker jitter (9 %
      s.d. on the formants, 0.8 dB/octave on the tilt), a gender vocal-tract
      scaling of +-5 % and per-burst jitter (formants +-5 %, tilt 0.5
      dB/octave), so countries overlap.
    * Age: an aspiration ("hoarseness") band, a narrow bump (0.08 octave s.d.)
      at 5.8 kHz, gains 1.4 dB per year above the mid-range age (1.5 dB
      per-speaker and 1 dB per-burst s.d.); F0 falls by 0.25 semitone per year
      (about 5 semitones over the range) and breathiness grows slightly.  On top
      of that each speaker has a random F0 offset (1.5 semitones s.d.) and
      gender (female F0 about 9 semitones higher), which mask the F0 cue.
    * Randomness: two distractor bumps at random frequencies with random gain
      (6 dB s.d.), random level (2 dB per speaker and per burst), tilt, formant,
      pitch and breathiness jitter per burst, and a coloured noise floor at
      about -55 dBFS.
    The source is a band-limited pulse train (closed-form sum of harmonics)
    following a wandering pitch contour, mixed with white noise (breathiness),
    shaped in the frequency domain (tilt, formants, emotion and distractor
    bumps, 80 Hz high-pass), modulated by a pulsing envelope with a short
    attack and release, laid over the noise floor and soft-limited.

The corpus is built in a temporary sibling directory and renamed into place;
``MANIFEST.json`` (version, seed, parameters, file count, sha256 over all
files) decides whether an existing corpus may be reused (the helpers are
shared with :mod:`corpora.demo_emotion`).
"""

from __future__ import annotations

import csv
import json
import operator
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from emobench.corpora.atomic_build import build_atomically, files_digest
from emobench.corpora.burst_synthesis import SAMPLE_RATE, synthesise

EMOTIONS = ("Awe", "Excitement", "Amusement", "Awkwardness", "Fear", "Horror", "Distress",
            "Triumph", "Sadness", "Surprise")
COUNTRIES = ("China", "South Africa", "USA", "Venezuela")
VERSION = "demo_hume_vb-1"
COLUMNS = ("File_ID", "Split", "Subject_ID", "Country", "Age", *EMOTIONS)
SPLITS = ("Train", "Val", "Test")
AGE_RANGE = (18.0, 39.5)
FIRST_ID = 10001
_CORPUS_ENTRIES = {"wav", "data_info.csv", "MANIFEST.json"}

_E = {name: i for i, name in enumerate(EMOTIONS)}
# Co-occurring pairs (symmetric).
_PARTNER = {_E["Amusement"]: _E["Excitement"], _E["Excitement"]: _E["Amusement"],
            _E["Fear"]: _E["Horror"], _E["Horror"]: _E["Fear"],
            _E["Sadness"]: _E["Distress"], _E["Distress"]: _E["Sadness"],
            _E["Awe"]: _E["Surprise"], _E["Surprise"]: _E["Awe"]}
# Per country: F1 (Hz), F2 (Hz), spectral tilt (dB/octave), in COUNTRIES order.
_COUNTRY_TIMBRE = np.array([
    [750.0, 1250.0, 6.0],    # China
    [450.0, 2100.0, 7.5],    # South Africa
    [600.0, 1700.0, 5.0],    # USA
    [360.0, 950.0, 7.0],     # Venezuela
])
_MID_AGE = sum(AGE_RANGE) / 2.0


def _check(seed: int, speakers_per_country: int, bursts_per_speaker: int) -> None:
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if speakers_per_country < 3 or bursts_per_speaker < 1:
        raise ValueError("need speakers_per_country >= 3 (one per split) and "
                         "bursts_per_speaker >= 1")


def split_of(k: int, speakers_per_country: int) -> str:
    """Split of the ``k``-th (0-based) speaker of a country: half Train, a quarter Val/Test."""
    held = max(1, speakers_per_country // 4)
    train = speakers_per_country - 2 * held
    return "Train" if k < train else "Val" if k < train + held else "Test"


def speakers(seed: int, per_country: int) -> list[dict[str, object]]:
    """Subject_ID, country, split, age, sex and voice traits of every speaker."""
    out = []
    for c, country in enumerate(COUNTRIES):
        for k in range(per_country):
            s = c * per_country + k
            rng = np.random.default_rng([seed, 0, s])
            female = k % 2 == 0
            age = round(float(rng.uniform(*AGE_RANGE)), 1)
            f1, f2, tilt = _COUNTRY_TIMBRE[c]
            vtl = (1.05 if female else 0.95) * 2.0 ** rng.normal(0.0, 0.02)
            older = age - _MID_AGE
            semitones = -0.25 * older + rng.normal(0.0, 1.5)
            out.append({
                "id": f"Speaker_{s + 1}", "country": country, "age": age,
                "sex": "Female" if female else "Male",
                "split": split_of(k, per_country),
                "f0": (210.0 if female else 125.0) * 2.0 ** (semitones / 12.0),
                "formants": np.array([f1, f2]) * vtl * np.exp(rng.normal(0.0, 0.09, 2)),
                "f3": 2700.0 * vtl * np.exp(rng.normal(0.0, 0.04)),
                "tilt": tilt + rng.normal(0.0, 0.8),
                "breath": 0.12 + 0.004 * older + rng.normal(0.0, 0.04),
                "hoarse": 1.4 * older + rng.normal(0.0, 1.5),
                "level": rng.normal(0.0, 2.0),
            })
    return out


def _idiosyncrasies(seed: int, speakers: list[dict[str, object]], scale: float) -> None:
    """Add each speaker's rater offset and cue gains (module docstring) to its dict, in place.

    Drawn from a stream of their own (``[seed, 4, s]``) so that the other draws stay unchanged.
    """
    for s, spk in enumerate(speakers):
        rng = np.random.default_rng([seed, 4, s])
        spk["offset"] = rng.normal(0.0, scale, len(EMOTIONS))
        spk["cue_gain"] = 2.0 ** rng.normal(0.0, 2.0 * scale, len(EMOTIONS))


def draw_intensities(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The ten intensities of one burst (three decimals, see the module docstring) and the
    index of its primary emotion."""
    values = rng.beta(1.0, 6.0, len(EMOTIONS)) * 0.5
    primary = int(rng.integers(len(EMOTIONS)))
    values[primary] = rng.uniform(0.5, 1.0)
    partner, share, together = _PARTNER.get(primary), rng.uniform(0.25, 0.7), rng.uniform()
    if partner is not None and together < 0.7:
        values[partner] = max(values[partner], share * values[primary])
    return np.round(np.clip(values, 0.0, 1.0), 3), primary


def _bursts(seed: int, params: dict[str, object]) -> Iterator[tuple[int, int, int]]:
    """(speaker index, burst index, numeric File_ID) of every burst."""
    per = params["bursts_per_speaker"]
    total = len(COUNTRIES) * params["speakers_per_country"] * per
    ids = FIRST_ID + np.random.default_rng([seed, 3]).permutation(total)
    for j in range(total):
        yield j // per, j % per, int(ids[j])


def _file_names(seed: int, params: dict[str, object]) -> list[str]:
    """Every file the corpus consists of (relative, sorted), except MANIFEST.json."""
    return sorted(["data_info.csv", *(f"wav/{i}.wav" for _, _, i in _bursts(seed, params))])


def _write_corpus(root: Path, seed: int, params: dict[str, object]) -> dict[str, object]:
    """Write wav files, data_info.csv and MANIFEST.json into ``root``; return the manifest."""
    (root / "wav").mkdir(parents=True)
    voices = speakers(seed, params["speakers_per_country"])
    if params.get("idiosyncrasy", 0.0) > 0.0:
        _idiosyncrasies(seed, voices, params["idiosyncrasy"])
    rows = []
    for s, u, file_id in _bursts(seed, params):
        rng = np.random.default_rng([seed, 1, s, u])
        intensity, _ = draw_intensities(rng)
        spk = voices[s]
        sf.write(root / "wav" / f"{file_id}.wav", synthesise(rng, intensity, spk),
                 SAMPLE_RATE, subtype="PCM_16", format="WAV")
        if "offset" in spk:  # as the raters perceive this speaker: its offset on top
            intensity = np.round(np.clip(intensity + spk["offset"], 0.0, 1.0), 3)
        rows.append((file_id, [f"[{file_id}]", spk["split"], spk["id"], spk["country"],
                               f"{spk['age']:.1f}", *(f"{v:.3f}" for v in intensity)]))
    with open(root / "data_info.csv", "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(row for _, row in sorted(rows))
    names = _file_names(seed, params)
    manifest: dict[str, object] = {"generator": __name__, "version": VERSION, "seed": seed,
                                   "params": params, "file_count": len(names),
                                   "sha256": files_digest(root, names)}
    (root / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _reusable(root: Path, seed: int, params: dict[str, object]) -> bool:
    """True iff ``root`` holds a complete, unmodified corpus for this seed/params/version."""
    try:
        manifest = json.loads((root / "MANIFEST.json").read_text())
        names = _file_names(seed, params)
        return (manifest.get("version") == VERSION and manifest.get("seed") == seed
                and manifest.get("params") == params and manifest.get("file_count") == len(names)
                and manifest.get("sha256") == files_digest(root, names))
    except (OSError, ValueError, AttributeError):
        return False


def build(root: str | os.PathLike, seed: int = 0, speakers_per_country: int = 8,
          bursts_per_speaker: int = 15, idiosyncrasy: float = 0.0) -> Path:
    """Build (or reuse) the corpus under root; return the path of root/'data_info.csv'.

    ``idiosyncrasy`` (>= 0) scales the per-speaker rater offsets and cue gains (module
    docstring); 0.0 gives exactly the corpus without them.

    Audio is in ``root/'wav'/<id>.wav``.  An existing ``root`` is reused only if
    its MANIFEST matches seed, parameters and generator version and every file
    still has the recorded content; otherwise the corpus is rebuilt in a
    temporary sibling directory and renamed into place, so an interrupted build
    never leaves a half corpus behind.  A non-empty ``root`` holding anything
    besides a corpus is never replaced.
    """
    seed = operator.index(seed)
    speakers_per_country = operator.index(speakers_per_country)
    bursts_per_speaker = operator.index(bursts_per_speaker)
    idiosyncrasy = float(idiosyncrasy)
    _check(seed, speakers_per_country, bursts_per_speaker)
    if not (np.isfinite(idiosyncrasy) and idiosyncrasy >= 0.0):
        raise ValueError(f"idiosyncrasy must be a finite number >= 0, got {idiosyncrasy}")
    root = Path(root).absolute()
    params: dict[str, object] = {"speakers_per_country": speakers_per_country,
                                 "bursts_per_speaker": bursts_per_speaker}
    if idiosyncrasy > 0.0:  # absent at 0.0, so the MANIFEST of the plain corpus is unchanged
        params["idiosyncrasy"] = idiosyncrasy
    build_atomically(root, _CORPUS_ENTRIES, lambda: _reusable(root, seed, params),
                     lambda tmp: _write_corpus(tmp, seed, params))
    return root / "data_info.csv"
