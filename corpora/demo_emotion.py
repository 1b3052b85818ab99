"""Deterministic synthetic emotion corpus in EMO-SUPERB's label-file format.

Used by ``--demo`` and by the tests.  No third-party audio: everything is
synthesised with numpy from ``seed``; the same seed and parameters give
byte-identical files.

Audio synthesis
    Each utterance has a latent emotion (one of :data:`CLASSES`) and an
    intensity in [0.5, 1].  An emotion profile (pitch shift and range in
    semitones, level in dB, syllable rate, breathiness, spectral tilt in
    dB/octave, formant scale) is interpolated from neutral towards the
    emotion by the intensity, then combined with per-speaker traits (base F0
    female/male, loudness, vocal-tract length, breathiness, tilt) and
    per-utterance jitter, so classes overlap.  The source is a band-limited
    pulse train (closed-form sum of harmonics) following a wandering pitch
    contour with declination, mixed with white noise (breathiness); it is
    shaped in the frequency domain by the tilt and three formant resonances,
    amplitude-modulated by a syllable-like envelope with pauses, laid over a
    faint coloured noise floor and soft-limited.  Angry: loud, high, fast,
    tense (flat tilt); happy: higher pitch, wide range, fast; sad: quiet, low,
    slow, breathy, steep tilt; neutral: mid level, flat contour.

Label simulation
    ``raters`` simulated raters each vote one class: the latent one with
    probability ``0.3 + 0.6 * intensity``, otherwise one drawn from a
    confusion row favouring plausible neighbours (angry<->happy: high arousal,
    sad<->neutral: low arousal).  Vote fractions are smoothed as in
    EMO-SUPERB (:func:`emobench.corpora.emotion_labels.smooth`) and written as soft labels.

Label conditions (folders next to ``audio/``, in the spirit of EMO-SUPERB's Primary/Secondary
label sets: same utterances, same raters, different label sets)
    ``labels/``: the four classes of :data:`CLASSES`.
    ``arousal/``: two classes ``high`` (angry + happy) and ``low`` (sad + neutral), see
    :data:`AROUSAL`.  The fraction of a class is the sum of the vote fractions of its member
    classes, taken from the same votes as ``labels/``, and is then smoothed with the same
    :func:`~emobench.corpora.emotion_labels.smooth` for C = 2: ``0.95 p + 0.05 (1 - p)``, i.e. a
    unanimous 6/6 vote gives 0.95 / 0.05 and the whole smoothing mass goes to the one other
    class, exactly as EMO-SUPERB's formula gives for two classes (each row still sums to 1).
    Smoothing acts on the 2-class fractions; it is not the sum of the smoothed 4-class labels
    (those would put 0.05 * 2/3 on the other side of a unanimous vote).  A tied vote (3 of
    6 raters each side: 15 of the 400 utterances of the default corpus, seed 0) gives
    0.5 / 0.5, a positive for neither class under EMO-SUPERB's ``y_c > 1/C`` (metrics, class
    weights); accuracy's argmax of the label takes the first class, ``high``, there.
    Both folders have the same 5 fold files with the same ``Split_Set`` assignment and their
    own ``config.json``; ``--demo`` picks one with ``data.condition`` in the config file.

Splits
    Speaker ``i`` (0-based) is Female for even ``i``, Male for odd, and in
    group ``i % 5 + 1`` (with 10 speakers: one female and one male per group).
    In ``labels_consensus_<k>.csv`` group ``k`` is Test, group ``k % 5 + 1``
    Development, the rest Train.

The corpus is built in a temporary sibling directory and renamed into place
(:mod:`emobench.corpora.atomic_build`); ``MANIFEST.json`` (version, seed,
parameters, file count, sha256 over all files) decides whether an existing
corpus may be reused.
"""

from __future__ import annotations

import csv
import json
import operator
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from emobench.corpora.atomic_build import build_atomically, files_digest
from emobench.corpora.emotion_labels import smooth
from emobench.corpora.voice_source import voiced_source

