"""Typed config of the multitask task's text and fusion inputs (docs/text.md): the text upstream
(``model.text``), the fusion of speech and text (``model.fusion``), the paper's speaker
variants (``model.speaker``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class TextConfig:
    # roberta_large | roberta_base (Hugging Face hub / cache), tiny_random (a random RoBERTa
    # over the corpus's transcript words, built offline: the demo's), or a local model folder;
    # null: no text input (speech only)
    upstream: str | None = None
    pooling: Literal["mean", "cls"] = "mean"  # mean over the non-padding tokens, or the first
    layer: int | None = None  # one hidden state; null: a learnable softmax-weighted sum
    max_tokens: int = 512  # longer transcripts are truncated (counted in scores.json)
    batch_size: int = 16  # transcripts per text-model call when embedding
    seed: int = 0  # tiny_random: the seed of its random weights


@dataclass
class FusionConfig:
    # the pointwise (Linear) projection of the layer-weighted speech vector before it is
    # concatenated with the text embedding (IS25's framework: 256); null: no projection
    projection: int | None = None


@dataclass
class SpeakerConfig:
    # beta: the loss weight of a speaker-prediction head (a categorical target "speaker" on
    # data.speaker_column, over the training speakers and trained on the training rows only;
    # the IS25 paper's "+S Pred" row); 0: no speaker head
    prediction: float = 0.0
