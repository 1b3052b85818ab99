"""wav2vec 2.0-style transformer upstreams through s3prl's own loaders.

Upstreams, s3prl local loader (``s3prl.upstream.<pkg>.hubconf``), checkpoint layout (a dict),
feature extractor / transformer:

- wavlm_large: ``wavlm.wavlm_local``; ``cfg`` (WavLMConfig fields, ``normalize`` included) and
  ``model``; layer-norm extractor, pre-LN, gated relative position bias.
- wav2vec2_large_lv60_cv_swbd_fsh, xls_r_1b: ``wav2vec2.wav2vec2_local``; "converted":
  ``task_cfg``, ``model_cfg``, ``model_weight``; layer-norm extractor, pre-LN.
- wav2vec2_large_960: ``wav2vec2.wav2vec2_local``; converted; GroupNorm extractor
  (``extractor_mode`` "default"), post-LN, no waveform normalisation.
- data2vec_large_ll60k: ``data2vec.data2vec_local``; converted, ``model_weight`` being the state
  dict after ``remove_pretraining_modules()`` plus an ``_ema`` entry (the EMA teacher) that the
  loader deletes; layer-norm extractor, post-LN, 5 convolutional position layers.
- hubert_large_ll60k: ``hubert.hubert_local``; converted plus ``dictionaries_symbols`` (the
  fairseq label dictionaries); ``model_cfg`` needs ``label_rate``; layer-norm extractor, pre-LN.

``task_cfg`` and ``model_cfg`` are fairseq config dicts; s3prl keeps the fields of its own config
dataclasses and drops the others (``merge_with_parent``). Converted wav2vec 2.0 and HuBERT
checkpoints keep their pretraining modules (quantizer, ``project_q``, ``final_proj``, HuBERT's
label embeddings): s3prl builds the full model from the checkpoint's own config and loads it
strictly. Every expert returns ``encoder_layers + 1`` hidden states (the input of each transformer
layer and the encoder output) at 50 frames per second (conv stride 320).

Quirks of s3prl 0.4.18 handled here:
- the loaders load strictly but report a wrong checkpoint as a bare KeyError, ValueError or a
  RuntimeError listing every key: :func:`_refuse_mismatch` turns these into
  :class:`CheckpointMismatch` naming the file. A converted checkpoint of another variant loads
  without error (its config builds its model): :func:`_check_architecture` refuses it.
- the experts pad a batch, and padding changes the features of every model here except the
  layer-norm wav2vec 2.0 ones: WavLM and HuBERT keep the last, partly padded frame unmasked;
  data2vec's position convolutions leak the padding into the last frames; attention then spreads
  these changes to every frame; wav2vec2_large_960's GroupNorm normalises over the padded time
  axis. Features are extracted one utterance at a time (``padded_batch=False``); the two
  layer-norm wav2vec 2.0 models (``upstream.bucketing.PADDING_EXACT``) may run padded batches
  (``--upstream_padded_batch``), which the cache extracts length-bucketed.
- s3prl's frame count ``round(samples / 320)`` is one too many for 1 s (50; the model gives 49):
  :func:`conv_frames` is exact, for callers that turn ``padded_batch`` on.
- ``wavlm_local`` calls ``torch.load`` without ``map_location``: a checkpoint saved with CUDA
  tensors cannot be loaded on a machine without a GPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from emobench.core.config import ConfigError
from emobench.core import checkpoint_file
from emobench.upstream import s3prl_compat
from emobench.upstream.base import CheckpointMismatch, FrozenUpstream, TinySpec, UpstreamInfo

SAMPLE_RATE = 16_000
DICTIONARY_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # fairseq Dictionary's first symbols

# Tiny dimensions shared by all tiny checkpoints: the standard 7-layer, 320x conv stack with 32
# channels, a 2-layer transformer of width 64.
TINY: dict[str, Any] = {
    "encoder_layers": 2, "encoder_embed_dim": 64, "encoder_ffn_embed_dim": 128,
    "encoder_attention_heads": 2, "conv_pos": 16, "conv_pos_groups": 4,
    "conv_feature_layers": "[(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2",
}
# Published "large" dimensions (random weights: for speed and memory benchmarks).
FULL: dict[str, Any] = {
    "encoder_layers": 24, "encoder_embed_dim": 1024, "encoder_ffn_embed_dim": 4096,
    "encoder_attention_heads": 16, "conv_pos": 128, "conv_pos_groups": 16,
    "conv_feature_layers": "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2",
}
FULL_OVERRIDES: dict[str, dict[str, Any]] = {
    "xls_r_1b": {"encoder_layers": 48, "encoder_embed_dim": 1280, "encoder_ffn_embed_dim": 5120},
    "data2vec_large_ll60k": {"conv_pos": 95},
}
CONV_STRIDE = 5 * 2 ** 6  # the product of the strides above, as in the published models
PRETRAINING_HEADS: dict[str, Any] = {"final_dim": 32, "quantize_targets": True,
                                     "latent_vars": 16, "latent_groups": 2}
LAYER_NORM_PRE_LN: dict[str, Any] = {"extractor_mode": "layer_norm", "layer_norm_first": True}


@dataclass(frozen=True)
class Variant:
    """How one upstream is loaded, and the published architecture flags its tiny copy keeps."""

    package: str  # s3prl.upstream.<package>.hubconf
    form: str  # "wavlm", "wav2vec2", "data2vec" or "hubert": the checkpoint layout
    normalize: bool  # the task's waveform normalisation (WavLM keeps it in ``cfg``)
    model: dict[str, Any] = field(default_factory=dict)  # published flags and tiny dims

    @property
    def loader(self) -> str:
        return f"{self.package}_local"


VARIANTS: dict[str, Variant] = {
    "wavlm_large": Variant("wavlm", "wavlm", True, {
        **LAYER_NORM_PRE_LN, "relative_position_embedding": True, "gru_rel_pos": True,
        "num_buckets": 320, "max_distance": 800}),
    "wav2vec2_large_lv60_cv_swbd_fsh": Variant("wav2vec2", "wav2vec2", True, {
        **LAYER_NORM_PRE_LN, **PRETRAINING_HEADS, "conv_bias": True}),
    # XLS-R 1B is wider and deeper than the other large models: so is its tiny copy.
    "xls_r_1b": Variant("wav2vec2", "wav2vec2", True, {
        **LAYER_NORM_PRE_LN, **PRETRAINING_HEADS, "conv_bias": True, "encoder_layers": 3,
        "encoder_embed_dim": 80, "encoder_ffn_embed_dim": 160}),
    "wav2vec2_large_960": Variant("wav2vec2", "wav2vec2", False, {
        "extractor_mode": "default", "layer_norm_first": False, **PRETRAINING_HEADS}),
    # data2vec: 5 convolutional position layers of kernel conv_pos // 5 (95 // 5 = 19 published).
    "data2vec_large_ll60k": Variant("data2vec", "data2vec", True, {
        "extractor_mode": "layer_norm", "layer_norm_first": False, "pos_conv_depth": 5,
        "conv_pos": 15}),
    "hubert_large_ll60k": Variant("hubert", "hubert", True, {
        **LAYER_NORM_PRE_LN, "label_rate": 50.0, "final_dim": 32}),
}


def build(info: UpstreamInfo, checkpoint: str | None) -> FrozenUpstream:
    """The frozen s3prl expert: published weights (download) or a local ``-k`` checkpoint."""
    variant = VARIANTS[info.name]
    hub = s3prl_compat.hubconf(variant.package)
    if checkpoint is None:
        expert = s3prl_compat.fetch(info.name, getattr(hub, info.name))
        return FrozenUpstream(info, expert, checkpoint_sha256=None, source=f"s3prl:{info.name}",
                              frames=conv_frames(expert), padded_batch=False)
    path, sha = s3prl_compat.local_checkpoint(checkpoint)
    with s3prl_compat.trusted_checkpoints(), _refuse_mismatch(path, info.name):
        expert = getattr(hub, variant.loader)(str(path))
    _check_architecture(expert, variant, f"{path}: not a {info.name} checkpoint")
    return FrozenUpstream(info, expert, checkpoint_sha256=sha, source=f"s3prl:{variant.loader}",
                          frames=conv_frames(expert), padded_batch=False)


def top_layers(expert: nn.Module, count: int) -> list[nn.Module]:
    """The top ``count`` transformer layers and what follows them (upstream/finetune.py): the
    encoder's final layer norm in pre-LN models (post-LN models apply it before the layers)."""
    encoder = expert.model.encoder
    layers = list(encoder.layers)
    if not 1 <= count <= len(layers):
        raise ConfigError(f"--upstream_trainable_layers {count}: this upstream has "
                        f"{len(layers)} transformer layers (1..{len(layers)})")
    return layers[-count:] + ([encoder.layer_norm] if encoder.layer_norm_first else [])


