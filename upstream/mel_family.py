"""s3prl's upstreams that compute their own mel features: TERA, Mockingjay, NPC, APC, VQ-APC.

Upstreams, s3prl local loaders and checkpoint layouts (a ``torch.save``'d dict):
- tera_960hr, mockingjay_960hr: ``tera.tera_local``, ``mockingjay.mockingjay_local``;
  ``Config`` (runner config), ``Upstream_Config`` {transformer, task, audio}, ``Transformer`` and
  ``SpecHead`` state dicts; hidden states: the input embedding and every layer (layers + 1).
- npc_960hr: ``npc.npc_local``; ``config`` {model.paras, data.audio, task}, ``model`` state dict;
  hidden states: every conv block and masked conv block, then the output (2 blocks + 1).
- apc_960hr, vq_apc_960hr: ``apc.apc_local`` (s3prl has no vq_apc_local); as NPC, with
  ``paras.vq`` for VQ-APC only; hidden states: inputs of GRU layers 1 and 2, then the output (3).

Input features: TERA and Mockingjay scale each wave to -25 dB, then take a log-mel spectrogram
(``torch.stft`` with centred frames, ``torchaudio.transforms.MelScale``) with per-utterance CMVN;
NPC and APC take ``torchaudio.compliance.kaldi.fbank`` (Hamming window) with per-utterance CMVN.
All these torchaudio APIs still exist in torchaudio 2.11 (only an audio config with
``decode_wav: True``, which no published checkpoint has, would call the removed
``torchaudio.set_audio_backend``).

Quirks of s3prl 0.4.18 handled here:
- The Transformer loader (TERA, Mockingjay) calls ``torch.load(weights_only=False)`` and only
  prints missing or unexpected keys. A local checkpoint is therefore read first with
  ``weights_only=True`` (tensors, plain containers and ``argparse.Namespace`` only) before s3prl
  reads it, and after loading its ``Transformer`` key set is compared with the model's.
- That loader keeps the whole checkpoint (optimizer state included) in
  ``expert.transformer.all_states``; it is dropped after loading.
- NPC and APC load strictly; s3prl's ``RuntimeError`` on a wrong checkpoint becomes a
  :class:`CheckpointMismatch` naming the file.
- APC's hooks read GRU layers 1 and 2: a checkpoint with fewer than 3 layers is refused. VQ only
  feeds the prediction head, never the hidden states; a VQ-APC checkpoint given as ``apc_960hr``
  (or the reverse) is refused.
- The experts draw warm-up noise from the global random generator while loading; loading runs
  under ``torch.random.fork_rng`` so that it does not shift the caller's random numbers.
- TERA and Mockingjay encode inputs longer than ``task.sequence_length`` frames (1500, 15 s, for
  both published models; EMO-SUPERB keeps 10 s) in independent chunks (s3prl's behaviour, kept).
- The first TERA/Mockingjay expert of a process computes s3prl's 24000 x hidden sinusoid table
  in pure Python (measured on 2 shared cores: 2 s at 64 dims, 25 s at the published 768); it is
  cached for the rest of the process.
- s3prl's preprocessor builds an MFCC transform it never uses, whose mel bank warns; that one
  warning is silenced while loading.

Padding changes features (max abs difference from per-utterance features, tiny models):
APC and VQ-APC by float round-off only (2e-7, not bit-identical); NPC in the last 4 frames (0.11:
its convolutions see the padding); TERA and Mockingjay in every frame (0.015, 0.8 on the last:
the last STFT frame sees the padding instead of the reflected wave, which shifts the
per-utterance CMVN statistics). Every upstream here therefore runs one utterance at a time;
``frames`` gives exact frame counts should a caller switch to padded batches.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from emobench.core import checkpoint_file
from emobench.upstream import s3prl_compat
from emobench.upstream.base import CheckpointMismatch, FrozenUpstream, TinySpec, UpstreamInfo, check_keys

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class _Spec:
    kind: str  # "transformer", "npc" or "apc": the checkpoint layout and model class
    package: str  # s3prl.upstream.<package>.hubconf: the published loader, named as the upstream
    local: str  # s3prl.upstream.<local>.hubconf has the local loader <local>_local
    vq: bool = False  # the model quantises (VQ-APC)


_SPECS = {
    "tera_960hr": _Spec("transformer", "tera", "tera"),
    "mockingjay_960hr": _Spec("transformer", "mockingjay", "mockingjay"),
    "npc_960hr": _Spec("npc", "npc", "npc"),
    "apc_960hr": _Spec("apc", "apc", "apc"),
    "vq_apc_960hr": _Spec("apc", "vq_apc", "apc", vq=True),
}
_RNN_CONV_LAYOUT = "config {model.paras, data.audio}, model"
_LAYOUTS = {"transformer": "Config, Upstream_Config {transformer, task, audio}, Transformer",
            "npc": _RNN_CONV_LAYOUT, "apc": _RNN_CONV_LAYOUT}


def build(info: UpstreamInfo, checkpoint: str | None) -> FrozenUpstream:
    """The frozen expert from a local checkpoint (``-k``), else from s3prl's published weights."""
    spec = _SPECS[info.name]
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="At least one mel filterbank has all zero")
        if checkpoint is None:
            hub = s3prl_compat.hubconf(spec.package)
            expert = s3prl_compat.fetch(info.name, getattr(hub, info.name))
            sha, source = None, f"s3prl:{spec.package}.{info.name}"
        else:
            path, sha = s3prl_compat.local_checkpoint(checkpoint)
            loader = f"{spec.local}_local"
            _check_layout(spec, _read(path), checkpoint, info.name)
            expert = _load(getattr(s3prl_compat.hubconf(spec.local), loader), path, checkpoint)
            source = f"s3prl:{spec.local}.{loader}"
    if spec.kind == "transformer":
        transformer = expert.transformer
        check_keys(checkpoint or info.name, list(transformer.model.state_dict()),
                   list(transformer.all_states["Transformer"]), f"{info.name} Transformer")
        del transformer.all_states
    return FrozenUpstream(info, expert, checkpoint_sha256=sha, source=source,
                          frames=_frames(spec, expert), padded_batch=False)


