"""The voiced source shared by the demo corpora's synthesisers (speech and vocal bursts)."""

from __future__ import annotations

import numpy as np


def voiced_source(rng: np.random.Generator, f0: np.ndarray, sr: int, max_hz: float,
                  breath: float) -> np.ndarray:
    """A band-limited pulse train following ``f0`` (Hz per sample) mixed with white noise.

    The pulses are sum_{h=1..H} cos(h*theta) in closed form, H the number of harmonics of the
    highest f0 below ``max_hz``, scaled to unit RMS; ``breath`` in [0, 1] is the share of noise.

    >>> rng = np.random.default_rng(0)
    >>> out = voiced_source(rng, np.full(1600, 120.0), 16000, 5000.0, 0.0)
    >>> out.shape, round(float(np.sqrt(np.mean(out ** 2))), 6)
    ((1600,), 1.0)
    """
    theta = 2.0 * np.pi * np.cumsum(f0) / sr
    harmonics = max(1, int(max_hz / f0.max()))
    half = np.sin(theta / 2.0)
    safe = np.where(np.abs(half) < 1e-6, 1.0, half)
    pulses = np.where(np.abs(half) < 1e-6, harmonics,
                      np.sin((harmonics + 0.5) * theta) / (2.0 * safe) - 0.5)
    voiced = pulses / np.sqrt(np.mean(pulses ** 2))
    return (1.0 - breath) * voiced + breath * 1.5 * rng.standard_normal(len(f0))
