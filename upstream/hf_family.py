"""The Hugging Face ``transformers`` upstream family: registered names (upstream/hf_models.py)
and ``-u hf:<hub id or local folder>``, loaded with ``AutoConfig`` / ``AutoFeatureExtractor`` /
``AutoModel`` (files located by upstream/hf_source.py) and run by upstream/hf_expert.py.

The checkpoint hash in scores.json and the feature-cache key is the sha256 of the loaded
weights (every tensor's name, dtype, shape and bytes, as for text upstreams) together with the
feature extractor's settings; the source records the hub id and its revision (the cache
snapshot) or the folder.

Padded batches: Whisper and w2v-BERT 2.0 give the same features alone and in a padded batch
(float rounding), so do wav2vec 2.0 models with a layer-norm feature extractor (XLS-R): these run
padded batches by default. The group-norm base models (wav2vec2, HuBERT and WavLM base) normalise
over the padded time axis and data2vec's position convolutions see the padding: these run one
utterance at a time by default (docs/upstreams.md gives the measured deviations).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from emobench.core.errors import UserError
from emobench.upstream import hf_source
from emobench.upstream.base import FrozenUpstream, TinySpec, UpstreamInfo
from emobench.upstream.hf_expert import HFEncoder
from emobench.upstream.hf_expert import top_layers as encoder_top_layers
from emobench.upstream.hf_models import FRAME_RATE, HF_MODELS, MODEL_TYPES, HFModel
from emobench.upstream.text import state_sha256

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64, "conv_dim": (32,) * 7, "num_conv_pos_embedding_groups": 4,
        "num_conv_pos_embeddings": 16}
TINY_WHISPER = {"d_model": 32, "encoder_layers": 2, "encoder_attention_heads": 2,
                "encoder_ffn_dim": 64, "decoder_layers": 1, "decoder_attention_heads": 2,
                "decoder_ffn_dim": 64, "vocab_size": 64, "max_target_positions": 32,
                "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 1,
                "decoder_start_token_id": 2, "suppress_tokens": None,
                "begin_suppress_tokens": None}


def source_of(info: UpstreamInfo, checkpoint: str | None) -> hf_source.Source:
    """Where ``info``'s files are (a UserError with instructions when they are missing)."""
    if info.name.startswith("hf:"):
        argument = info.name[len("hf:"):]
        if Path(argument).is_dir():
            hf_source.check_folder(Path(argument), info.name, None)
            return hf_source.Source(argument, info.name, True)
        return hf_source.locate(info.name, argument, None)
    return hf_source.locate(info.name, HF_MODELS[info.name].hub_id, checkpoint)


def available(info: UpstreamInfo, checkpoint: str | None) -> None:
    """Before a run builds anything: the files are here or may be downloaded."""
    if checkpoint and info.name.startswith("hf:"):
        raise UserError(f"-u {info.name} names the model itself: -k {checkpoint} is not used "
                        "(give the folder as -u hf:FOLDER)")
    source_of(info, checkpoint)


def build(info: UpstreamInfo, checkpoint: str | None) -> FrozenUpstream:
    source = source_of(info, checkpoint)
    expert = load(source, info.name)
    extractor = json.dumps(expert.extractor.to_dict(), sort_keys=True, default=str)
    digest = hashlib.sha256(f"{state_sha256(expert.model)}|{extractor}".encode()).hexdigest()
    label = source.label
    revision = getattr(expert.model.config, "_commit_hash", None)
    if not source.local and revision:
        label = f"{label}@{revision}"
    return FrozenUpstream(info, expert, checkpoint_sha256=digest, source=label,
                          frames=expert.frames, padded_batch=exact_padding(expert))


def exact_padding(expert: HFEncoder) -> bool:
    """Whether a padded batch gives each utterance's features alone (module docstring)."""
    if expert.model_type in ("whisper", "wav2vec2-bert"):
        return True
    return (expert.model_type == "wav2vec2"
            and getattr(expert.model.config, "feat_extract_norm", "group") == "layer")


def load(source: hf_source.Source, name: str) -> HFEncoder:
    """The encoder and feature extractor at ``source``; download failures explained."""
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

    try:
        config = AutoConfig.from_pretrained(source.location)
        if config.model_type not in MODEL_TYPES:
            raise UserError(f"upstream {name}: model_type {config.model_type!r} is not an audio "
                            f"encoder this toolkit loads (one of {', '.join(MODEL_TYPES)})")
        extractor = AutoFeatureExtractor.from_pretrained(source.location)
        model = AutoModel.from_pretrained(source.location, dtype=torch.float32)
    except UserError:
        raise
    except Exception as exc:  # hub / network / file errors of the transformers loaders
        if source.local:
            raise UserError(f"upstream {name}: {source.location} could not be loaded "
                            f"({type(exc).__name__}: {str(exc)[:300]})") from None
        raise hf_source.missing(name, source.location,
                                f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                                ) from None
    if config.model_type == "whisper":
        model = model.get_encoder()
    model.eval()
    return HFEncoder(model, extractor, config.model_type)


def top_layers(expert: HFEncoder, count: int) -> list[torch.nn.Module]:
    return encoder_top_layers(expert, count)


def make_tiny(info: UpstreamInfo, path: Path, seed: int = 0, full_size: bool = False
              ) -> TinySpec:
    """A random model folder of ``info.name``'s model class (tiny dims unless ``full_size``),
    with its feature extractor, written by save_pretrained (the hub's layout)."""
    if info.name not in HF_MODELS:
        raise UserError(f"upstream {info.name}: make_tiny needs a registered name")
    model_row = HF_MODELS[info.name]
    model, extractor = tiny_model(model_row, seed, full_size)
    write_folder(Path(path), model, extractor)
    layers, dim = hidden_shape(model.config)
    return TinySpec(str(path), layers, dim, FRAME_RATE)


def tiny_config(row: HFModel, full_size: bool = False) -> Any:
    """The transformers config of ``row``'s class: its published fields, tiny dimensions."""
    import transformers

    cls = getattr(transformers, MODEL_TYPES[row.model_type])
    fields = dict(row.config)
    if not full_size:
        fields.update(TINY_WHISPER if row.model_type == "whisper" else
                      {k: v for k, v in TINY.items() if row.model_type != "data2vec-audio"
                       or k != "num_conv_pos_embeddings"})
        if row.model_type == "wav2vec2-bert":
            for key in ("conv_dim", "num_conv_pos_embedding_groups", "num_conv_pos_embeddings"):
                fields.pop(key)
        fields.update(row.tiny)
    return cls(**fields)


def tiny_model(row: HFModel, seed: int = 0, full_size: bool = False) -> tuple[Any, Any]:
    import transformers
    from transformers import AutoModel

    config = tiny_config(row, full_size)
    if row.model_type == "whisper":
        extractor = transformers.WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    elif row.model_type == "wav2vec2-bert":
        extractor = transformers.SeamlessM4TFeatureExtractor()
    else:
        layer_norm = getattr(config, "feat_extract_norm", "layer") == "layer"
        extractor = transformers.Wav2Vec2FeatureExtractor(
            do_normalize=True, return_attention_mask=layer_norm)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModel.from_config(config)
    return model.eval(), extractor


def hidden_shape(config: Any) -> tuple[int, int]:
    if config.model_type == "whisper":
        return config.encoder_layers + 1, config.d_model
    return config.num_hidden_layers + 1, config.hidden_size


def write_folder(path: Path, model: Any, extractor: Any) -> None:
    """save_pretrained into a temporary sibling, renamed into place (complete or absent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        model.save_pretrained(tmp)
        extractor.save_pretrained(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