CLASSES = ("angry", "sad", "neutral", "happy")
SAMPLE_RATE = 16000
VERSION = "demo_emotion-2"  # 2: the arousal/ condition
N_FOLDS = 5
COLUMNS = ("FileName", *CLASSES, "SpkrID", "Gender", "Split_Set")
# The arousal/ condition: each class and the CLASSES it merges.
AROUSAL = {"high": ("angry", "happy"), "low": ("sad", "neutral")}
CONDITIONS = ("labels", "arousal")  # label folders of the corpus (data.condition of --demo)
_ENTRIES = {"audio", *CONDITIONS, "MANIFEST.json"}  # everything a corpus folder holds
_SPLITS = {"train": "Train", "dev": "Development", "test": "Test"}

# Per class: pitch shift (st), pitch range (st), level (dB), syllable rate (Hz),
# breathiness (noise share), spectral tilt (dB/octave), formant scale.
_PROFILES = np.array([
    [3.0, 4.0, 9.0, 5.5, 0.03, 4.0, 1.12],    # angry
    [-3.0, 1.0, -7.0, 2.5, 0.50, 18.0, 0.95],  # sad
    [0.0, 2.0, 0.0, 4.0, 0.12, 12.0, 1.00],   # neutral
    [7.0, 9.0, 3.0, 5.0, 0.15, 9.0, 1.02],    # happy
])
_NEUTRAL = CLASSES.index("neutral")
_PRIOR = np.array([0.20, 0.22, 0.34, 0.24])
# Where a rater's wrong vote goes (rows: latent class, zero diagonal).
_CONFUSION = np.array([
    [0.00, 0.15, 0.35, 0.50],  # angry -> mostly happy
    [0.10, 0.00, 0.70, 0.20],  # sad -> mostly neutral
    [0.20, 0.40, 0.00, 0.40],  # neutral -> sad or happy
    [0.45, 0.10, 0.45, 0.00],  # happy -> angry or neutral
])


def _speakers(n: int) -> list[tuple[str, str, int]]:
    """(SpkrID, Gender, group 1..5) for each speaker."""
    width = max(2, len(str(n)))
    return [(f"spk{i + 1:0{width}d}", "Female" if i % 2 == 0 else "Male", i % N_FOLDS + 1)
            for i in range(n)]


def _split_of(group: int, fold: int) -> str:
    if group == fold:
        return _SPLITS["test"]
    return _SPLITS["dev"] if group == fold % N_FOLDS + 1 else _SPLITS["train"]


def _speaker_traits(rng: np.random.Generator, gender: str) -> dict[str, float]:
    female = gender == "Female"
    return {
        "f0": rng.uniform(185.0, 235.0) if female else rng.uniform(100.0, 135.0),
        "vtl": rng.uniform(1.08, 1.20) if female else rng.uniform(0.92, 1.04),
        "level": rng.normal(0.0, 1.5),
        "breath": rng.normal(0.0, 0.04),
        "tilt": rng.normal(0.0, 1.0),
    }


