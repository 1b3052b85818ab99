"""Typed config of ``-d embedding_cnn`` (docs/exvo_study.md): the table and audio of the
generic multitask task (``data``), one hard-label ``target``, the ``network`` of
upstream/window_cnn.py and the one trainer's ``train`` keys.

Defaults: HUME-VB's ``data_info.csv`` layout and the paper's Raw/Zff(ExVo)-ER target (the
emotion of the highest of the ten intensities); ``configs/embedding_cnn/`` has the country
target (-CR) and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from emobench.corpora.exvo_labels import EMOTIONS
from emobench.downstream.multitask.config import DataConfig
from emobench.downstream.trainer import LoopConfig


def hume_vb_data() -> DataConfig:
    return DataConfig(id_format="bracketed", corpus="hume_vb", condition="emotion")


@dataclass
class TargetConfig:
    """The hard label every window of an utterance is trained on."""

    name: str = "emotion"  # names the target in the results
    # argmax: the class is the column with the highest value (HUME-VB's intensities; ties go to
    # the first such column and are counted); categorical: one column of class names
    source: Literal["argmax", "categorical"] = "argmax"
    columns: list[str] = field(default_factory=lambda: list(EMOTIONS))
    classes: list[str] | None = None  # categorical: the label set (null: those found, sorted)
    indices: bool = False  # categorical: a 0-based index into classes is accepted too
    names_column: str | None = None  # with indices: a column that must name the same class


@dataclass
class NetworkConfig:
    """upstream/window_cnn.py's NetworkSpec (its classes come from the target)."""

    channels: list[int] = field(default_factory=lambda: [32, 64, 64, 64])
    kernels: list[int] = field(default_factory=lambda: [30, 7, 7, 7])
    strides: list[int] = field(default_factory=lambda: [10, 1, 1, 1])
    pool: int = 2
    embedding_dim: int = 10
    window_ms: float = 250.0
    hop_ms: float = 50.0  # windows of an utterance when it is evaluated or embedded
    zff_window_ms: float | None = None  # -u zff_cnn: trend window (null: 1.5 pitch periods)


@dataclass
class TrainConfig(LoopConfig):
    """epochs, batch_size, optimizer, lr, weight_decay, grad_clip, scheduler, warmup_steps,
    patience, eval_every_epochs, save_every_epochs (downstream/trainer.py), and:"""

    epochs: int = 30
    batch_size: int = 64  # windows per step
    windows_per_utterance: int = 4  # random windows of each training utterance per epoch
    holdout_fraction: float = 0.1  # training speakers held out to select the checkpoint


@dataclass
class EmbeddingCNNConfig:
    data: DataConfig = field(default_factory=hume_vb_data)
    target: TargetConfig = field(default_factory=TargetConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
