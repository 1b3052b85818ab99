"""Typed defaults of the emotion task; corpus configs under configs/emotion/ override them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from emobench.core.config import path_field


@dataclass
class DataConfig:
    label_dir: str | None = path_field(None)  # holds config.json and labels_consensus_<fold>.csv (required)
    audio_root: str | None = path_field(None)  # FileName is relative to it (required)
    fold: int = 1
    corpus: str | None = None  # name for results; default: the label folder's parent name
    condition: str | None = None  # e.g. Primary / Secondary; default: the label folder's name
    max_seconds: float = 10.0  # only the first max_seconds of every utterance are used
    standardize: bool = True  # by the mean and std of all training samples
    # fold: the fold's training samples (EMO-SUPERB); condition: every utterance of the label
    # table (an opt-in variant: every fold shares one feature cache; docs/performance.md)
    standardize_scope: Literal["fold", "condition"] = "fold"
    label_sum_tolerance: float = 1e-3  # |sum of a label row - 1| above this is an error
    allow_speaker_overlap: bool = False  # a speaker in two splits is an error unless true
    # a blank SpkrID is an error unless true (a corpus without speaker ids: the speaker audit
    # is then off, and scores.json says so in its warnings)
    speakerless: bool = False
    # training audits the fold (downstream/emotion/audit.py) and refuses a speaker, unit
    # (session/dyad) or identical-audio overlap between splits unless true (then: warnings)
    allow_leakage: bool = False
    # "<corpus>/<condition>" of partitions/<corpus>.yaml (e.g. emodb/SERAB): the audit checks
    # its expected_rows and, with a unit_regex, that no session/dyad is in two splits
    partition: str | None = None
    preload_audio: bool = True  # keep decoded waveforms in memory between epochs
    # pooled features on disk (upstream/cache.py), shared by runs with the same upstream and
    # preprocessing; null keeps them in memory only
    cache_dir: str | None = path_field("results/cache")
    cache_dtype: Literal["float32", "float16"] = "float32"
    # the upstream's forward on the pooled path: float32, or torch.autocast in bfloat16 / float16
    # (faster on GPUs; features within a stated tolerance, docs/performance.md); its own cache
    # folder. The frames path (train.feature_path=frames) always runs in float32.
    extract_precision: Literal["float32", "bfloat16", "float16"] = "float32"


@dataclass
class ModelConfig:
    # linear: EMO-SUPERB's Linear(D, hidden) -> masked mean -> Linear(hidden, C);
    # cnn_self_attention: s3prl's alternative "DeepModel" (nonlinear: frames path only)
    head: Literal["linear", "cnn_self_attention"] = "linear"
    hidden_dim: int = 256
    kernel_size: int = 5  # cnn_self_attention only, like pooling and dropout
    pooling: int = 5
    dropout: float = 0.4
    # z-score every hidden state's dimensions by training-set statistics of the per-utterance
    # time-means (not in EMO-SUPERB; needed for features of very different scales, e.g. openSMILE)
    standardize_features: bool = False


@dataclass
class TrainConfig:
    epochs: int | None = None  # set by the corpus config (EMO-SUPERB: CREMA-D 110, IEMOCAP 40, ...)
    batch_size: int = 32
    optimizer: Literal["adam", "adamw"] = "adamw"  # the reference's AdamW
    lr: float = 1e-4
    weight_decay: float = 0.01  # torch.optim.AdamW's default, as in the reference
    grad_clip: float = 1.0
    scheduler: Literal["none", "cosine_warmup"] = "none"
    warmup_steps: int = 0
    select_metric: Literal["dev_loss", "dev_macro_f1"] = "dev_loss"
    # auto = pooled: per-layer time-means computed once per utterance (exact for this head);
    # frames: the upstream runs on every batch (the reference's way; same model, slower)
    feature_path: Literal["auto", "pooled", "frames"] = "auto"
    eval_every_epochs: int = 1
    # resumable state (last.ckpt, and dev-best.ckpt with it) every N epochs and at the end; an
    # interrupted run resumes from the last save (at most N - 1 epochs of the head again)
    save_every_epochs: int = 10
    upstream_lr: float | None = None  # with -f: the upstream's learning rate (null: lr)


@dataclass
class EmotionConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
