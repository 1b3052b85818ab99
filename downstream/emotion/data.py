"""Waveform datasets for the emotion task: 16 kHz mono, truncated, standardised on train."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from emobench import audio
from downstream.emotion.labels import LabelTable


@dataclass(frozen=True)
class Standardizer:
    """Global mean and std of all training samples (EMO-SUPERB's waveform normalisation)."""

    mean: float = 0.0
    std: float = 1.0

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        return (wav - self.mean) / self.std


class EmotionDataset(Dataset):
    """(waveform, soft label, file name) for every row of a validated label table."""

    def __init__(self, table: LabelTable, max_seconds: float, standardizer: Standardizer,
                 preload: bool = True):
        self.table = table
        self.max_seconds = max_seconds
        self.standardizer = standardizer
        self._cache: dict[int, torch.Tensor] | None = {} if preload else None

    def __len__(self) -> int:
        return len(self.table)

    def raw(self, index: int) -> torch.Tensor:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        wav = audio.load(self.table.paths[index], audio.SAMPLE_RATE, self.max_seconds)
        if self._cache is not None:
            self._cache[index] = wav
        return wav

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        return (self.standardizer(self.raw(index)),
                torch.from_numpy(self.table.labels[index]).float(),
                self.table.file_names[index])


def fit_standardizer(dataset: EmotionDataset) -> Standardizer:
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
        raise ValueError(f"{dataset.table.source}: training audio is silent (std 0); "
                         "cannot standardise")
    return Standardizer(mean, std)


def collate(batch: list[tuple[torch.Tensor, torch.Tensor, str]]):
    wavs, labels, names = zip(*batch)
    return list(wavs), torch.stack(labels), list(names)
