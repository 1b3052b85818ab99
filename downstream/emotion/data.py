"""Waveform datasets for the emotion task: 16 kHz mono, truncated, standardised on train."""

from __future__ import annotations

import torch

from emobench.corpora.emotion_labels import LabelTable
from emobench.downstream.waveforms import Standardizer, WaveformDataset, fit_standardizer

__all__ = ["EmotionDataset", "Standardizer", "collate", "fit_standardizer"]


class EmotionDataset(WaveformDataset):
    """(waveform, soft label, file name) for every row of a validated label table."""

    def __init__(self, table: LabelTable, max_seconds: float, standardizer: Standardizer,
                 preload: bool = True):
        super().__init__(table.paths, max_seconds, standardizer, preload, table.source)
        self.table = table

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        return (self.standardizer(self.raw(index)),
                torch.from_numpy(self.table.labels[index]).float(),
                self.table.file_names[index])


def collate(batch: list[tuple[torch.Tensor, torch.Tensor, str]]):
    wavs, labels, names = zip(*batch)
    return list(wavs), torch.stack(labels), list(names)
