"""What is known of an upstream without loading it (no torch): the registry's metadata."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UpstreamInfo:
    """Published facts about a full-size upstream, known without loading it."""

    name: str
    hidden_states: int
    dim: int
    frame_rate: float  # frames per second; 0 for one frame per utterance
    paper_name: str | None = None
    needs_checkpoint: bool = True
    description: str = ""
    params_m: float | None = None  # parameters in millions, as published (EMO-SUPERB Table 2)
    # what the upstream was trained with that a benchmark must know: "emotion labels (...)"
    # for models trained on emotion corpora (contamination); recorded in scores.json
    training_data_flag: str | None = None
    hub_id: str | None = None  # the Hugging Face repository of transformers upstreams


@dataclass(frozen=True)
class TinySpec:
    """A tiny random checkpoint written by a family's ``make_tiny`` and the shapes it yields."""

    path: "str | None"  # None for upstreams without a checkpoint
    hidden_states: int
    dim: int
    frame_rate: float  # as FrozenUpstream measures it (frames in a 1-s probe)