def _check_architecture(expert: nn.Module, variant: Variant, what: str) -> None:
    """Refuse a converted checkpoint of another variant: its own config builds the model."""
    found = {"extractor_mode": "default" if any(
                 isinstance(m, nn.GroupNorm) for m in expert.model.feature_extractor.modules())
                 else "layer_norm",
             "layer_norm_first": bool(expert.model.encoder.layer_norm_first)}
    expected = {key: variant.model[key] for key in found}
    if found != expected:
        raise CheckpointMismatch(f"{what}: its config builds {found}, the published model is "
                                 f"{expected}")


def conv_frames(expert: nn.Module) -> Callable[[int], int]:
    """Exact frame count of the expert's convolutional feature extractor, from its layers."""
    convs = [(m.kernel_size[0], m.stride[0]) for m in expert.model.feature_extractor.modules()
             if isinstance(m, nn.Conv1d)]

    def frames(num_samples: int) -> int:
        for kernel, stride in convs:
            num_samples = max(0, (num_samples - kernel) // stride + 1)
        return num_samples

    return frames


@contextlib.contextmanager
def _refuse_mismatch(path: Path, name: str) -> Iterator[None]:
    """Report the loaders' errors for a checkpoint of another layout or model as a mismatch."""
    what = f"{path}: not a {name} checkpoint"
    try:
        yield
    except KeyError as exc:  # wavlm: no cfg / model; data2vec: no _ema
        raise CheckpointMismatch(f"{what}: it has no {exc} entry") from exc
    except (pickle.UnpicklingError, EOFError) as exc:  # unsafe pickle, empty or foreign file
        raise checkpoint_file.load_failure(path, exc, f"{name} checkpoint") from None
    except ValueError as exc:  # converted: a required key is missing
        raise CheckpointMismatch(f"{what}: {exc}") from exc
    except RuntimeError as exc:  # strict load_state_dict: missing / unexpected / resized keys
        if "loading state_dict" not in str(exc):
            raise
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        summary = " ".join(lines[1:3])
        raise CheckpointMismatch(f"{what}: {summary[:400]}") from exc


def make_tiny(info: UpstreamInfo, path: Path, seed: int = 0, full_size: bool = False) -> TinySpec:
    """A random checkpoint with the layout and architecture flags of ``info.name``, tiny dims.

    ``full_size`` uses the published dimensions instead (random weights, for benchmarks).
    """
    variant = VARIANTS[info.name]
    settings = {**TINY, **variant.model}
    if full_size:
        settings.update(FULL, **FULL_OVERRIDES.get(info.name, {}))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = _TINY_WRITERS[variant.form](settings, variant.normalize)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return TinySpec(str(path), settings["encoder_layers"] + 1, settings["encoder_embed_dim"],
                    SAMPLE_RATE / CONV_STRIDE)


def _task_cfg(name: str, normalize: bool, **extra: Any) -> dict[str, Any]:
    """A fairseq task config dict as converted checkpoints store it."""
    return {"_name": name, "sample_rate": SAMPLE_RATE, "normalize": normalize,
            "enable_padding": False, "max_sample_size": 250_000, "min_sample_size": 32_000,
            **extra}


def _model_cfg(config: Any, name: str) -> dict[str, Any]:
    return {"_name": name, **dataclasses.asdict(config)}


def _tiny_wavlm(settings: dict[str, Any], normalize: bool) -> dict[str, Any]:
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    cfg = WavLMConfig({**settings, "normalize": normalize})
    return {"cfg": dict(vars(cfg)), "model": WavLM(cfg).state_dict()}


def _tiny_wav2vec2(settings: dict[str, Any], normalize: bool) -> dict[str, Any]:
    from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Config, Wav2Vec2Model

    cfg = Wav2Vec2Config(**settings)
    return {"task_cfg": _task_cfg("audio_pretraining", normalize),
            "model_cfg": _model_cfg(cfg, "wav2vec2"),
            "model_weight": Wav2Vec2Model(cfg).state_dict()}


def _tiny_data2vec(settings: dict[str, Any], normalize: bool) -> dict[str, Any]:
    from s3prl.upstream.data2vec.data2vec_model import Data2VecAudioConfig, Data2VecAudioModel

    cfg = Data2VecAudioConfig(**settings)
    model = Data2VecAudioModel(cfg)
    model.remove_pretraining_modules()
    weights: dict[str, Any] = dict(model.state_dict())
    weights["_ema"] = {}  # the EMA teacher's parameters; s3prl deletes the entry unread
    return {"task_cfg": _task_cfg("audio_pretraining", normalize),
            "model_cfg": _model_cfg(cfg, "data2vec_audio"), "model_weight": weights}


def _tiny_hubert(settings: dict[str, Any], normalize: bool) -> dict[str, Any]:
    from s3prl.upstream.hubert.hubert_model import (
        HubertConfig, HubertModel, HubertPretrainingConfig)
    from s3prl.upstream.utils import merge_with_parent

    cfg = HubertConfig(**settings)
    task = _task_cfg("hubert_pretraining", normalize, label_rate=settings["label_rate"],
                     labels=["km"])
    symbols = [DICTIONARY_SPECIALS + [str(k) for k in range(12)]]  # one 12-cluster label set
    model = HubertModel(cfg, merge_with_parent(HubertPretrainingConfig, task), symbols)
    return {"task_cfg": task, "model_cfg": _model_cfg(cfg, "hubert"),
            "model_weight": model.state_dict(),
            "dictionaries_symbols": symbols}


_TINY_WRITERS = {"wavlm": _tiny_wavlm, "wav2vec2": _tiny_wav2vec2, "data2vec": _tiny_data2vec,
                 "hubert": _tiny_hubert}