def _read(path: Path) -> dict[str, Any]:
    """The checkpoint as ``torch.load(weights_only=True)`` reads it (nothing else is unpickled)."""
    with s3prl_compat.trusted_checkpoints():
        states = checkpoint_file.load(path)
    if not isinstance(states, dict):
        raise CheckpointMismatch(
            f"{path}: a checkpoint must be a dict, found {type(states).__name__}")
    return states


def _model_config(kind: str, states: dict[str, Any]) -> dict[str, Any] | None:
    """The model config where s3prl's loader for ``kind`` looks for it; None if it is not there."""
    if kind == "transformer":
        runner = states.get("Config")
        if not isinstance(states.get("Transformer"), dict) or not isinstance(runner, dict):
            return None
        # s3prl: legacy checkpoints keep the model config in Config, newer ones in Upstream_Config
        config = runner if "transformer" in runner else states.get("Upstream_Config")
        ok = isinstance(config, dict) and {"transformer", "task", "audio"} <= config.keys()
        return config if ok else None
    config = states.get("config")
    try:
        ok = isinstance(states.get("model"), dict) and config["data"]["audio"] is not None
        return config if ok and isinstance(config["model"]["paras"], dict) else None
    except (KeyError, TypeError):
        return None


def _check_layout(spec: _Spec, states: dict[str, Any], checkpoint: str, name: str) -> None:
    config = _model_config(spec.kind, states)
    if config is None:
        raise CheckpointMismatch(f"{checkpoint}: not a {name} checkpoint: s3prl expects "
                                 f"{_LAYOUTS[spec.kind]}; found top-level keys {sorted(states)}")
    if spec.kind == "apc":
        paras = config["model"]["paras"]
        if paras.get("num_layers", 0) < 3:
            raise CheckpointMismatch(
                f"{checkpoint}: s3prl's APC expert reads GRU layers 1 and 2, so it needs at least "
                f"3 layers; this checkpoint has {paras.get('num_layers')}")
        has_vq = paras.get("vq") is not None
        if has_vq != spec.vq:
            kind, other = ("VQ-APC", "vq_apc_960hr") if has_vq else ("APC", "apc_960hr")
            raise CheckpointMismatch(f"{checkpoint}: a {kind} checkpoint given as {name}; "
                                     f"load it as {other}")


def _load(loader: Callable[[str], nn.Module], path: Path, checkpoint: str) -> nn.Module:
    """Run s3prl's local loader; its errors on a checkpoint that does not fit name the file."""
    try:
        with s3prl_compat.trusted_checkpoints():
            return loader(str(path))
    except RuntimeError as exc:  # strict load_state_dict, or the Transformer loader's wrapper
        cause = f" ({exc.__context__})" if exc.__context__ else ""
        raise CheckpointMismatch(f"{checkpoint}: s3prl could not load it: {exc}{cause}") from exc


def _frames(spec: _Spec, expert: nn.Module) -> Callable[[int], int]:
    """Exact frame counts of the expert's input features for ``n`` samples."""
    if spec.kind != "transformer":
        return _kaldi_frames(expert.preprocessor.kwargs)
    audio = expert.transformer.config["audio"]
    if "kaldi" in audio:  # s3prl's Kaldi extracter variant: {"feat_type": ..., <feat_type>: kwargs}
        return _kaldi_frames(audio["kaldi"].get(audio["kaldi"].get("feat_type", "fbank"), {}))
    hop = round(audio.get("hop_ms", 10) * audio.get("sample_rate", SAMPLE_RATE) / 1000)
    return lambda n: 1 + n // hop  # torch.stft with center=True


