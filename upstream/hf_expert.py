"""A transformers audio encoder called like an s3prl expert: 16 kHz waveforms in, every hidden
state out, with exact frame counts and attention masks for padded batches.

- wav2vec2, HuBERT, WavLM, data2vec-audio: the checkpoint's ``Wav2Vec2FeatureExtractor``
  (per-utterance normalisation over the real samples only) and the attention mask of the padded
  batch; frames from the model's own convolution formula.
- w2v-BERT 2.0: the ``SeamlessM4TFeatureExtractor`` (80 Kaldi fbank bins, per-utterance
  normalised, two 10-ms frames stacked: 160 values per 20-ms frame) and its attention mask, which
  the conformer's depthwise convolution and attention honour.
- Whisper: the encoder alone. Its feature extractor pads every clip with silence to 30 s and the
  encoder takes no mask, so a clip's features are the same alone or in any batch; the hidden
  states returned are only the frames of the real audio, ``ceil(samples / 320)`` (the 10-ms hop
  times the stride-2 convolution). Clips longer than 30 s run in consecutive 30-s windows whose
  real frames are concatenated.

The output is ``{"hidden_states": [(batch, frames, dim)] * (layers + 1)}``: the encoder's input
to each layer and its output (transformers' ``output_hidden_states``), trimmed to the longest
real frame count of the batch and zero-padded after each utterance's own count.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

SAMPLE_RATE = 16_000
WHISPER_WINDOW = 30 * SAMPLE_RATE  # samples per Whisper input window
WHISPER_STRIDE = 320  # 160-sample hop x conv stride 2


class HFEncoder(nn.Module):
    """``model``: the transformers encoder (Whisper: its ``encoder``); ``extractor``: its
    feature extractor; ``model_type``: config.json's ``model_type``."""

    def __init__(self, model: nn.Module, extractor: Any, model_type: str):
        super().__init__()
        self.model = model
        self.extractor = extractor
        self.model_type = model_type

    def frames(self, num_samples: int) -> int:
        """Frames of the real audio of an utterance of ``num_samples`` samples."""
        if self.model_type == "whisper":
            full, rest = divmod(num_samples, WHISPER_WINDOW)
            return full * (WHISPER_WINDOW // WHISPER_STRIDE) + math.ceil(rest / WHISPER_STRIDE)
        if self.model_type == "wav2vec2-bert":
            window, hop = 400, 160  # the Kaldi fbank's 25 ms window, 10 ms hop; two stacked
            stride = int(getattr(self.extractor, "stride", 2))
            return 0 if num_samples < window else ((num_samples - window) // hop + 1) // stride
        length = self.model._get_feat_extract_output_lengths(torch.tensor(num_samples))
        return int(length)

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def forward(self, wavs: Sequence[torch.Tensor]) -> dict[str, list[torch.Tensor]]:
        if self.model_type == "whisper":
            return {"hidden_states": self._whisper(wavs)}
        arrays = [w.detach().float().cpu().numpy() for w in wavs]
        batch = self.extractor(arrays, sampling_rate=SAMPLE_RATE, padding=True,
                               return_attention_mask=True, return_tensors="pt")
        key = "input_features" if self.model_type == "wav2vec2-bert" else "input_values"
        device = self._device()
        out = self.model(batch[key].to(device), attention_mask=batch["attention_mask"].to(device),
                         output_hidden_states=True)
        longest = max(self.frames(len(w)) for w in wavs)
        return {"hidden_states": [h[:, :longest] for h in out.hidden_states]}

    def _whisper(self, wavs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        chunks, owner = [], []
        for i, wav in enumerate(wavs):
            for start in range(0, max(len(wav), 1), WHISPER_WINDOW):
                chunks.append(wav[start:start + WHISPER_WINDOW].detach().float().cpu().numpy())
                owner.append(i)
        features = self.extractor(chunks, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        out = self.model(features["input_features"].to(self._device()),
                         output_hidden_states=True)
        counts = [math.ceil(len(c) / WHISPER_STRIDE) for c in chunks]
        layers = []
        for hidden in out.hidden_states:  # (chunks, 1500, D)
            per_utterance = [torch.cat([hidden[c, :counts[c]] for c in range(len(chunks))
                                        if owner[c] == i]) for i in range(len(wavs))]
            layers.append(pad_sequence(per_utterance, batch_first=True))
        return layers


def top_layers(expert: HFEncoder, count: int) -> list[nn.Module]:
    """The top ``count`` layers and the final layer norm that follows them, if any."""
    from emobench.core.config import ConfigError

    encoder = getattr(expert.model, "encoder", expert.model)  # Whisper: the encoder itself
    layers = list(encoder.layers)
    if not 1 <= count <= len(layers):
        raise ConfigError(f"--upstream_trainable_layers {count}: this upstream has "
                          f"{len(layers)} transformer layers (1..{len(layers)})")
    after = [m for m in (getattr(encoder, "layer_norm", None),) if m is not None]
    # post-LN encoders (wav2vec2/HuBERT/WavLM base, data2vec) apply their layer norm before
    # the layers; pre-LN ones (stable layer norm, Whisper) after them
    config = getattr(expert.model, "config", None)
    pre_ln = getattr(config, "do_stable_layer_norm", expert.model_type == "whisper")
    return layers[-count:] + (after if pre_ln else [])
