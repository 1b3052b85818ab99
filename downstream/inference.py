"""Inference on new audio: the inputs (files or arrays) and the predictions every task returns.

A task that supports inference exposes ``infer(ctx, sources) -> Predictions`` in its module
(the run's checkpoint is ``ctx.checkpoint``). Its inputs go through exactly the preprocessing
of training and evaluation: 16 kHz mono, cut at the checkpoint's ``data.max_seconds``,
standardised by the checkpoint's training statistics (:class:`InputDataset`).
"""

from __future__ import annotations

import csv
import io as _io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from emobench.core import audio, io
from emobench.core.errors import UserError
from emobench.downstream.waveforms import Standardizer, WaveformDataset

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


@dataclass(frozen=True)
class Sources:
    """What to predict: audio files, or in-memory waveforms with their sample rate."""

    names: tuple[str, ...]  # one per input: the file's path, or "array_<i>"
    paths: tuple[Path, ...] = ()
    arrays: tuple[np.ndarray, ...] = ()
    sample_rate: int | None = None  # of the arrays

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def of(cls, items: Sequence[Any], sample_rate: int | None = None) -> "Sources":
        """Paths (str / Path) or arrays (1-D samples, or samples x channels), not mixed."""
        items = list(items)
        if not items:
            raise UserError("nothing to predict: no audio given")
        is_path = [isinstance(x, (str, Path)) for x in items]
        if all(is_path):
            paths = tuple(Path(x).expanduser().absolute() for x in items)
            return cls(tuple(str(p) for p in paths), paths=paths)
        if any(is_path):
            raise UserError("give either audio file paths or waveform arrays, not both")
        if sample_rate is None:
            raise UserError("waveform arrays need their sample_rate")
        arrays = tuple(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
                       for x in items)
        for i, a in enumerate(arrays):
            if a.ndim not in (1, 2) or a.shape[0] == 0:
                raise UserError(f"array {i}: expected samples or samples x channels, got shape "
                                f"{tuple(a.shape)}")
            if not np.isfinite(a).all():
                raise UserError(f"array {i}: holds NaN or infinite samples")
        return cls(tuple(f"array_{i}" for i in range(len(arrays))), arrays=arrays,
                   sample_rate=int(sample_rate))

    def dataset(self, max_seconds: float | None, standardizer: Standardizer) -> "InputDataset":
        return InputDataset(self, max_seconds, standardizer)


class InputDataset(WaveformDataset):
    """The sources as a waveform dataset: files are read as every task reads them
    (:func:`emobench.core.audio.load`), arrays go through the same steps
    (:func:`emobench.core.audio.prepare`)."""

    def __init__(self, sources: Sources, max_seconds: float | None, standardizer: Standardizer):
        paths = sources.paths or [Path(n) for n in sources.names]
        super().__init__(paths, max_seconds, standardizer, preload=False, source="inference")
        self.sources = sources

    def raw(self, index: int) -> torch.Tensor:
        if self.sources.paths:
            return super().raw(index)
        assert self.sources.sample_rate is not None
        return audio.prepare(self.sources.arrays[index], self.sources.sample_rate,
                             audio.SAMPLE_RATE, self.max_seconds)


def audio_files(spec: str | Path) -> list[Path]:
    """``--audio``: one audio file, a folder (its audio files, recursively, sorted) or a text
    file listing one path per line (relative to the list's folder; blank lines and ``#``
    comments skipped). Every missing file is named."""
    spec = Path(spec).expanduser()
    if spec.is_dir():
        found = sorted(p for p in spec.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not found:
            raise UserError(f"--audio {spec}: the folder holds no audio files "
                            f"({', '.join(AUDIO_SUFFIXES)})")
        return found
    if not spec.is_file():
        raise UserError(f"--audio {spec}: no such file or folder")
    if spec.suffix.lower() != ".txt":
        return [spec]
    files, missing = [], []
    for number, line in enumerate(spec.read_text(encoding="utf-8").splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry).expanduser()
        path = path if path.is_absolute() else spec.parent / path
        (files if path.is_file() else missing).append(path if path.is_file() else
                                                      f"{spec}:{number}: {entry}")
    if missing:
        raise UserError(f"--audio {spec}: {len(missing)} listed file(s) do not exist: "
                        + "; ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else ""))
    if not files:
        raise UserError(f"--audio {spec}: the list names no audio file")
    return files


@dataclass
class Predictions:
    """Per input: the predicted label of each categorical target and every probability or
    value, as named columns."""

    names: list[str]
    labels: dict[str, list[str]] = field(default_factory=dict)  # target -> predicted label
    values: dict[str, np.ndarray] = field(default_factory=dict)  # column -> (N,) numbers
    info: dict[str, Any] = field(default_factory=dict)  # task, checkpoint, notes

    def rows(self) -> list[dict[str, Any]]:
        return [{"file": name, **{f"predicted_{t}": v[i] for t, v in self.labels.items()},
                 **{c: float(v[i]) for c, v in self.values.items()}}
                for i, name in enumerate(self.names)]

    def csv_text(self, digits: int = 6) -> str:
        """One row per input: file, ``predicted_<target>`` labels, then every column."""
        buffer = _io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["file", *[f"predicted_{t}" for t in self.labels], *self.values])
        for i, name in enumerate(self.names):
            writer.writerow([name, *[v[i] for v in self.labels.values()],
                             *[f"{float(v[i]):.{digits}f}" for v in self.values.values()]])
        return buffer.getvalue()

    def to_csv(self, path: str | Path) -> Path:
        return io.write_text(Path(path), self.csv_text())


def class_columns(target: str | None, classes: Sequence[str], probs: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """``prob_<class>`` (one target) or ``<target>_prob_<class>`` columns of ``(N, C)``."""
    prefix = f"{target}_prob_" if target else "prob_"
    return {f"{prefix}{c}": probs[:, k] for k, c in enumerate(classes)}
