"""wav2vec, vq-wav2vec, modified CPC and DeCoAR 2.0 through s3prl's own loaders.

Upstream: s3prl loader; checkpoint (a plain dict):

- vq_wav2vec: vq_wav2vec.vq_wav2vec_custom; "converted": ``task_cfg``, ``model_cfg`` (fields of
  s3prl's Wav2VecConfig, ``infonce`` required, ``vq_type`` gumbel), ``model_weight``.
- wav2vec_large: wav2vec.wav2vec_local; converted, ``vq_type`` none.
- modified_cpc: cpc.cpc_local; ``config`` (CPC_audio's argparse fields), ``weights`` (state dict).
- decoar2: decoar2.decoar2_local; ``model`` (state dict, may hold pretraining heads).

wav2vec and vq-wav2vec return the conv feature extractor's output, the input of each aggregator
layer after the first and the aggregator's output, at 16000 / 160 = 100 frames per second; CPC
returns its encoder and autoregressive outputs (100 per second); DeCoAR 2.0 returns the input of
each transformer layer and the encoder output on every second 10 ms fbank frame (50 per second).

Quirks of s3prl 0.4.18 handled here:
- the wav2vec loaders load strictly but report a wrong checkpoint as a bare ValueError, TypeError
  (``Wav2VecConfig`` has no default for ``infonce``) or a RuntimeError listing every key; the
  checkpoint is read once here first, so these become :class:`CheckpointMismatch` naming the file.
- cpc and decoar2 load with ``strict=False``: a wrong checkpoint would load silently into a random
  model. Their keys are checked against the model; keys of top-level modules the model does not
  have (a pretraining checkpoint's heads) are ignored, as s3prl ignores them.
- DeCoAR 2.0's architecture is the module-level dict ``s3prl.upstream.decoar2.decoar2.args``
  (768 dims, 12 layers). It is derived here from the checkpoint's shapes (heads = width / 64, as
  in the published model) and patched only while the model is built (:func:`decoar2_args`).
- a CPC model trained with ``samplingType=sequential`` keeps its LSTM state from one call to the
  next; it is reset so that features depend on the utterance only.
- padding changes the features of wav2vec and vq-wav2vec on every frame (GroupNorm over time) and
  of CPC on its last frame (the encoder's convolutions see the padding): these are extracted one
  utterance at a time. DeCoAR 2.0 computes fbank and CMVN per utterance and masks padding in
  attention, so it runs padded batches (features equal within float rounding, checked by the
  tests); s3prl's ``round(n / 320)`` frame count is often one too many (50 for 1 s, which has
  49 frames), so frames are counted exactly (:func:`decoar2_frames`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from emobench.core import checkpoint_file
from emobench.upstream import s3prl_compat
from emobench.upstream.base import CheckpointMismatch, FrozenUpstream, TinySpec, UpstreamInfo, check_keys
from emobench.upstream.baseline import kaldi_frames

CONVERTED = ("task_cfg", "model_cfg", "model_weight")
# Tiny dimensions. wav2vec: the published extractor's strides (10 ms frames) with 32 channels.
TINY_WAV2VEC = {
    "conv_feature_layers": "[(32, 10, 5), (32, 8, 4), (32, 4, 2), (32, 4, 2), (32, 4, 2)]",
    "conv_aggregator_layers": "[(32, 2, 1), (32, 3, 1), (32, 4, 1)]",
    "prediction_steps": 2, "num_negatives": 2}
TINY_CPC = {"hiddenEncoder": 32, "hiddenGar": 32}
TINY_DECOAR2 = {"encoder_embed_dim": 64, "encoder_layers": 2, "encoder_ffn_embed_dim": 128,
                "encoder_attention_heads": 1, "conv_pos": 16, "conv_pos_groups": 16}


@dataclass(frozen=True)
class Format:
    """Where one upstream's loaders live and what its checkpoint holds."""

    package: str  # s3prl.upstream.<package>.hubconf
    loader: str  # its local-checkpoint loader
    published: str  # its loader of the published weights
    keys: tuple[str, ...]  # top-level keys of the checkpoint
    weights: str  # the key of the state dict
    strict: bool  # whether s3prl loads the state dict strictly
    frames: Callable[[int], int] | None = None  # exact frame count: padded batches are exact


def decoar2_frames(num_samples: int) -> int:
    """DeCoAR 2.0's frames: every second Kaldi fbank frame.

    >>> decoar2_frames(16000), decoar2_frames(400), decoar2_frames(399)
    (49, 1, 0)
    """
    return (kaldi_frames(num_samples) + 1) // 2


