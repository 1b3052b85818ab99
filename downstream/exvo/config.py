"""Typed defaults of the ExVo multitask task (ICML ExVo 2022, PROTOCOLS.md section 3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from emobench.core.config import path_field


@dataclass
class DataConfig:
    data_info: str | None = path_field(None)  # HUME-VB's data_info.csv (required)
    audio_root: str | None = path_field(None)  # folder of <File_ID without brackets><audio_ext> (required)
    audio_ext: str = ".wav"
    corpus: str = "hume_vb"  # name for results
    max_seconds: float | None = 10.0  # only the first max_seconds of every burst are used
    # waveform standardisation by the training samples' mean and std (EMO-SUPERB's); ExVo
    # standardises the pooled features instead (model.standardize_features)
    standardize: bool = False
    allow_speaker_overlap: bool = False  # a speaker in two splits is an error unless true
    cache_dir: str | None = path_field("results/cache")  # pooled statistics on disk; null: in memory only
    cache_dtype: Literal["float32", "float16"] = "float32"
    # the upstream's forward: float32, or torch.autocast in bfloat16 / float16 (faster on GPUs;
    # features within a stated tolerance, docs/performance.md); its own cache folder
    extract_precision: Literal["float32", "bfloat16", "float16"] = "float32"


@dataclass
class ModelConfig:
    # sys1: the ExVo baseline's shared 128 -> 64; sys2: 256 -> 128 (the seed-000 paper's Sys-2)
    system: Literal["sys1", "sys2"] = "sys1"
    # per hidden state: mean over frames, or mean and standard deviation (the seed-000 paper's
    # 2 x 1024-dim WavLM functionals); the learnable layer weights then sum these functionals
    functionals: Literal["mean", "mean_std"] = "mean"
    # z-score every functional by training-set statistics (the baseline's StandardScaler)
    standardize_features: bool = True


@dataclass
class TrainConfig:
    epochs: int = 20  # at most; early stopping usually ends sooner
    batch_size: int = 8
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0  # the paper gives none (the baseline code uses 1e-4)
    grad_clip: float | None = None  # max gradient norm; null: no clipping (the baseline's)
    scheduler: Literal["none", "cosine_warmup"] = "none"  # per step
    warmup_steps: int = 0
    patience: int = 5  # epochs without a better validation S_MTL before stopping
    # mean: the mean of the three losses (the paper's text); uncertainty: learned homoscedastic
    # uncertainty weights exp(-s_i) L_i + s_i (Kendall et al. 2018; the baseline code)
    loss_combination: Literal["mean", "uncertainty"] = "mean"
    extract_batch_size: int = 16  # utterances per upstream call when extracting padded batches


@dataclass
class OutputConfig:
    team: str = "emobench"  # ExVo-Multi_<team>_<submission>.csv
    submission: int = 1


@dataclass
class ExVoConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
