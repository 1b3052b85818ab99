"""What every upstream gives the toolkit: frozen hidden states with their valid frame counts
(trainable ones when fine-tuned: upstream/finetune.py)."""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from emobench.core.errors import UserError
from emobench.upstream.info import TinySpec, UpstreamInfo  # noqa: F401 (re-exported)

PROBE_SECONDS = 1.0
SAMPLE_RATE = 16_000


class CheckpointMismatch(UserError):
    """A checkpoint whose parameter names do not match the model its loader builds."""


def check_keys(checkpoint: str | None, expected: Sequence[str], found: Sequence[str],
               what: str) -> None:
    """Refuse a checkpoint whose keys differ from the model's (loaders with strict=False)."""
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        raise CheckpointMismatch(
            f"{checkpoint}: not a {what} checkpoint: {len(missing)} model parameters missing "
            f"{missing[:5]}, {len(unexpected)} unexpected {unexpected[:5]}")


class FrozenUpstream(nn.Module):
    """A frozen s3prl expert: eval mode, no gradients, hidden states stacked with lengths.

    By default every utterance is run through the expert alone (``padded_batch=False``), so its
    features never depend on what else is in the batch (padding changes several models) and its
    frame count is exact. ``padded_batch=True`` runs one padded batch for speed; frame counts then
    come from ``frames(n)`` when given, else from s3prl's ``round(n / downsample_rate)``.

    The number of hidden states, their dimension and the frame rate are measured on a probe
    utterance when the upstream is built (a tiny checkpoint has other shapes than the published
    model); ``info`` keeps the published facts.

    ``fine_tuning`` is None (frozen: no gradient ever) until :func:`upstream.finetune.make_trainable`
    sets it; the forward then builds a graph when gradients are enabled. The expert stays in eval
    mode either way (no dropout).
    """

    def __init__(self, info: UpstreamInfo, expert: nn.Module, *, checkpoint_sha256: str | None,
                 source: str, frames: Callable[[int], int] | None = None,
                 padded_batch: bool = False):
        super().__init__()
        self.info = info
        self.expert = expert
        self.frames = frames
        self.padded_batch = padded_batch
        self.checkpoint_sha256 = checkpoint_sha256
        self.source = source
        self.fine_tuning: object | None = None  # upstream.finetune.FineTuning when fine-tuned
        self.expert.eval()
        for p in self.expert.parameters():
            p.requires_grad_(False)
        probe = torch.randn(int(PROBE_SECONDS * SAMPLE_RATE),
                            generator=torch.Generator().manual_seed(0)) * 0.1
        with torch.no_grad():
            hidden = self._hidden([probe])
        self.num_layers = len(hidden)
        self.dim = int(hidden[0].shape[-1])
        self.frame_rate = hidden[0].shape[1] / PROBE_SECONDS
        self.downsample_rate = getattr(expert, "get_downsample_rates", lambda key: None)(
            "hidden_states")

    def train(self, mode: bool = True) -> "FrozenUpstream":  # the expert stays in eval mode
        super().train(mode)
        self.expert.eval()
        return self

    def _hidden(self, wavs: list[torch.Tensor]) -> list[torch.Tensor]:
        hidden = self.expert(wavs)["hidden_states"]
        return [h if h.dim() == 3 else h.unsqueeze(1) for h in hidden]  # (B, T, D)

    def _count(self, num_samples: int, available: int) -> int:
        if self.frames is not None:
            return self.frames(num_samples)
        if not self.downsample_rate:
            return available
        return min(available, round(num_samples / self.downsample_rate))

    def forward(self, wavs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states ``(layers, batch, frames, dim)`` (zero-padded) and valid frame counts.

        Without gradients unless the upstream is fine-tuned (and gradients are enabled)."""
        with torch.set_grad_enabled(self.fine_tuning is not None and torch.is_grad_enabled()):
            return self._stacked(wavs)

    def _stacked(self, wavs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.padded_batch:
            layers = self._hidden(list(wavs))
            lengths = [self._count(len(w), layers[0].shape[1]) for w in wavs]
        else:
            alone = [self._hidden([w]) for w in wavs]
            lengths = [a[0].shape[1] for a in alone]
            layers = [pad_sequence([a[i][0] for a in alone], batch_first=True)
                      for i in range(len(alone[0]))]
        lengths_t = torch.tensor(lengths, dtype=torch.long)
        if (lengths_t <= 0).any():
            short = min(len(w) for w, n in zip(wavs, lengths) if n <= 0)
            raise ValueError(f"upstream {self.info.name}: an utterance of {short} samples is "
                             "shorter than one frame")
        hidden = torch.stack(layers)
        if not torch.isfinite(hidden).all():
            raise ValueError(f"upstream {self.info.name} produced non-finite features (an "
                             f"utterance of {min(len(w) for w in wavs)} samples may be too "
                             "short for it)")
        if hidden.shape[0] != self.num_layers or hidden.shape[-1] != self.dim:
            raise RuntimeError(f"upstream {self.info.name} returned {tuple(hidden.shape)}, "
                               f"probed as {self.num_layers} x {self.dim}")
        return hidden, lengths_t