def _kaldi_frames(kwargs: dict[str, Any]) -> Callable[[int], int]:
    """Frames of ``torchaudio.compliance.kaldi`` features, as its ``_get_strided`` counts them.

    >>> [_kaldi_frames({})(n) for n in (16000, 399)], _kaldi_frames({"snip_edges": False})(16000)
    ([98, 0], 100)
    """
    size = int(SAMPLE_RATE * kwargs.get("frame_length", 25.0) * 0.001)
    shift = int(SAMPLE_RATE * kwargs.get("frame_shift", 10.0) * 0.001)
    if kwargs.get("snip_edges", True):
        return lambda n: 0 if n < size else 1 + (n - size) // shift
    return lambda n: (n + shift // 2) // shift


# Random checkpoints: the published configurations, with small dimensions unless full_size.
_FBANK = {"feat_type": "fbank", "feat_dim": 80, "frame_length": 25, "frame_shift": 10,
          "decode_wav": False, "cmvn": True}
_LOG_MEL = {"feat_type": "mel", "channel": 0, "log": True, "delta": 0, "cmvn": True}
_Made = tuple[dict[str, Any], int, int]  # checkpoint, hidden states, dim


def make_tiny(info: UpstreamInfo, path: Path, seed: int = 0, full_size: bool = False) -> TinySpec:
    """A random checkpoint in the layout of s3prl's local loader, built with s3prl's classes.

    Tiny: 64 dims, 2 Transformer layers or NPC blocks, 3 GRU layers (APC's minimum), 0.3-0.7 MB.
    ``full_size`` uses the published dimensions instead (random weights, for benchmarks).
    """
    spec = _SPECS[info.name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        states, hidden_states, dim = _MAKERS[spec.kind](spec, full_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(states, path)
    return TinySpec(str(path), hidden_states, dim, 100.0)  # every config hops 10 ms


def _random_transformer(spec: _Spec, full_size: bool) -> _Made:
    from s3prl.upstream.mockingjay.model import (TransformerConfig, TransformerModel,
                                                 TransformerSpecPredictionHead)

    dim, layers, heads = (768, 3, 12) if full_size else (64, 2, 2)
    tera = spec.package == "tera"
    config = {
        "transformer": {
            "input_dim": -1, "hidden_size": dim, "num_hidden_layers": layers,
            "num_attention_heads": heads, "intermediate_size": 4 * dim, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02, "layer_norm_eps": 1e-12, "share_layer": False,
            "pre_layer_norm": False},
        "task": {
            "loss": "L1", "sequence_length": 1500, "position_encoding_size": dim,
            "mask_proportion": 0.15, "mask_consecutive_min": 7, "mask_consecutive_max": 7,
            "mask_allow_overlap": True, "mask_bucket_ratio": 1.5,
            "mask_frequency": 0.2 if tera else 0.0, "noise_proportion": 0.15 if tera else 0.0},
        "audio": {"target_level": -25, "win_ms": 25, "hop_ms": 10, "n_freq": 201, "n_mels": 80,
                  "n_mfcc": 13, "input": dict(_LOG_MEL), "target": dict(_LOG_MEL, channel=1)},
    }
    model_config = TransformerConfig(config["transformer"])
    n_mels = config["audio"]["n_mels"]
    transformer = TransformerModel(model_config, n_mels)
    head = TransformerSpecPredictionHead(model_config, n_mels)
    head.apply(transformer.init_Transformer_weights)  # s3prl's pretraining initialises both
    runner = {"runner": {"total_steps": 1_000_000, "gradient_clipping": 5.0}}
    states = {"Config": runner, "Upstream_Config": config, "Step": 0,
              "Transformer": transformer.state_dict(), "SpecHead": head.state_dict()}
    return states, layers + 1, dim


def _random_npc(spec: _Spec, full_size: bool) -> _Made:
    from s3prl.upstream.npc.npc import NPC

    dim, blocks, kernel, mask, groups, codes = (512, 4, 15, 5, 4, 64) if full_size else \
        (64, 2, 7, 1, 2, 16)
    paras = {"kernel_size": kernel, "mask_size": mask, "n_blocks": blocks, "hidden_size": dim,
             "dropout": 0.1, "residual": True, "batch_norm": True, "activate": "relu",
             "disable_cross_layer": False,
             "vq": {"codebook_size": [codes] * groups, "code_dim": [dim // groups] * groups,
                    "gumbel_temperature": 1.0}}
    return _rnn_conv_states(NPC(_FBANK["feat_dim"], **paras), paras), 2 * blocks + 1, dim


def _random_apc(spec: _Spec, full_size: bool) -> _Made:
    from s3prl.upstream.apc.apc import APC

    dim = 512 if full_size else 64
    paras: dict[str, Any] = {"num_layers": 3, "hidden_size": dim, "dropout": 0.1,
                             "residual": True}
    if spec.vq:
        paras["vq"] = {"codebook_size": [512 if full_size else 32], "code_dim": [dim],
                       "gumbel_temperature": 0.5}
    return _rnn_conv_states(APC(_FBANK["feat_dim"], **paras), paras), 3, dim


def _rnn_conv_states(model: nn.Module, paras: dict[str, Any]) -> dict[str, Any]:
    config = {"model": {"paras": paras}, "task": {"sequence_length": 1500, "n_future": 5},
              "data": {"audio": dict(_FBANK)}}
    return {"config": config, "model": model.state_dict()}


_MAKERS: dict[str, Callable[[_Spec, bool], _Made]] = {
    "transformer": _random_transformer, "npc": _random_npc, "apc": _random_apc}
