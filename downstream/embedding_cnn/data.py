"""What ``-d embedding_cnn`` trains on: hard labels from the table, the speakers held out for
selection, the network's input signals and seeded batches of random windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from emobench.core.errors import UserError
from emobench.corpora.target_table import ColumnSpec, TargetTable
from emobench.downstream.embedding_cnn.config import TargetConfig
from emobench.downstream.exvo.metrics import uar
from emobench.downstream.trainer import epoch_seed
from emobench.downstream.waveforms import WaveformDataset
from emobench.upstream.window_cnn import NetworkSpec, WindowCNN, prepare, windows


def column_spec(target: TargetConfig) -> ColumnSpec:
    """How the table's reader reads the target's column(s)."""
    if target.source == "argmax":
        return ColumnSpec(target.name, "numbers", tuple(target.columns))
    return ColumnSpec(target.name, "categorical", tuple(target.columns[:1]),
                      tuple(target.classes) if target.classes is not None else None,
                      target.indices, target.names_column)


@dataclass(frozen=True)
class HardLabels:
    classes: tuple[str, ...]
    labels: np.ndarray  # (N,) int64 class index; -1 where the row has no label
    ties: int  # argmax rows whose highest value several columns share (the first one is taken)


def argmax_labels(values: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, int]:
    """The column of the highest value per present row (-1 elsewhere) and the count of ties.

    >>> labels, ties = argmax_labels(np.array([[0.1, 0.7], [0.5, 0.5], [np.nan, np.nan]]),
    ...                              np.array([True, True, False]))
    >>> labels.tolist(), ties
    ([1, 0, -1], 1)
    """
    labels = np.full(len(values), -1, dtype=np.int64)
    rows = values[present]
    labels[present] = rows.argmax(axis=1)
    ties = int(((rows == rows.max(axis=1, keepdims=True)).sum(axis=1) > 1).sum())
    return labels, ties


def hard_labels(target: TargetConfig, table: TargetTable) -> HardLabels:
    if target.source == "argmax":
        labels, ties = argmax_labels(table.values[target.name], table.present[target.name])
        return HardLabels(tuple(target.columns), labels, ties)
    return HardLabels(tuple(table.classes[target.name]),
                      table.values[target.name].astype(np.int64), 0)


def holdout_speakers(speakers: Sequence[str], fraction: float, seed: int) -> list[str]:
    """A seeded ``fraction`` of the distinct speakers (at least one, never all), sorted.

    >>> holdout_speakers(["a", "b", "c", "a", "d"], 0.25, 0)
    ['c']
    >>> len(holdout_speakers([str(i) for i in range(40)], 0.1, 1))
    4
    """
    distinct = sorted(set(speakers))
    if len(distinct) < 2:
        raise UserError(f"{len(distinct)} training speaker(s): holding speakers out for "
                        "selection needs at least 2")
    count = min(len(distinct) - 1, max(1, int(round(fraction * len(distinct)))))
    order = np.random.default_rng(seed).permutation(len(distinct))
    return sorted(distinct[i] for i in order[:count])


def signal(waveforms: WaveformDataset, index: int, spec: NetworkSpec) -> torch.Tensor:
    """The network's input of utterance ``index``; a failure names the audio file."""
    try:
        return prepare(waveforms.raw(index), spec)
    except ValueError as exc:
        raise UserError(f"{waveforms.paths[index]}: {exc}") from None


def window_batches(signals: dict[int, torch.Tensor], labels: np.ndarray, rows: np.ndarray,
                   spec: NetworkSpec, per_utterance: int, batch_size: int, seed: int,
                   epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``per_utterance`` random windows of every row, shuffled, in batches of ``(windows,
    labels)``; the draw is seeded by ``seed`` and ``epoch`` (a resumed run sees the same)."""
    rng = np.random.default_rng(epoch_seed(seed, epoch))
    pairs = [(int(r), int(s)) for r in rows
             for s in rng.integers(0, max(1, len(signals[r]) - spec.window + 1), per_utterance)]
    order = rng.permutation(len(pairs))
    for first in range(0, len(order), batch_size):
        chosen = [pairs[i] for i in order[first:first + batch_size]]
        x = torch.stack([windows(signals[r][s:s + spec.window], spec.window, spec.hop)[0]
                         for r, s in chosen])
        yield x, torch.from_numpy(labels[[r for r, _ in chosen]])


@torch.no_grad()
def utterance_log_probs(model: WindowCNN, inputs: Iterator[torch.Tensor], spec: NetworkSpec,
                        device: torch.device) -> np.ndarray:
    """``(N, C)`` mean log-probabilities over each utterance's windows (every ``hop_ms``)."""
    model.eval()
    out = [torch.log_softmax(model(windows(x, spec.window, spec.hop).to(device)), dim=-1)
           .mean(dim=0).cpu() for x in inputs]
    return torch.stack(out).double().numpy()


def scores(truth: np.ndarray, log_probs: np.ndarray) -> dict[str, float]:
    """UAR and accuracy (the paper's WAR) of the most probable class, and the cross-entropy.

    >>> scores(np.array([0, 1, 1]), np.log(np.array([[0.8, 0.2], [0.4, 0.6], [0.7, 0.3]])))
    {'uar': 0.75, 'accuracy': 0.6666666666666666, 'loss': 0.6459...}
    """
    pred = log_probs.argmax(axis=1)
    return {"uar": uar(truth, pred), "accuracy": float((pred == truth).mean()),
            "loss": float(-log_probs[np.arange(len(truth)), truth].mean())}


def constant_scores(truth: np.ndarray, train_labels: np.ndarray, classes: int) -> dict[str, float]:
    """:func:`scores` of always predicting the majority training class (its loss: the training
    class frequencies as probabilities)."""
    counts = np.bincount(train_labels, minlength=classes).astype(np.float64)
    probs = np.clip(counts / counts.sum(), 1e-12, None)
    log_probs = np.tile(np.log(probs), (len(truth), 1))
    return scores(truth, log_probs)