def _synthesise(rng: np.random.Generator, emotion: int, intensity: float,
                spk: dict[str, float]) -> np.ndarray:
    """One vocalisation as int16 samples (see the module docstring)."""
    sr = SAMPLE_RATE
    n = int(rng.uniform(1.0, 2.5) * sr)
    t = np.arange(n) / sr
    dur = n / sr
    prof = _PROFILES[_NEUTRAL] + intensity * (_PROFILES[emotion] - _PROFILES[_NEUTRAL])
    shift, span, level, rate, breath, tilt, fscale = prof
    shift += rng.normal(0.0, 0.7)
    span *= rng.uniform(0.7, 1.3)
    rate *= rng.uniform(0.8, 1.2)
    level += spk["level"] + rng.normal(0.0, 1.5)
    breath = float(np.clip(breath + spk["breath"] + rng.normal(0.0, 0.04), 0.02, 0.8))
    tilt += spk["tilt"] + rng.normal(0.0, 1.0)

    # Pitch contour: random knots about one per syllable, plus declination.
    k = int(np.ceil(dur * rate)) + 2
    knots = np.linspace(0.0, dur, k)
    contour = np.interp(t, knots, rng.uniform(-1.0, 1.0, k)) - 0.5 * t / dur
    f0 = spk["f0"] * 2.0 ** ((shift + span * contour) / 12.0)
    source = voiced_source(rng, f0, sr, 5000.0, breath)

    # Spectral tilt, formants and an 80 Hz high-pass, applied in the frequency
    # domain (together with the colouring of the noise floor; power-of-2 FFT).
    nfft = 1 << (n - 1).bit_length()
    f = np.fft.rfftfreq(nfft, 1.0 / sr)
    formants = np.array([500.0, 1500.0, 2500.0]) * spk["vtl"] * fscale * rng.uniform(0.9, 1.1, 3)
    bands = np.array([80.0, 120.0, 160.0])[:, None]
    gains = np.array([1.0, 0.6, 0.3])[:, None]
    resonance = 0.2 + np.sum(gains / (1.0 + ((f - formants[:, None]) / bands) ** 2), axis=0)
    shape = resonance * (np.maximum(f, 200.0) / 200.0) ** (-tilt / 6.02) * f**2 / (f**2 + 80.0**2)
    spectra = np.fft.rfft(np.stack([source, rng.standard_normal(n)]), nfft)
    spectra *= np.stack([shape, 1.0 / (1.0 + f / 1000.0)])
    speech, floor = np.fft.irfft(spectra, nfft)[:, :n]

    # Syllable envelope, pauses, leading/trailing silence.
    wobble = np.interp(t, knots, rng.uniform(-1.0, 1.0, k))
    syllable = 2 * np.pi * (np.cumsum(rate * (1.0 + 0.25 * wobble)) / sr + rng.uniform())
    envelope = 0.5 - 0.5 * np.cos(syllable)
    envelope *= np.sqrt(envelope)
    lead, trail = rng.uniform(0.05, 0.15, 2)
    gate = np.clip(np.minimum(t - lead, dur - trail - t) / 0.02, 0.0, 1.0)
    for _ in range(rng.poisson(0.6 * dur * 4.0 / rate)):
        centre, width = rng.uniform(0.0, dur), rng.uniform(0.1, 0.3)
        gate *= np.clip((np.abs(t - centre) - width / 2.0) / 0.02, 0.0, 1.0)
    speech *= envelope * gate
    active = gate > 0.5
    rms = np.sqrt(np.mean(speech[active] ** 2)) if active.any() else 1.0
    speech *= 10.0 ** ((level - 26.0) / 20.0) / max(rms, 1e-9)

    floor *= 10.0 ** (rng.normal(-60.0, 3.0) / 20.0) / np.sqrt(np.mean(floor ** 2))
    out = np.tanh(speech + floor)
    return np.round(np.clip(out, -1.0, 1.0) * 32767.0).astype(np.int16)


def _latent(rng: np.random.Generator) -> tuple[int, float]:
    """Latent emotion (index into :data:`CLASSES`) and intensity: the first draws of ``rng``."""
    emotion = int(rng.choice(len(CLASSES), p=_PRIOR))
    return emotion, float(rng.uniform(0.5, 1.0))


def _votes(rng: np.random.Generator, emotion: int, intensity: float, raters: int) -> np.ndarray:
    """Vote fractions of ``raters`` simulated raters."""
    correct = 0.3 + 0.6 * intensity
    row = _CONFUSION[emotion] * (1.0 - correct)
    row[emotion] = correct
    votes = rng.choice(len(CLASSES), size=raters, p=row / row.sum())
    return np.bincount(votes, minlength=len(CLASSES)) / raters


def _utterances(params: dict[str, int]) -> Iterator[tuple[int, int, str]]:
    """(speaker index, utterance index, FileName) of every utterance."""
    per = params["utterances_per_speaker"]
    width = max(3, len(str(per)))
    for s, (spk_id, _, _) in enumerate(_speakers(params["speakers"])):
        for u in range(per):
            yield s, u, f"{spk_id}_utt{u + 1:0{width}d}.wav"


def _file_names(params: dict[str, int]) -> list[str]:
    """Every file the corpus consists of (relative, sorted), except MANIFEST.json."""
    audio = [f"audio/{name}" for _, _, name in _utterances(params)]
    labels = [f"{folder}/{name}" for folder in CONDITIONS
              for name in ("config.json", *(f"labels_consensus_{k}.csv"
                                            for k in range(1, N_FOLDS + 1)))]
    return sorted(audio + labels)


def _arousal_fractions(fractions: np.ndarray) -> np.ndarray:
    """Vote fractions of the :data:`AROUSAL` classes: sums over their member classes."""
    return np.array([sum(fractions[CLASSES.index(c)] for c in members)
                     for members in AROUSAL.values()])


