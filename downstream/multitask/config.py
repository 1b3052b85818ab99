"""Typed config of the generic multitask task (``-d multitask``; docs/tasks.md).

A corpus is declared in YAML only: where its table and audio are (``data``), its ``targets``
(each a name, a kind, source columns, a loss and its weight, metrics), how the per-target
metrics combine into the selection score (``selection``), the network (``model``) and the
training (``train``). Names of kinds, losses, metrics, combiners and output formats are checked
against their registries (downstream/multitask/kinds.py, metrics.py, outputs.py) by
:func:`downstream.multitask.checks.check_config`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Literal

from emobench.core.config import build, load_yaml, path_field
from emobench.core.resources import data_dir
from emobench.downstream.multitask.text_config import FusionConfig, SpeakerConfig, TextConfig
from emobench.downstream.multitask.sampling import DataHandlingConfig
from emobench.downstream.trainer import LoopConfig


@dataclass
class SplitNames:
    """How the table's split column names the three splits (matched in any case)."""

    train: str = "Train"
    val: str = "Val"
    test: str = "Test"


@dataclass
class DataConfig:
    data_info: str | None = path_field(None)  # the table (CSV), required
    audio_root: str | None = path_field(None)  # the audio folder, required
    audio_ext: str = ".wav"  # appended to the id ("" when the ids carry the extension)
    id_format: Literal["bracketed", "path"] = "path"  # [token] (HUME-VB) or a relative path
    id_column: str = "File_ID"
    split_column: str = "Split"
    speaker_column: str = "Subject_ID"
    split_names: SplitNames = field(default_factory=SplitNames)
    corpus: str = "multitask"  # name for results (and, with --demo, the demo corpus to build)
    condition: str = "multitask"  # name for results
    max_seconds: float | None = 10.0  # only the first max_seconds of every utterance are used
    standardize: bool = False  # waveform standardisation by the training samples
    allow_speaker_overlap: bool = False  # a speaker in two splits is an error unless true
    cache_dir: str | None = path_field("results/cache")  # pooled statistics; null: in memory
    cache_dtype: Literal["float32", "float16"] = "float32"
    extract_precision: Literal["float32", "bfloat16", "float16"] = "float32"
    transcript_dir: str | None = path_field(None)  # <audio file stem>.txt per row (docs/text.md)
    missing_transcripts: Literal["error", "speech_only"] = "error"  # a row without one


@dataclass
class TargetConfig:
    name: str = ""  # required: names the head, the outputs and (with a prefix) the metrics
    kind: str = ""  # required: soft_categorical | categorical | intensities | regression
    columns: list[str] = field(default_factory=list)  # source column(s); default [name]
    classes: list[str] | None = None  # categorical kinds: the label set (null: found in data)
    indices: bool = False  # categorical: a 0-based index into classes is accepted too
    names_column: str | None = None  # with indices: a column that must name the same class
    no_label: list[str] = field(default_factory=list)  # categorical: values meaning "no class"
    range: list[float] | None = None  # numbers: [low, high] (intensities: [0, 1])
    range_open: bool = False  # (low, high) instead of [low, high]
    required: bool = True  # false: the value may be empty (the loss skips those rows)
    standardize: bool = False  # regression: train on (y - train mean) / train std
    smoothing: float = 0.0  # soft_categorical from one label column: EMO-SUPERB's 0.05
    loss: str | None = None  # null: the kind's default (see docs/tasks.md)
    weight: float = 1.0  # loss weight (ignored by train.loss_combination=uncertainty)
    metrics: list[str] | None = None  # null: the kind's default metrics
    metric_prefix: str | None = None  # metric keys <prefix><metric>; null: "<name>_"


@dataclass
class SelectionConfig:
    # how the listed per-target metrics combine: mean, or exvo_s_mtl (ccc, uar, mae in order)
    combine: str = "mean"
    metrics: list[str] = field(default_factory=list)  # "<target>.<metric>"; []: each first
    name: str = "score"  # the combined value's key in the metrics
    higher_is_better: bool = True


@dataclass
class ModelConfig:
    # the shared trunk on the layer-weighted functionals: none, or the ExVo baseline's sys1
    # (Linear 128 -> LayerNorm -> LeakyReLU -> Linear 64 -> ...) or sys2 (256 -> 128)
    system: Literal["none", "sys1", "sys2"] = "none"
    head_hidden: int | None = 32  # per-target head Linear(., h) -> LeakyReLU -> Linear(h, k)
    functionals: Literal["mean", "mean_std"] = "mean"
    standardize_features: bool = True  # z-score every functional by training statistics
    text: TextConfig = field(default_factory=TextConfig)  # text input (docs/text.md)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    speaker: SpeakerConfig = field(default_factory=SpeakerConfig)


@dataclass
class TrainConfig(LoopConfig):
    """epochs, batch_size, optimizer, lr, weight_decay, grad_clip, scheduler, warmup_steps,
    patience, eval_every_epochs, save_every_epochs (downstream/trainer.py), and:"""

    # mean / sum of the weighted per-target losses, or learned uncertainty weights
    # sum_i exp(-s_i) L_i + s_i (Kendall et al. 2018)
    loss_combination: Literal["mean", "sum", "uncertainty"] = "mean"
    extract_batch_size: int = 16  # utterances per upstream call when extracting


@dataclass
class OutputConfig:
    format: str = "generic"  # generic | exvo_multi (the ExVo-Multi submission and figures)
    team: str = "emobench"  # exvo_multi: ExVo-Multi_<team>_<submission>.csv
    submission: int = 1


@dataclass
class MultitaskConfig:
    data: DataConfig = field(default_factory=DataConfig)
    targets: list[TargetConfig] = field(default_factory=list)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    data_handling: DataHandlingConfig = field(default_factory=DataHandlingConfig)  # docs/is25.md


def declared(relative: str, name: str) -> type:
    """A :class:`MultitaskConfig` whose defaults are the declaration in the toolkit's
    ``configs/<relative>`` (how a task such as ``exvo_mtl`` is a target config: its YAML file is
    its defaults; -c and -o layer on top as usual)."""
    layer = load_yaml(data_dir("configs") / relative)
    defaults = build(MultitaskConfig, layer, "")
    fields = [(f.name, f.type, field(default_factory=functools.partial(
        copy.deepcopy, getattr(defaults, f.name)))) for f in dataclasses.fields(MultitaskConfig)]
    cls = dataclasses.make_dataclass(name, fields, bases=(MultitaskConfig,))
    cls.__module__ = __name__  # its annotations name this module's dataclasses
    return cls
