"""Zero-frequency filtering (ZFF; Murty & Yegnanarayana 2008, IEEE TASLP 16(8)): the
excitation-source signal of speech and its epochs (glottal closure instants), in numpy.

Definition, step by step (:func:`zff_signal`, :func:`epochs`):

1. difference the signal, ``x[n] = s[n] - s[n-1]`` (``s[-1] = 0``), to remove any DC offset;
2. pass ``x`` through a cascade of two zero-frequency resonators, each a double integration
   ``y[n] = x[n] + 2 y[n-1] - y[n-2]`` (two poles at z = 1, zero initial state);
3. remove the trend: subtract the local mean over a window of ``2N + 1`` samples (about 1-2
   average pitch periods), three times;
4. the negative-to-positive zero crossings of the result are the epochs.

Epoch polarity: the crossings of step 4 mark negative excitation impulses, as the differentiated
glottal flow has at glottal closure in speech recorded with positive pressure upwards. A train of
positive impulses ``+d[n - kP]`` gives crossings half a period away from its impulses: pass
``-s`` for signals of inverted polarity.

Timing: the resonator responds in the same sample (impulse response ``n + 1``), so the three
net integrations lead the continuous-time ones by 1.5 samples: the zero crossing of a pulse at
``k`` lies between ``k - 2`` and ``k - 1``, and its epoch index is ``k - 1``. This is the
definition's own offset (one sample, 62.5 us at 16 kHz); it is not corrected here.

Numerical care. The four integrations of step 2 are three net integrations of ``s``: a DC
offset grows like ``n**3`` (``s[n] = 1`` gives ``(n+1)(n+2)(n+3)/6``, 6.8e14 after 10 s at
16 kHz) and a zero-mean signal like ``n**2.5``, while the wanted ZFF signal is the small
difference left by the trend removal. Therefore: the signal's mean is removed before step 1
(this changes the cascade's output by a cubic polynomial only, which three trend removals
remove exactly, so the result is the definition's, with integrals ``sqrt(n)`` times smaller);
everything is float64 (measured on a speech-like 120 Hz signal: float32 integrals put an error
of 1.5 % of the ZFF signal's RMS into it after 1 s and 225 % after 10 s); the local means are
direct sums over each window (``np.convolve``), not differences of a running cumulative sum that
would be another factor ``n`` larger; and the result is checked: where float64's rounding of the
integrals (epsilon times their largest magnitude) exceeds ``1e-6`` of the ZFF signal's RMS,
:func:`zff_signal` raises a ValueError instead of returning noise (measured on the same signal:
1.4e-9 of the RMS after 10 s, 2.5e-7 after 60 s).

Edges: the trend removal needs a full window on both sides, so the first and last ``3 N``
samples (three half windows) have no ZFF value: :func:`zff_signal` sets them to 0 and
:func:`epochs` searches only between them.
"""

from __future__ import annotations

import numpy as np

PASSES = 3  # trend removals (Murty & Yegnanarayana: usually three)
PRECISION = 1e-6  # largest accepted rounding error relative to the ZFF signal's RMS
F0_RANGE = (60.0, 600.0)  # Hz, the pitch range searched by mean_pitch_period
WINDOW_PERIODS = 1.5  # trend-removal window in average pitch periods


def resonate(x: np.ndarray) -> np.ndarray:
    """One zero-frequency resonator, ``y[n] = x[n] + 2 y[n-1] - y[n-2]`` with zero initial
    state: a double integration (impulse response ``n + 1``), in float64.

    >>> resonate(np.array([1.0, 0.0, 0.0, 0.0])).tolist()
    [1.0, 2.0, 3.0, 4.0]
    >>> resonate(np.array([1.0, -1.0, 0.0])).tolist()
    [1.0, 1.0, 1.0]
    """
    return np.cumsum(np.cumsum(np.asarray(x, dtype=np.float64)))


def local_mean(y: np.ndarray, half_window: int) -> np.ndarray:
    """The mean of each full window of ``2 half_window + 1`` samples (``len(y) - 2 half_window``
    values; value ``i`` is centred on sample ``i + half_window``), summed directly per window.

    >>> local_mean(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 1).tolist()
    [2.0, 3.0, 4.0]
    """
    width = 2 * half_window + 1
    return np.convolve(y, np.ones(width), mode="valid") / width


def remove_trend(y: np.ndarray, half_window: int, passes: int = PASSES) -> np.ndarray:
    """``y`` minus its local mean, ``passes`` times; only the samples with a full window on
    both sides every time remain (``passes * half_window`` fewer at each end).

    A polynomial trend of degree up to 5 vanishes (exactly, up to rounding) in three passes:

    >>> n = np.arange(40.0)
    >>> bool(np.abs(remove_trend(n ** 3 - 2 * n ** 2 + 5, 4)).max() < 1e-9)
    True
    >>> len(remove_trend(n, 4))
    16
    """
    for _ in range(passes):
        y = y[half_window:len(y) - half_window] - local_mean(y, half_window)
    return y