def _write_condition(folder: Path, classes: Sequence[str], description: str,
                     rows: Sequence[tuple[str, list[float], str, str, int]]) -> None:
    """config.json and the fold files of one label condition."""
    folder.mkdir()
    config = {
        "data_split_type": dict(_SPLITS),
        "categorical": {"emo_type": list(classes)},
        "dimensional": {"max_score": 7, "min_score": 1},
        "description": description,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for fold in range(1, N_FOLDS + 1):
        with open(folder / f"labels_consensus_{fold}.csv", "w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(("FileName", *classes, "SpkrID", "Gender", "Split_Set"))
            for name, soft, spk_id, gender, group in sorted(rows):
                writer.writerow([name, *soft, spk_id, gender, _split_of(group, fold)])


def _write_corpus(root: Path, seed: int, params: dict[str, int]) -> dict[str, object]:
    """Write audio, label files and MANIFEST.json into ``root``; return the manifest."""
    (root / "audio").mkdir(parents=True)
    speakers = _speakers(params["speakers"])
    traits = [_speaker_traits(np.random.default_rng([seed, 0, s]), gender)
              for s, (_, gender, _) in enumerate(speakers)]
    rows: list[tuple[str, list[float], str, str, int]] = []
    arousal: list[tuple[str, list[float], str, str, int]] = []
    for s, u, name in _utterances(params):
        # Independent streams per utterance: audio/latent [seed, 1, s, u], votes [seed, 2, s, u].
        rng = np.random.default_rng([seed, 1, s, u])
        emotion, intensity = _latent(rng)
        sf.write(root / "audio" / name, _synthesise(rng, emotion, intensity, traits[s]),
                 SAMPLE_RATE, subtype="PCM_16", format="WAV")
        votes = np.random.default_rng([seed, 2, s, u])
        fractions = _votes(votes, emotion, intensity, params["raters"])
        rows.append((name, smooth(fractions).tolist(), *speakers[s]))
        arousal.append((name, smooth(_arousal_fractions(fractions)).tolist(), *speakers[s]))
    about = (f"Synthetic demo corpus (seed {seed}, {params['speakers']} speakers, "
             f"{len(rows)} utterances)")
    _write_condition(root / "labels", CLASSES, f"{about} - {len(CLASSES)} classes", rows)
    _write_condition(root / "arousal", list(AROUSAL),
                     f"{about} - {len(AROUSAL)} arousal classes: "
                     + ", ".join(f"{c} = {' + '.join(m)}" for c, m in AROUSAL.items()), arousal)
    names = _file_names(params)
    manifest: dict[str, object] = {"generator": __name__, "version": VERSION, "seed": seed,
                                   "params": params, "file_count": len(names),
                                   "sha256": files_digest(root, names)}
    (root / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _reusable(root: Path, seed: int, params: dict[str, int]) -> bool:
    """True iff ``root`` holds a complete, unmodified corpus for this seed/params/version."""
    try:
        manifest = json.loads((root / "MANIFEST.json").read_text())
        names = _file_names(params)
        return (manifest.get("version") == VERSION and manifest.get("seed") == seed
                and manifest.get("params") == params and manifest.get("file_count") == len(names)
                and manifest.get("sha256") == files_digest(root, names))
    except (OSError, ValueError, AttributeError):
        return False


def build(root: str | os.PathLike, seed: int = 0, *, speakers: int = 10,
          utterances_per_speaker: int = 40, raters: int = 6) -> Path:
    """Build (or reuse) the demo corpus under root; return the label directory ``labels/``.

    The other label conditions (:data:`CONDITIONS`) are its siblings, e.g. ``root / "arousal"``.

    An existing ``root`` is reused only if its MANIFEST matches seed, parameters
    and generator version and every file still has the recorded content;
    otherwise the corpus is rebuilt in a temporary sibling directory and renamed
    into place, so an interrupted build never leaves a half corpus behind.
    A non-empty ``root`` holding anything besides a corpus is never replaced.
    """
    seed = operator.index(seed)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if speakers < N_FOLDS or utterances_per_speaker < 1 or raters < 1:
        raise ValueError(f"need speakers >= {N_FOLDS}, utterances_per_speaker >= 1, raters >= 1")
    root = Path(root).absolute()
    params = {"speakers": speakers, "utterances_per_speaker": utterances_per_speaker,
              "raters": raters}
    build_atomically(root, _ENTRIES,
                     lambda: _reusable(root, seed, params),
                     lambda tmp: _write_corpus(tmp, seed, params))
    return root / "labels"
