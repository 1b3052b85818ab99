"""The vocal-burst synthesiser of the demo corpora (corpora/demo_hume_vb.py describes the
model): a band-limited pulse train with breath noise, shaped by a spectral tilt, formants, one
spectral bump per emotion scaled by its intensity, distractor bumps and an age-dependent
aspiration band, under a pulsing envelope over a noise floor. Pure numpy; deterministic for a
given random generator."""

from __future__ import annotations

import numpy as np

from emobench.corpora.voice_source import voiced_source

SAMPLE_RATE = 16000
DURATION_RANGE = (0.6, 1.8)

# Centre (Hz) of each emotion's spectral bump, in the demo's emotion order.
CENTRES = np.array([750.0, 2642.0, 1408.0, 4958.0, 3620.0, 548.0, 6792.0, 1929.0, 400.0,
                    1028.0])
BUMP_DB = 14.0
BUMP_OCTAVES = 0.15
HOARSE = np.array([5800.0])  # centre (Hz) of the age-dependent aspiration band
# Prosodic weights per emotion (in the demo's emotion order).
AROUSAL = np.array([0.2, 0.8, 0.6, -0.2, 0.7, 0.9, 0.4, 1.0, -0.7, 0.6])
BREATH = np.array([0.25, 0.0, 0.0, 0.05, 0.1, 0.0, 0.3, 0.0, 0.4, 0.05])
PITCH_RANGE = np.array([1.0, 4.0, 6.0, 0.0, 1.0, 1.0, 1.0, 4.0, 0.0, 5.0])
PULSE_RATE = np.array([-0.5, 1.5, 4.0, 0.5, 1.0, 0.0, 0.5, 0.5, -1.5, 0.0])


def bumps_db(f: np.ndarray, centres: np.ndarray, gains_db: np.ndarray,
             width: float = BUMP_OCTAVES) -> np.ndarray:
    """Sum of Gaussian bumps in log-frequency (s.d. ``width`` octaves; dB) at ``f``."""
    octaves = np.log2(np.maximum(f, 20.0)[None, :] / centres[:, None])
    return gains_db @ np.exp(-0.5 * (octaves / width) ** 2)


def synthesise(rng: np.random.Generator, intensity: np.ndarray,
               spk: dict[str, object]) -> np.ndarray:
    """One vocal burst as int16 samples (see the module docstring)."""
    sr = SAMPLE_RATE
    n = int(rng.uniform(*DURATION_RANGE) * sr)
    t = np.arange(n) / sr
    dur = n / sr
    arousal = float(AROUSAL @ intensity)
    level = 6.0 * arousal + spk["level"] + rng.normal(0.0, 2.0)
    shift = 3.0 * arousal + rng.normal(0.0, 0.7)
    span = (1.5 + float(PITCH_RANGE @ intensity)) * rng.uniform(0.7, 1.3)
    rate = float(np.clip(3.0 + PULSE_RATE @ intensity, 1.5, 8.0)) * rng.uniform(0.8, 1.2)
    breath = float(np.clip(spk["breath"] + BREATH @ intensity + rng.normal(0.0, 0.04),
                           0.02, 0.85))
    tilt = spk["tilt"] + rng.normal(0.0, 0.5)

    # Pitch contour: random knots, about two per pulse.
    k = int(np.ceil(dur * rate * 2.0)) + 2
    knots = np.linspace(0.0, dur, k)
    contour = np.interp(t, knots, rng.uniform(-1.0, 1.0, k))
    f0 = spk["f0"] * 2.0 ** ((shift + span * contour) / 12.0)
    source = voiced_source(rng, f0, sr, 7500.0, breath)

    # Spectral shape: tilt, formants, emotion and distractor bumps, 80 Hz high-pass.
    nfft = 1 << (n - 1).bit_length()
    f = np.fft.rfftfreq(nfft, 1.0 / sr)
    formants = np.append(spk["formants"], spk["f3"]) * rng.uniform(0.95, 1.05, 3)
    bands = np.array([90.0, 130.0, 180.0])[:, None]
    gains = np.array([1.0, 0.7, 0.3])[:, None]
    resonance = 0.15 + np.sum(gains / (1.0 + ((f - formants[:, None]) / bands) ** 2), axis=0)
    bump_gain = BUMP_DB * intensity * rng.uniform(0.6, 1.4, len(CENTRES))
    if "cue_gain" in spk:
        bump_gain = bump_gain * spk["cue_gain"]
    distractors = np.exp(rng.uniform(np.log(300.0), np.log(7000.0), 2))
    db = (bumps_db(f, CENTRES, bump_gain) + bumps_db(f, distractors, rng.normal(0.0, 6.0, 2))
          + bumps_db(f, HOARSE, np.array([spk["hoarse"] + rng.normal(0.0, 1.0)]), 0.08)
          - tilt * np.log2(np.maximum(f, 200.0) / 200.0))
    shape = resonance * 10.0 ** (db / 20.0) * f**2 / (f**2 + 80.0**2)
    spectra = np.fft.rfft(np.stack([source, rng.standard_normal(n)]), nfft)
    spectra *= np.stack([shape, 1.0 / (1.0 + f / 1000.0)])
    burst, floor = np.fft.irfft(spectra, nfft)[:, :n]

    # Pulsing envelope with attack and release.
    phase = 2.0 * np.pi * (rate * t + rng.uniform())
    envelope = 1.0 - rng.uniform(0.3, 0.9) * (0.5 + 0.5 * np.cos(phase))
    lead, trail = rng.uniform(0.03, 0.1, 2)
    attack, release = rng.uniform(0.02, 0.1, 2)
    gate = np.clip(np.minimum((t - lead) / attack, (dur - trail - t) / release), 0.0, 1.0)
    burst *= envelope * gate
    active = gate > 0.5
    rms = np.sqrt(np.mean(burst[active] ** 2)) if active.any() else 1.0
    burst *= 10.0 ** ((level - 22.0) / 20.0) / max(rms, 1e-9)

    floor *= 10.0 ** (rng.normal(-55.0, 3.0) / 20.0) / np.sqrt(np.mean(floor ** 2))
    out = np.tanh(burst + floor)
    return np.round(np.clip(out, -1.0, 1.0) * 32767.0).astype(np.int16)
