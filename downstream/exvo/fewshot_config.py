"""Typed defaults of the ExVo few-shot task (PROTOCOLS.md section 4; docs/exvo_fewshot.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from emobench.core.config import path_field
from emobench.downstream.trainer import LoopConfig


@dataclass
class DataConfig:
    data_info: str | None = path_field(None)  # data_info.csv in HUME-VB's format (required)
    audio_root: str | None = path_field(None)  # folder of <File_ID without brackets><audio_ext> (required)
    audio_ext: str = ".wav"
    corpus: str = "hume_vb"  # name for results
    # the intensity columns to predict; null: HUME-VB's ten emotions
    targets: list[str] | None = None
    max_seconds: float | None = 10.0
    standardize: bool = False  # waveform standardisation by the training samples
    allow_speaker_overlap: bool = False
    cache_dir: str | None = path_field("results/cache")
    cache_dtype: Literal["float32", "float16"] = "float32"
    # the upstream's forward: float32, or torch.autocast in bfloat16 / float16 (docs/performance.md)
    extract_precision: Literal["float32", "bfloat16", "float16"] = "float32"
    # support sets: a CSV of Subject_ID,File_ID (corpora/exvo_support.py); null: k clips per
    # validation and test speaker drawn with support_seed (written to <expdir>/support.csv)
    support_file: str | None = path_field(None)
    k: int = 2
    support_seed: int = 0


@dataclass
class ModelConfig:
    hidden_dim: int = 256  # Linear(F, hidden) -> LayerNorm -> LeakyReLU -> Linear(hidden, T)
    functionals: Literal["mean", "mean_std"] = "mean"
    standardize_features: bool = True


@dataclass
class AdaptConfig:
    # the method reported as ccc_adapted (all methods are scored on the same queries):
    # finetune: gradient steps on the support clips; bias: add the mean support residual;
    # support_mean: predict the mean of the support labels (no model); none: no adaptation
    method: Literal["finetune", "bias", "support_mean", "none"] = "finetune"
    params: list[str] = field(default_factory=lambda: ["output"])  # output, head, layer_weights
    steps: int = 20  # full-batch Adam steps on the support set
    lr: float = 0.001
    l2_sp: float = 0.0  # weight of ||theta - theta_0||^2 toward the speaker-agnostic model


@dataclass
class TrainConfig(LoopConfig):
    """epochs 20, batch_size 8, Adam 1e-3, patience 5, ... (downstream/trainer.py), and:"""

    # the validation score that selects the checkpoint: mean query CCC after adaptation with
    # adapt.method (the few-shot protocol), or without adaptation
    select: Literal["adapted", "unadapted"] = "adapted"
    extract_batch_size: int = 16


@dataclass
class OutputConfig:
    team: str = "emobench"  # ExVo-Few_<team>_<submission>.csv
    submission: int = 1


@dataclass
class FewShotConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
