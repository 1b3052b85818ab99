"""The registered Hugging Face ``transformers`` audio encoders: the upstream table (no torch).

Every row names a hub repository, the architecture fields of its ``config.json`` (copied from
the hub's config files, https://huggingface.co/<hub id>/blob/main/config.json; the table's hidden
states, dimension and parameters follow from them and ``tests/test_upstream_hf.py`` rebuilds the
full-size model from these fields, without weights, to check them), and, where the model was
trained with emotion labels, the training-data flag that scores.json records.

``hf:<hub id or local folder>`` loads any other checkpoint of these model types
(:func:`dynamic`). Names keep their s3prl meaning (``wavlm_base_plus``, ``hubert_base``,
``xls_r_300m``; s3prl's ``wav2vec2``, ``hubert``, ``wavlm`` and ``data2vec`` are the base models),
except where EMO-SUPERB overrides them: ``wavlm``, ``hubert``, ``data2vec`` mean the large
models of EMO-SUPERB's table (upstream/registry.py), so only ``wav2vec2`` is an alias here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emobench.core.errors import UserError
from emobench.upstream.info import UpstreamInfo

# model_type (config.json) -> the transformers config class; what loads and what pads how
MODEL_TYPES = {"wav2vec2": "Wav2Vec2Config", "hubert": "HubertConfig", "wavlm": "WavLMConfig",
               "data2vec-audio": "Data2VecAudioConfig", "wav2vec2-bert": "Wav2Vec2BertConfig",
               "whisper": "WhisperConfig"}
FRAME_RATE = 50.0  # every model type here: 20 ms frames (conv stride 320, or 2 x 10 ms fbank)
EMOTION_LABELS = "emotion labels"

BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "intermediate_size": 3072, "conv_bias": False}
GROUP_NORM = {**BASE, "feat_extract_norm": "group", "do_stable_layer_norm": False}
LARGE_LN = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
            "intermediate_size": 4096, "feat_extract_norm": "layer", "do_stable_layer_norm": True,
            "conv_bias": True}


def whisper(d_model: int, layers: int, heads: int, mels: int = 80, vocab: int = 51865
            ) -> dict[str, Any]:
    """A Whisper config's fields (the decoder mirrors the encoder in every published size)."""
    return {"d_model": d_model, "encoder_layers": layers, "encoder_attention_heads": heads,
            "encoder_ffn_dim": 4 * d_model, "num_mel_bins": mels, "max_source_positions": 1500,
            "decoder_layers": layers, "decoder_attention_heads": heads,
            "decoder_ffn_dim": 4 * d_model, "vocab_size": vocab}


@dataclass(frozen=True)
class HFModel:
    """One registered transformers upstream."""

    hub_id: str
    model_type: str
    config: dict[str, Any]  # architecture fields of the hub's config.json
    hidden_states: int
    dim: int
    params_m: float  # encoder parameters in millions (Whisper: the encoder alone)
    aliases: tuple[str, ...] = ()
    training_data_flag: str | None = None
    note: str = ""
    tiny: dict[str, Any] = field(default_factory=dict)  # extra fields of the tiny test copy

    def info(self, name: str) -> UpstreamInfo:
        return UpstreamInfo(name, self.hidden_states, self.dim, FRAME_RATE, None, True,
                            f"transformers {self.hub_id}", self.params_m,
                            training_data_flag=self.training_data_flag, hub_id=self.hub_id)