FORMATS: dict[str, Format] = {
    "vq_wav2vec": Format("vq_wav2vec", "vq_wav2vec_custom", "vq_wav2vec", CONVERTED,
                         "model_weight", True),
    "wav2vec_large": Format("wav2vec", "wav2vec_local", "wav2vec_large", CONVERTED,
                            "model_weight", True),
    "modified_cpc": Format("cpc", "cpc_local", "modified_cpc", ("config", "weights"), "weights",
                           False),
    "decoar2": Format("decoar2", "decoar2_local", "decoar2", ("model",), "model", False,
                      decoar2_frames),
}
Random = tuple[dict[str, Any], tuple[int, int, float]]  # checkpoint; hidden states, dim, rate


def build(info: UpstreamInfo, checkpoint: str | None) -> FrozenUpstream:
    form = FORMATS[info.name]
    hub = s3prl_compat.hubconf(form.package)
    if checkpoint is None:
        expert = s3prl_compat.fetch(info.name, lambda: getattr(hub, form.published)())
        sha, source = None, f"s3prl:{form.published}"
    else:
        path, sha = s3prl_compat.local_checkpoint(checkpoint)
        state = read_checkpoint(path, info.name)
        load = getattr(hub, form.loader)
        context = (decoar2_args(decoar2_shapes(state["model"])) if info.name == "decoar2"
                   else contextlib.nullcontext())
        with context:
            expert = _refuse_mismatch(path, info.name, lambda: load(str(path)))
        if not form.strict:
            _check_state(path, expert.model, state[form.weights], info.name)
        source = f"s3prl:{form.loader}"
    gar = getattr(expert.model, "gAR", None)  # CPC's autoregressive net
    if getattr(gar, "keepHidden", False):
        gar.keepHidden, gar.hidden = False, None
    return FrozenUpstream(info, expert, checkpoint_sha256=sha, source=source, frames=form.frames,
                          padded_batch=form.frames is not None)


