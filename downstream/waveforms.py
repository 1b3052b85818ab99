"""Waveform datasets shared by the tasks: 16 kHz mono, truncated, optionally standardised."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from emobench.core import audio


@dataclass(frozen=True)
class Standardizer:
    """Global mean and std of all training samples (EMO-SUPERB's waveform normalisation)."""

    mean: float = 0.0
    std: float = 1.0

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        return (wav - self.mean) / self.std


@dataclass(frozen=True)
class UtteranceStandardizer:
    """Every waveform by its own mean and std (float64 statistics; a silent one is only centred).

    What the feature cache feeds upstreams that layer-normalise each waveform themselves
    (``upstream.waveform_invariance``): their features then do not depend on the fold.

    >>> w = UtteranceStandardizer()(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    >>> round(float(w.mean()), 6), round(float(w.double().pow(2).mean()), 6)
    (0.0, 1.0)
    """

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        wide = wav.double()
        mean = wide.mean()
        std = float(((wide - mean) ** 2).mean().sqrt())
        return ((wide - mean) / (std if std > 0 else 1.0)).to(wav.dtype)


class WaveformDataset(Dataset):
    """``(standardised waveform, index)`` of every audio file, first ``max_seconds`` only.

    ``source`` names the manifest the paths come from (for error messages).
    """

    def __init__(self, paths: Sequence[Path], max_seconds: float | None,
                 standardizer: Standardizer, preload: bool = True, source: str | Path = ""):
        self.paths = list(paths)
        self.max_seconds = max_seconds
        self.standardizer = standardizer
        self.source = source
        self._cache: dict[int, torch.Tensor] | None = {} if preload else None

    def __len__(self) -> int:
        return len(self.paths)

    def raw(self, index: int) -> torch.Tensor:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        wav = audio.load(self.paths[index], audio.SAMPLE_RATE, self.max_seconds)
        if self._cache is not None:
            self._cache[index] = wav
        return wav

    def __getitem__(self, index: int):
        return self.standardizer(self.raw(index)), index


def fit_standardizer(dataset: WaveformDataset) -> Standardizer:
    """Mean and std over every sample of every (truncated) training waveform, in float64."""
    total, total_sq, count = 0.0, 0.0, 0
    for i in range(len(dataset)):
        wav = dataset.raw(i).double()
        total += float(wav.sum())
        total_sq += float((wav * wav).sum())
        count += wav.numel()
    mean = total / count
    std = float(np.sqrt(max(total_sq / count - mean * mean, 0.0)))
    if std == 0.0:
        raise ValueError(f"{dataset.source}: training audio is silent (std 0); "
                         "cannot standardise")
    return Standardizer(mean, std)
