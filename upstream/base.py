"""What every upstream gives the toolkit: frozen hidden states with exact frame counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence


@dataclass(frozen=True)
class UpstreamInfo:
    """Static facts about an upstream, known without loading it."""

    name: str
    hidden_states: int
    dim: int
    frame_rate: float
    paper_name: str | None = None
    needs_checkpoint: bool = True
    description: str = ""


class FrozenUpstream(nn.Module):
    """A frozen s3prl expert: eval mode, no gradients, hidden states stacked with lengths.

    ``frames(n)`` gives the exact number of valid frames for an utterance of ``n`` samples.
    When ``batch_invariant`` is false the expert is run on one utterance at a time, so that
    the features never depend on what else is in the batch (padding changes some models).
    """

    def __init__(self, info: UpstreamInfo, expert: nn.Module, frames: Callable[[int], int], *,
                 batch_invariant: bool, checkpoint_sha256: str | None, source: str):
        super().__init__()
        self.info = info
        self.expert = expert
        self.frames = frames
        self.batch_invariant = batch_invariant
        self.checkpoint_sha256 = checkpoint_sha256
        self.source = source
        self.expert.eval()
        for p in self.expert.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "FrozenUpstream":  # the expert stays in eval mode
        super().train(mode)
        self.expert.eval()
        return self

    @property
    def num_layers(self) -> int:
        return self.info.hidden_states

    @torch.no_grad()
    def forward(self, wavs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states ``(layers, batch, frames, dim)`` (zero-padded) and valid frame counts."""
        lengths = torch.tensor([self.frames(len(w)) for w in wavs], dtype=torch.long)
        if (lengths <= 0).any():
            short = [len(w) for w, n in zip(wavs, lengths) if n <= 0]
            raise ValueError(f"upstream {self.info.name}: utterance of {short[0]} samples is "
                             "shorter than one frame")
        if self.batch_invariant:
            layers = [h for h in self.expert(list(wavs))["hidden_states"]]
        else:
            alone = [self.expert([w])["hidden_states"] for w in wavs]
            layers = [pad_sequence([a[i][0] for a in alone], batch_first=True)
                      for i in range(len(alone[0]))]
        hidden = torch.stack(layers)
        if hidden.shape[0] != self.info.hidden_states or hidden.shape[-1] != self.info.dim:
            raise RuntimeError(f"upstream {self.info.name} returned {tuple(hidden.shape)}, "
                               f"registered as {self.info.hidden_states} x {self.info.dim}")
        if int(lengths.max()) > hidden.shape[2]:
            raise RuntimeError(f"upstream {self.info.name}: frame count formula gives "
                               f"{int(lengths.max())} > {hidden.shape[2]} frames returned")
        return hidden, lengths