HF_MODELS: dict[str, HFModel] = {
    "wav2vec2_base": HFModel("facebook/wav2vec2-base", "wav2vec2", GROUP_NORM, 13, 768, 94.4,
                             ("wav2vec2", "wav2vec2_base_960")),
    "hubert_base": HFModel("facebook/hubert-base-ls960", "hubert", GROUP_NORM, 13, 768, 94.4),
    "wavlm_base_plus": HFModel("microsoft/wavlm-base-plus", "wavlm",
                               {**GROUP_NORM, "num_buckets": 320, "max_bucket_distance": 800},
                               13, 768, 94.4),
    "data2vec_base": HFModel("facebook/data2vec-audio-base", "data2vec-audio",
                             {**BASE, "num_conv_pos_embeddings": 5, "conv_pos_kernel_size": 19},
                             13, 768, 93.2, ("data2vec_base_960",)),
    "xls_r_300m": HFModel("facebook/wav2vec2-xls-r-300m", "wav2vec2", LARGE_LN, 25, 1024, 315.4),
    "w2v_bert_2": HFModel("facebook/w2v-bert-2.0", "wav2vec2-bert",
                          {"hidden_size": 1024, "num_hidden_layers": 24,
                           "num_attention_heads": 16, "intermediate_size": 4096,
                           "feature_projection_input_dim": 160, "conv_depthwise_kernel_size": 31,
                           "position_embeddings_type": "relative_key",
                           "left_max_position_embeddings": 64,
                           "right_max_position_embeddings": 8}, 25, 1024, 580.5,
                          ("w2v-bert-2.0",)),
    "whisper_base": HFModel("openai/whisper-base", "whisper", whisper(512, 6, 8), 7, 512, 20.6),
    "whisper_small": HFModel("openai/whisper-small", "whisper", whisper(768, 12, 12), 13, 768,
                             88.2),
    "whisper_medium": HFModel("openai/whisper-medium", "whisper", whisper(1024, 24, 16), 25,
                              1024, 307.2),
    "whisper_large_v3": HFModel("openai/whisper-large-v3", "whisper",
                                whisper(1280, 32, 20, mels=128, vocab=51866), 33, 1280, 637.0,
                                ("whisper",)),
    # fine-tuned with emotion labels: flagged (scores.json records the flag)
    "wav2vec2_base_superb_er": HFModel(
        "superb/wav2vec2-base-superb-er", "wav2vec2", GROUP_NORM, 13, 768, 94.4,
        training_data_flag=f"{EMOTION_LABELS} (SUPERB ER: IEMOCAP 4 classes; an emotion head "
        "trained on the frozen wav2vec2-base)"),
    "xlsr_53_ravdess_ser": HFModel(
        "ehcalabres/wav2vec2-lg-xlsr-en-speech-emotion-recognition", "wav2vec2", LARGE_LN, 25,
        1024, 315.4, training_data_flag=f"{EMOTION_LABELS} (fine-tuned on RAVDESS, 8 classes)"),
}


def weights_present(folder: Path) -> bool:
    """A model folder holds weights: safetensors, a PyTorch bin, or a sharded index."""
    return any((folder / f).is_file() for f in (
        "model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
        "pytorch_model.bin.index.json"))


def read_config(folder: Path) -> dict[str, Any]:
    """The ``config.json`` of a model folder; a UserError naming a missing or foreign one."""
    path = folder / "config.json"
    if not path.is_file():
        raise UserError(f"{folder}: not a transformers model folder (no config.json)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable ({exc})") from None
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        raise UserError(f"{path}: model_type {model_type!r} is not an audio encoder this "
                        f"toolkit loads (one of {', '.join(MODEL_TYPES)})")
    return config


def shape_of(config: dict[str, Any]) -> tuple[int, int]:
    """(hidden states, dimension) that a config's encoder returns."""
    if config.get("model_type") == "whisper":
        return int(config.get("encoder_layers", 4)) + 1, int(config.get("d_model", 384))
    return int(config.get("num_hidden_layers", 12)) + 1, int(config.get("hidden_size", 768))


def dynamic(argument: str) -> tuple[str, UpstreamInfo]:
    """``hf:<argument>``: its canonical name (a local folder made absolute) and its info.

    The shapes come from the folder's config.json (or the registered row of the same hub id),
    else they are measured when the model loads (0 here).
    """
    if not argument:
        raise UserError("-u hf:<hub id or local folder>: nothing after 'hf:'")
    folder = Path(argument).expanduser()
    if folder.is_dir():
        folder = folder.resolve()
        hidden, dim = shape_of(read_config(folder))
        canonical = f"hf:{folder}"
        return canonical, UpstreamInfo(canonical, hidden, dim, FRAME_RATE, None, False,
                                       f"transformers model folder {folder}")
    if argument.startswith((".", "/", "~")) or argument.count("/") != 1:
        raise UserError(f"-u hf:{argument}: no such model folder, and not a hub id "
                        "(<organisation>/<name>)")
    known = next((m for m in HF_MODELS.values() if m.hub_id == argument), None)
    canonical = f"hf:{argument}"
    if known is not None:
        return canonical, UpstreamInfo(
            canonical, known.hidden_states, known.dim, FRAME_RATE, None, False,
            f"transformers {argument}", known.params_m,
            training_data_flag=known.training_data_flag, hub_id=argument)
    return canonical, UpstreamInfo(canonical, 0, 0, FRAME_RATE, None, False,
                                   f"transformers {argument}", hub_id=argument)


def folder_name(name: str) -> str:
    """A file-system-safe form of an upstream name (``hf:`` names hold ``/`` and ``:``).

    >>> folder_name("wavlm_large"), folder_name("hf:facebook/wav2vec2-base")[:27]
    ('wavlm_large', 'hf_facebook--wav2vec2-base_')
    """
    if name.replace("_", "").replace("-", "").replace(".", "").replace("+", "").isalnum():
        return name
    readable = name.replace(":", "_").strip("/").replace("/", "--")[-60:].lstrip("-")
    return f"{readable}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
