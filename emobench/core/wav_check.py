"""Checks of an audio file before any work: its RIFF header, its samples, its channels.

soundfile reads a WAV whose data chunk is cut short as a shorter clip without a word, and a
float WAV with NaN samples as NaN; these checks find both from the file itself (docs/robustness.md).

* :func:`header_problem`: a zero-length WAV, or a data chunk that declares more bytes than the
  file holds (header only; other formats pass).
* :func:`sample_problems`: non-finite samples (an error) and near-silent or channel-cancelling
  multi-channel audio (a warning: the mono downmix is what the upstream hears).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

STREAMED = (0, 0xFFFFFFFF)  # data sizes streaming writers leave in the header (length unknown)
SILENT_PEAK = 1e-4  # a peak below this (full scale 1.0) is near silence
CANCEL_RATIO = 0.01  # downmix RMS below this fraction of the channels' RMS: channels cancel
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


def data_chunk(path: Path) -> tuple[int, int] | None:
    """``(declared data bytes, bytes present after the data header)`` of a RIFF/WAVE file;
    None for other formats or a header this parser does not understand.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "x.wav"
    ...     fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    ...     _ = p.write_bytes(b"RIFF" + struct.pack("<I", 36 + 8) + b"WAVE" + b"fmt "
    ...                       + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 8)
    ...                       + bytes(4))
    ...     data_chunk(p)
    (8, 4)
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        order = "<" if head[:4] == b"RIFF" else ">"
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            chunk_id, length = chunk[:4], struct.unpack(order + "I", chunk[4:])[0]
            if chunk_id == b"data":
                return length, size - offset - 8
            offset += 8 + length + (length & 1)
    return None


def header_problem(path: Path) -> str | None:
    """What is wrong with a WAV's data chunk, or None (also for other formats)."""
    try:
        found = data_chunk(path)
    except OSError as exc:
        return f"unreadable audio ({exc.strerror or exc})"
    if found is None:
        return None
    declared, present = found
    if declared == 0 and present == 0:
        return "zero-length WAV: audio has zero length (its data chunk holds no samples)"
    if declared in STREAMED:
        return None
    if present < declared:
        return (f"truncated WAV: the header declares {declared} bytes of audio data but the file "
                f"holds {present} ({present / declared:.0%}); re-export or re-download it")
    return None


def sample_problems(data: np.ndarray, subtype: str) -> tuple[str | None, str | None]:
    """``(error, warning)`` of decoded samples ``data`` (frames x channels).

    >>> sample_problems(np.array([[0.1], [np.nan]], dtype=np.float32), "FLOAT")[0]
    'non-finite samples (1 NaN/inf of 2): a float WAV with NaN or inf values'
    >>> stereo = np.stack([np.full(100, 0.5), np.full(100, -0.5)], axis=1)
    >>> sample_problems(stereo, "PCM_16")[1]
    'its 2 channels cancel: the mono downmix has 0.0% of their RMS (near silence)'
    >>> sample_problems(np.zeros((100, 1)), "PCM_16")[1]
    'near-silent (peak 0)'
    >>> sample_problems(np.full((100, 1), 0.5), "PCM_16")
    (None, None)
    """
    bad = int(np.size(data) - np.isfinite(data).sum()) if subtype in FLOAT_SUBTYPES else 0
    if bad:
        return (f"non-finite samples ({bad} NaN/inf of {np.size(data)}): a float WAV with NaN or "
                "inf values"), None
    if data.size == 0:
        return None, None
    mono = data.mean(axis=1)
    if data.shape[1] > 1:
        channels = float(np.sqrt(np.mean(np.square(data, dtype=np.float64))))
        downmix = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
        if channels > SILENT_PEAK and downmix < CANCEL_RATIO * channels:
            return None, (f"its {data.shape[1]} channels cancel: the mono downmix has "
                          f"{downmix / channels:.1%} of their RMS (near silence)")
    peak = float(np.abs(mono).max())
    if peak < SILENT_PEAK:
        return None, f"near-silent (peak {peak:.2g})"
    return None, None