def mean_pitch_period(signal: np.ndarray, sample_rate: int,
                      f0_range: tuple[float, float] = F0_RANGE) -> float | None:
    """The average pitch period in samples: the lag of the largest autocorrelation of the
    whole signal within the pitch range; None for a silent (constant) signal.

    >>> pulses = np.zeros(4000); pulses[::100] = 1.0
    >>> mean_pitch_period(pulses, 16000)
    100.0
    """
    x = np.asarray(signal, dtype=np.float64)
    x = x - x.mean()
    if not np.any(x):
        return None
    low = max(1, int(np.floor(sample_rate / f0_range[1])))
    high = min(len(x) - 1, int(np.ceil(sample_rate / f0_range[0])))
    if high <= low:
        raise ValueError(f"a signal of {len(x)} samples is too short to hold a pitch period "
                         f"of {f0_range[0]:g}-{f0_range[1]:g} Hz at {sample_rate} Hz")
    size = 1 << int(np.ceil(np.log2(2 * len(x))))
    spectrum = np.fft.rfft(x, size)
    autocorrelation = np.fft.irfft(spectrum * np.conj(spectrum), size)[:high + 1]
    return float(low + np.argmax(autocorrelation[low:high + 1]))


def half_window_of(signal: np.ndarray, sample_rate: int, window_ms: float | None) -> int:
    """``N`` of the trend-removal window ``2N + 1``: ``window_ms`` milliseconds, or (None)
    :data:`WINDOW_PERIODS` average pitch periods of the signal (10 ms when it is silent).

    >>> half_window_of(np.zeros(100), 16000, 10.0)
    80
    """
    if window_ms is None:
        period = mean_pitch_period(signal, sample_rate)
        width = WINDOW_PERIODS * period if period else 0.010 * sample_rate
    else:
        if window_ms <= 0:
            raise ValueError(f"ZFF trend-removal window {window_ms} ms: must be > 0")
        width = window_ms * sample_rate / 1000.0
    return max(1, int(round(width / 2)))


def filtered(signal: np.ndarray, sample_rate: int, window_ms: float | None = None,
             passes: int = PASSES) -> tuple[np.ndarray, int]:
    """:func:`zff_signal` and the number of samples at each end that have no ZFF value."""
    s = np.asarray(signal, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"ZFF needs a 1-D signal, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("ZFF needs a finite signal (it holds NaN or infinity)")
    half = half_window_of(s, sample_rate, window_ms) if len(s) > 2 else 1
    edge = passes * half
    if len(s) <= 2 * edge:
        raise ValueError(f"a signal of {len(s)} samples ({1000 * len(s) / sample_rate:.1f} ms) "
                         f"is too short for zero-frequency filtering: the trend removal needs "
                         f"more than {2 * edge} samples ({passes} passes of a "
                         f"{2 * half + 1}-sample window)")
    # the mean removed first changes the cascade's output by a cubic polynomial only, which the
    # trend removal removes exactly; it keeps the integrals n**0.5 times smaller than a DC
    # offset would make them, and a constant signal gives exactly 0
    integrated = resonate(resonate(np.diff(s - s.mean(), prepend=0.0)))
    core = remove_trend(integrated, half, passes)
    rms = float(np.sqrt(np.mean(core * core)))
    rounding = np.finfo(np.float64).eps * float(np.abs(integrated).max())
    if rounding > PRECISION * rms and rounding > 0:
        if rms == 0.0 or np.abs(core).max() < 1e4 * rounding:
            core = np.zeros_like(core)  # nothing but rounding is left: no excitation at all
        else:
            raise ValueError(f"zero-frequency filtering of {len(s)} samples is numerically "
                             f"unreliable (float64 rounding {rounding:.3g} against a ZFF signal "
                             f"of RMS {rms:.3g}): split the signal into shorter pieces")
    out = np.zeros_like(s)
    out[edge:len(s) - edge] = core
    return out, edge


def zff_signal(signal: np.ndarray, sample_rate: int, window_ms: float | None = None,
               passes: int = PASSES) -> np.ndarray:
    """The zero-frequency filtered signal (float64, same length; 0 in the ``passes * N``
    samples at each end, where no full trend window exists).

    ``window_ms``: the trend-removal window (None: 1.5 average pitch periods). A signal too
    short for the trend removal is a ValueError; silence (or a constant) gives zeros.

    >>> pulses = np.zeros(3200); pulses[::160] = -1.0
    >>> out = zff_signal(pulses, 16000, window_ms=15.0)
    >>> out.shape, float(out[0]), bool(np.abs(out[1000:2000]).max() > 0)
    ((3200,), 0.0, True)
    >>> bool(np.any(zff_signal(np.full(800, 0.3), 16000)))
    False
    """
    return filtered(signal, sample_rate, window_ms, passes)[0]


def epochs(signal: np.ndarray, sample_rate: int, window_ms: float | None = None,
           passes: int = PASSES) -> np.ndarray:
    """Epoch positions (sample indices, int64, increasing): the negative-to-positive zero
    crossings of the ZFF signal (index ``n`` with ``z[n-1] < 0 <= z[n]``), away from the edges.

    Negative pulses at 80, 240, 400, ... (every 10 ms): the first epoch after the 360-sample
    edge, each one sample early (the module's "Timing"):

    >>> pulses = np.zeros(3200); pulses[80::160] = -1.0
    >>> found = epochs(pulses, 16000, window_ms=15.0)
    >>> found[:3].tolist(), len(found)
    ([399, 559, 719], 16)
    >>> epochs(np.zeros(1600), 16000).tolist()
    []
    """
    z, edge = filtered(signal, sample_rate, window_ms, passes)
    valid = z[edge:len(z) - edge]
    crossing = np.flatnonzero((valid[:-1] < 0) & (valid[1:] >= 0)) + 1
    return (crossing + edge).astype(np.int64)
