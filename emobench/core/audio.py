"""Audio input: 16 kHz mono float waveforms read through soundfile, confined to a corpus root."""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.transforms as AT

from emobench.core.errors import UserError
from emobench.core.wav_check import header_problem, sample_problems

SAMPLE_RATE = 16_000


class AudioError(UserError, ValueError):
    """An audio file that cannot be used; the message names the file and the problem."""


def resolve_in_root(root: str | Path, relative: str) -> Path:
    """``root/relative``, refusing paths that escape ``root`` (absolute paths, ``..``, links).

    >>> resolve_in_root("/data/corpus", "a/b.wav").as_posix()
    '/data/corpus/a/b.wav'
    >>> resolve_in_root("/data/corpus", "../secret.wav")
    Traceback (most recent call last):
    ...
    emobench.core.audio.AudioError: path '../secret.wav' escapes the audio root /data/corpus
    """
    root_path = _resolved(os.path.abspath(root))  # absolute first: a relative root follows the cwd
    if "\x00" in relative:  # no file has such a name (and os.path would raise ValueError)
        raise AudioError(f"path {relative!r} under the audio root {root_path} holds a NUL "
                         "character")
    candidate = (root_path / relative).resolve()
    if Path(relative).is_absolute() or not candidate.is_relative_to(root_path):
        raise AudioError(f"path {relative!r} escapes the audio root {root_path}")
    return candidate


@functools.lru_cache(maxsize=64)
def _resolved(root: str) -> Path:
    """An audio root, resolved once per process (a run resolves it for every file)."""
    return Path(root).resolve()


def num_frames(path: Path) -> tuple[int, int]:
    """(number of samples, sample rate) from the file header; errors name the file."""
    info = _header(path)
    return int(info.frames), int(info.samplerate)


def _header(path: Path):
    """soundfile's header information of ``path``, after our own header checks."""
    if not path.is_file():
        raise AudioError(f"{path}: audio file does not exist")
    problem = header_problem(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    try:
        return sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{path}: unreadable audio ({exc})") from None


def inspect_file(path: Path) -> tuple[int, int, str | None]:
    """``(samples, sample rate, warning)``: :func:`num_frames`, and for float or multi-channel
    files their samples too: non-finite samples are an AudioError, near-silent or
    channel-cancelling audio a warning naming the file (docs/robustness.md)."""
    info = _header(path)
    frames, rate = int(info.frames), int(info.samplerate)
    if frames == 0 or (info.subtype not in ("FLOAT", "DOUBLE") and info.channels == 1):
        return frames, rate, None
    try:
        data = sf.read(str(path), dtype="float32", always_2d=True)[0]
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{path}: unreadable audio ({exc})") from None
    error, warning = sample_problems(data, info.subtype)
    if error:
        raise AudioError(f"{path}: {error}")
    return frames, rate, warning and f"{path}: {warning}"
@functools.lru_cache(maxsize=16)
def resampler(orig: int, new: int) -> AT.Resample:
    """torchaudio's resampler from ``orig`` to ``new`` Hz, its sinc kernel built once per pair
    (``torchaudio.functional.resample`` rebuilds it for every call); the same float32 output,
    bit for bit (tests/test_warm_run.py)."""
    return AT.Resample(orig, new, dtype=torch.float32)  # the kernel of the functional form


def load(path: Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> torch.Tensor:
    """Mono float32 waveform at ``sample_rate``: channels averaged, resampled, first ``max_seconds``.

    Only the first ``max_seconds`` (plus a few samples of resampling context) are read from disk.
    """
    try:
        with sf.SoundFile(str(path)) as f:
            native = f.samplerate
            frames = -1
            if max_seconds is not None:
                frames = math.ceil(max_seconds * native) + 64
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{path}: unreadable audio ({exc})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: audio has zero length")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: non-finite samples (NaN or inf)")
    return prepare(data, native, sample_rate, max_seconds)


def prepare(data: np.ndarray, native: int, sample_rate: int = SAMPLE_RATE,
            max_seconds: float | None = None) -> torch.Tensor:
    """What :func:`load` does after reading: ``data`` (samples, or samples x channels) at
    ``native`` Hz -> mono float32 at ``sample_rate``, first ``max_seconds``. An in-memory array
    goes through the same steps as a file (the same resampling context is read first).

    >>> prepare(np.ones((8, 2), dtype=np.float32), 16_000).tolist()[:3]
    [1.0, 1.0, 1.0]
    """
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if max_seconds is not None:  # what load reads from disk: the cut plus resampling context
        data = data[: math.ceil(max_seconds * native) + 64]
    wav = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if native != sample_rate:
        with torch.no_grad():
            wav = resampler(native, sample_rate)(wav)
    if max_seconds is not None:
        wav = wav[: int(round(max_seconds * sample_rate))]
    return wav.contiguous()
