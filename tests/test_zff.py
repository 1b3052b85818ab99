"""Zero-frequency filtering (upstream/zff.py) recovers the epochs of synthetic voiced signals
whose excitation instants are known; edge cases give zeros or a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from emobench.upstream import zff

FS = 16_000


def pulse_train(seconds: float, period: int, first: int, sign: float = -1.0) -> tuple:
    signal = np.zeros(int(seconds * FS))
    positions = np.arange(first, len(signal), period)
    signal[positions] = sign
    return signal, positions


def resonance(excitation: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    """A two-pole resonator (a formant) excited by ``excitation``."""
    r, theta = np.exp(-np.pi * bandwidth / FS), 2 * np.pi * freq / FS
    a1, a2 = 2 * r * np.cos(theta), -r * r
    out = np.zeros_like(excitation)
    for n in range(len(excitation)):
        out[n] = excitation[n] + a1 * (out[n - 1] if n else 0.0) + a2 * (out[n - 2] if n > 1 else 0.0)
    return out


def glottal_flow_derivative(seconds: float, period: int, first: int) -> tuple:
    """Rosenberg glottal pulses (opening 40 %, closing 16 % of the period), differentiated:
    the sharp negative peak at each closure instant is the excitation."""
    n_open, n_close = int(0.4 * period), int(0.16 * period)
    t_open, t_close = np.arange(n_open), np.arange(n_close)
    pulse = np.concatenate([0.5 * (1 - np.cos(np.pi * t_open / n_open)),
                            np.cos(np.pi * t_close / (2 * n_close))])
    flow = np.zeros(int(seconds * FS))
    closures = []
    for start in range(first, len(flow) - len(pulse), period):
        flow[start:start + len(pulse)] = pulse
        closures.append(start + len(pulse))  # the flow has just returned to 0
    return np.diff(flow, prepend=0.0), np.array(closures)


def in_valid(positions: np.ndarray, length: int, half: int) -> np.ndarray:
    edge = zff.PASSES * half
    return positions[(positions >= edge) & (positions < length - edge)]


@pytest.mark.parametrize("f0", [100, 125, 200, 250])
def test_pulse_train_epochs_are_its_pulses(f0):
    period = FS // f0
    signal, pulses = pulse_train(1.0, period, first=37)
    assert zff.mean_pitch_period(signal, FS) == period
    half = zff.half_window_of(signal, FS, None)  # 1.5 estimated periods
    expected = in_valid(pulses, len(signal), half)
    found = zff.epochs(signal, FS)
    assert len(found) == len(expected)  # one epoch per pulse, no spurious one
    offsets = found - expected
    assert np.abs(offsets).max() <= 1  # the definition's one-sample lead (module docstring)
    assert set(offsets.tolist()) == {-1}


def test_positive_pulses_give_crossings_half_a_period_away():
    signal, pulses = pulse_train(0.5, 160, first=40, sign=+1.0)
    found = zff.epochs(signal, FS, window_ms=15.0)
    nearest = np.abs(found[:, None] - pulses[None, :]).min(axis=1)
    assert np.abs(nearest - 80).max() <= 1
    inverted = zff.epochs(-signal, FS, window_ms=15.0)
    assert np.abs(inverted[:, None] - pulses[None, :]).min(axis=1).max() <= 1


@pytest.mark.parametrize("f0", [110, 160, 220])
def test_excited_resonance_epochs_are_the_glottal_closures(f0):
    period = FS // f0
    excitation, closures = glottal_flow_derivative(1.5, period, first=101)
    voiced = resonance(excitation, 700.0, 90.0) + 0.4 * resonance(excitation, 1800.0, 150.0)
    voiced += 1e-3 * np.random.default_rng(0).standard_normal(len(voiced)) + 0.02  # noise, DC
    half = zff.half_window_of(voiced, FS, None)
    found = zff.epochs(voiced, FS)
    distance = np.abs(found[:, None] - closures[None, :])
    assert distance.min(axis=1).max() <= 2  # every epoch is within 2 samples of a closure
    nearest = distance.argmin(axis=1)
    assert len(set(nearest.tolist())) == len(found)  # ... of a different closure each
    edge = zff.PASSES * half
    inner = closures[(closures >= edge + 2) & (closures < len(voiced) - edge - 2)]
    assert set(inner.tolist()) <= set(closures[nearest].tolist())  # and none is missed


def test_window_given_in_milliseconds_and_estimated_agree_on_a_clean_train():
    signal, _ = pulse_train(0.6, 128, first=5)
    np.testing.assert_array_equal(zff.epochs(signal, FS), zff.epochs(signal, FS, window_ms=12.0))


def test_silence_and_constants_give_zeros_and_no_epochs():
    for signal in (np.zeros(8000), np.full(8000, 0.25)):
        assert not np.any(zff.zff_signal(signal, FS))
        assert zff.epochs(signal, FS).size == 0
    assert zff.mean_pitch_period(np.zeros(8000), FS) is None


def test_short_and_malformed_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="too short for zero-frequency filtering"):
        zff.zff_signal(np.random.default_rng(0).standard_normal(200), FS, window_ms=10.0)
    with pytest.raises(ValueError, match="too short"):
        zff.epochs(np.ones(2), FS)
    with pytest.raises(ValueError, match="1-D"):
        zff.zff_signal(np.zeros((2, 4000)), FS)
    with pytest.raises(ValueError, match="finite"):
        zff.zff_signal(np.array([0.0, np.nan] * 2000), FS)
    with pytest.raises(ValueError, match="must be > 0"):
        zff.zff_signal(np.zeros(4000), FS, window_ms=0.0)


def test_float64_keeps_ten_seconds_exact_where_float32_would_not():
    signal, pulses = pulse_train(10.0, 128, first=64)
    signal = signal + 0.01 * np.random.default_rng(1).standard_normal(len(signal)) + 0.1
    z = zff.zff_signal(signal.astype(np.float32), FS, window_ms=12.0)  # float32 in, float64 math
    head = zff.zff_signal(signal[:FS].astype(np.float32), FS, window_ms=12.0)
    # the first second is the same whether or not 9 more seconds follow (up to rounding)
    edge = zff.PASSES * zff.half_window_of(signal, FS, 12.0)
    np.testing.assert_allclose(z[edge:FS - edge], head[edge:FS - edge], rtol=0,
                               atol=1e-6 * np.abs(head).max())
    found = zff.epochs(signal, FS, window_ms=12.0)
    assert len(found) == len(in_valid(pulses, len(signal), edge // zff.PASSES))