def read_checkpoint(path: Path, name: str) -> dict[str, Any]:
    """The checkpoint at ``path``, refused unless it has the layout of upstream ``name``."""
    form = FORMATS[name]
    with s3prl_compat.trusted_checkpoints():
        state = checkpoint_file.load(path, f"{name} checkpoint")
    missing = [k for k in form.keys if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointMismatch(f"{path}: not a {name} checkpoint: it has no {missing} "
                                 f"(s3prl's {form.loader} needs {list(form.keys)})")
    if not isinstance(state[form.weights], dict):
        raise CheckpointMismatch(f"{path}: {form.weights!r} must be a state dict")
    if form.keys == CONVERTED:
        if not all(isinstance(state[k], dict) for k in ("task_cfg", "model_cfg")):
            raise CheckpointMismatch(f"{path}: task_cfg and model_cfg must be dicts")
        if "infonce" not in state["model_cfg"]:
            raise CheckpointMismatch(f"{path}: model_cfg has no 'infonce' entry, which s3prl's "
                                     "Wav2VecConfig requires")
    return state


def _refuse_mismatch(path: Path, name: str, load: Callable[[], nn.Module]) -> nn.Module:
    """Run an s3prl loader; its state-dict errors become a CheckpointMismatch naming the file."""
    try:
        with s3prl_compat.trusted_checkpoints():
            return load()
    except RuntimeError as exc:
        if "loading state_dict" not in str(exc):
            raise
        raise CheckpointMismatch(f"{path}: not a {name} checkpoint: "
                                 f"{' '.join(str(exc).split())[:400]}") from exc


def _check_state(path: Path, model: nn.Module, weights: dict[str, Any], name: str) -> None:
    """Refuse weights whose keys differ from ``model``'s (other top-level modules ignored)."""
    own = {child for child, _ in model.named_children()}
    found = [k for k in weights if k.split(".", 1)[0] in own]
    check_keys(str(path), list(model.state_dict()), found, name)


def decoar2_shapes(weights: dict[str, Any]) -> dict[str, Any]:
    """Overrides of ``decoar2.args`` that fit the shapes of ``weights``.

    The published checkpoint gives back s3prl's own values; the number of attention heads leaves
    no trace in the shapes and follows the published model's 64 dimensions per head. An empty
    dict when the weights lack the needed tensors (the key check then refuses them).
    """
    proj = weights.get("post_extract_proj.weight")
    pos = weights.get("encoder.pos_conv.0.weight_v")
    ffn = weights.get("encoder.layers.0.fc1.weight")
    layers = {k.split(".")[2] for k in weights if k.startswith("encoder.layers.")}
    if proj is None or pos is None or ffn is None:
        return {}
    dim = int(proj.shape[0])
    return {"encoder_embed_dim": dim, "encoder_layers": len(layers),
            "encoder_ffn_embed_dim": int(ffn.shape[0]),
            "encoder_attention_heads": max(1, dim // 64), "conv_pos": int(pos.shape[2]),
            "conv_pos_groups": dim // int(pos.shape[1])}


@contextlib.contextmanager
def decoar2_args(overrides: dict[str, Any]) -> Iterator[None]:
    """Build DeCoAR 2.0 models with ``overrides`` of s3prl's module-level ``args``; restore."""
    from s3prl.upstream.decoar2 import decoar2 as module

    original = module.args
    module.args = {**original, **overrides}
    try:
        yield
    finally:
        module.args = original


def make_tiny(info: UpstreamInfo, path: Path, seed: int = 0, full_size: bool = False) -> TinySpec:
    """A random checkpoint in the format of ``info.name``'s s3prl loader, with small dimensions.

    ``full_size`` uses the published dimensions instead (random weights, for benchmarks).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if info.name in ("vq_wav2vec", "wav2vec_large"):
            state, spec = _random_wav2vec(info.name == "vq_wav2vec", full_size)
        elif info.name == "modified_cpc":
            state, spec = _random_cpc(full_size)
        else:
            state, spec = _random_decoar2(full_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return TinySpec(str(path), *spec)


def _random_wav2vec(vq: bool, full_size: bool) -> Random:
    from s3prl.upstream.utils import merge_with_parent
    from s3prl.upstream.wav2vec.wav2vec_model import Wav2VecConfig, Wav2VecModel

    # The published models' flags (fairseq's README; the layers are Wav2VecConfig's defaults):
    # vq-wav2vec has gelu, no log compression and a gumbel quantizer with 2 groups sharing one
    # codebook of 320 entries and a 2-layer projection.
    model_cfg: dict[str, Any] = {
        "_name": "wav2vec", "infonce": False, "prediction_steps": 12, "num_negatives": 10,
        "skip_connections_agg": True, "residual_scale": 0.5, "log_compression": not vq,
        "activation": "gelu" if vq else "relu", "offset": "auto"}
    if vq:
        model_cfg.update(vq_type="gumbel", vq_vars=320 if full_size else 8, vq_groups=2,
                         combine_groups=True, vq_depth=2, vq_temp=[2.0, 0.5, 0.999995])
    if not full_size:
        model_cfg.update(TINY_WAV2VEC)
    cfg = merge_with_parent(Wav2VecConfig, model_cfg)
    model = Wav2VecModel(cfg)
    task_cfg = {"_name": "audio_pretraining", "sample_rate": 16_000, "normalize": False}
    state = {"task_cfg": task_cfg, "model_cfg": model_cfg, "model_weight": model.state_dict()}
    # hidden states: the extractor's output, the inputs of aggregator layers 2.., its output
    layers = cfg.conv_aggregator_layers.count("(")
    return state, (layers + 1, model.feature_aggregator.conv_layers[-1][1].out_channels, 100.0)


def _random_cpc(full_size: bool) -> Random:
    from s3prl.upstream.cpc.cpc_default_config import get_default_cpc_config
    from s3prl.upstream.cpc.feature_loader import getAR, getEncoder
    from s3prl.upstream.cpc.model import CPCModel

    args = get_default_cpc_config()  # the published model: 256 dims, a 1-layer LSTM
    if not full_size:
        vars(args).update(TINY_CPC)
    model = CPCModel(getEncoder(args), getAR(args))
    spec = (2, args.hiddenGar, 100.0)  # hidden: encoder and autoregressive outputs
    return {"config": dict(vars(args)), "weights": model.state_dict()}, spec


def _random_decoar2(full_size: bool) -> Random:
    from s3prl.upstream.decoar2 import decoar2 as module

    with decoar2_args({} if full_size else TINY_DECOAR2):
        model = module.Decoar2()
        spec = (module.args["encoder_layers"] + 1, module.args["encoder_embed_dim"], 50.0)
    return {"model": model.state_dict()}, spec
