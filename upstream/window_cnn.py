"""The task-specific embedding CNN of the seed-000 paper (Raw/Zff(ExVo)-ER and -CR): a small
CNN on 250 ms windows of the raw or the zero-frequency filtered 16 kHz waveform, trained on hard
labels; the 10 pre-activation values of its fully connected layer are the window's embedding,
and their mean and standard deviation over an utterance's windows are its 20-dim vector.

Network (:class:`WindowCNN`): four ``Conv1d -> ReLU`` layers (max pooling after the first three),
the mean over time, ``Linear(channels, 10)`` (the embedding, taken before its activation),
``ReLU``, ``Linear(10, classes)`` (softmax in the loss). The paper gives the layer count, the
window, the 10-node layer and the ReLU/softmax activations, not kernel sizes, channels or how
the convolution output meets the dense layer: those are :class:`NetworkSpec` fields (defaults:
a first layer of 30 samples every 10, about 2 ms sub-segmental filters, then kernels of 7), and
the mean over time keeps the dense layer independent of the window length.

Input (:func:`prepare`): ``raw`` is the waveform; ``zff`` its zero-frequency filtered signal
(upstream/zff.py; trend window ``zff_window_ms``, or 1.5 average pitch periods of the
utterance). Either is standardised per utterance (zero mean, unit RMS; a silent utterance stays
0): the ZFF signal's scale is arbitrary (about ``(fs / 2 pi f0)**3`` times the input's).
Windows (:func:`windows`) start every ``hop_ms``; an utterance shorter than one window is
padded with zeros to one.

Checkpoint: a plain dict (``torch.load(weights_only=True)``): ``format`` (:data:`FORMAT`),
``network`` (the spec as plain data) and ``model`` (the state dict); the training task adds its
run record and config beside them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from emobench.core import checkpoint_file
from emobench.upstream.base import SAMPLE_RATE, CheckpointMismatch, check_keys
from emobench.upstream.zff import zff_signal

FORMAT = "emobench-embedding-cnn-1"
INPUTS = ("raw", "zff")


@dataclass(frozen=True)
class NetworkSpec:
    """Everything the network and its input depend on (stored in the checkpoint)."""

    input: str = "raw"  # raw | zff
    classes: tuple[str, ...] = ()  # the output classes, in order
    channels: tuple[int, ...] = (32, 64, 64, 64)
    kernels: tuple[int, ...] = (30, 7, 7, 7)
    strides: tuple[int, ...] = (10, 1, 1, 1)
    pool: int = 2  # max pooling after every convolution but the last
    embedding_dim: int = 10
    window_ms: float = 250.0
    hop_ms: float = 50.0  # between the windows of an utterance (embeddings and evaluation)
    zff_window_ms: float | None = None  # ZFF trend window; None: 1.5 mean pitch periods
    sample_rate: int = SAMPLE_RATE

    @property
    def window(self) -> int:
        return int(round(self.window_ms * self.sample_rate / 1000))

    @property
    def hop(self) -> int:
        return max(1, int(round(self.hop_ms * self.sample_rate / 1000)))

    def frames(self) -> int:
        """Time steps left after the convolutions for one window (>= 1 for a usable spec).

        >>> spec = NetworkSpec(classes=("a", "b"))
        >>> spec.frames(), WindowCNN(spec).convs(torch.zeros(1, 1, spec.window)).shape[-1]
        (39, 39)
        """
        length = self.window
        for i, (kernel, stride) in enumerate(zip(self.kernels, self.strides)):
            length = (length - kernel) // stride + 1
            if i < len(self.kernels) - 1:
                length //= self.pool
        return length

    def problems(self) -> list[str]:
        """What makes the spec unusable (empty: usable)."""
        out = []
        if self.input not in INPUTS:
            out.append(f"input {self.input!r}: one of {', '.join(INPUTS)}")
        if len(self.classes) < 2:
            out.append(f"{len(self.classes)} classes: at least 2 are needed")
        if not len(self.channels) == len(self.kernels) == len(self.strides) >= 1:
            out.append(f"channels, kernels and strides need one value per convolution "
                       f"({len(self.channels)}, {len(self.kernels)}, {len(self.strides)} given)")
        elif min(*self.channels, *self.kernels, *self.strides, self.pool,
                 self.embedding_dim) < 1:
            out.append("channels, kernels, strides, pool and embedding_dim must be >= 1")
        elif self.frames() < 1:
            out.append(f"a {self.window_ms:g} ms window is too short for these convolutions")
        if self.window_ms <= 0 or self.hop_ms <= 0:
            out.append("window_ms and hop_ms must be > 0")
        if self.zff_window_ms is not None and self.zff_window_ms <= 0:
            out.append("zff_window_ms must be > 0 (or null: 1.5 mean pitch periods)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NetworkSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v
                      for k, v in data.items() if k in names})


class WindowCNN(nn.Module):
    """Four convolutions, the mean over time, a 10-node embedding layer and the classifier."""

    def __init__(self, spec: NetworkSpec):
        super().__init__()
        layers: list[nn.Module] = []
        inputs = 1
        for i, (width, kernel, stride) in enumerate(zip(spec.channels, spec.kernels,
                                                        spec.strides)):
            layers += [nn.Conv1d(inputs, width, kernel, stride), nn.ReLU()]
            if i < len(spec.channels) - 1:
                layers.append(nn.MaxPool1d(spec.pool))
            inputs = width
        self.convs = nn.Sequential(*layers)
        self.embedding = nn.Linear(inputs, spec.embedding_dim)
        self.output = nn.Linear(spec.embedding_dim, len(spec.classes))

    def embed(self, windows: torch.Tensor) -> torch.Tensor:
        """``(B, window)`` samples -> ``(B, embedding_dim)`` pre-activation embeddings."""
        return self.embedding(self.convs(windows.unsqueeze(1)).mean(dim=2))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """``(B, window)`` samples -> ``(B, classes)`` logits."""
        return self.output(torch.relu(self.embed(windows)))


def prepare(wav: np.ndarray | torch.Tensor, spec: NetworkSpec) -> torch.Tensor:
    """The network's input signal of one utterance: raw or ZFF, standardised (float32).

    >>> out = prepare(np.array([1.0, 3.0, 1.0, 3.0]), NetworkSpec())
    >>> out.tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """
    signal = (wav.detach().cpu().double().numpy() if isinstance(wav, torch.Tensor)
              else np.asarray(wav, dtype=np.float64))
    if spec.input == "zff":
        signal = zff_signal(signal, spec.sample_rate, spec.zff_window_ms)
    signal = signal - signal.mean()
    rms = float(np.sqrt(np.mean(signal * signal))) if len(signal) else 0.0
    return torch.from_numpy(signal / rms if rms > 0 else signal).float()


def windows(signal: torch.Tensor, window: int, hop: int) -> torch.Tensor:
    """``(W, window)`` windows starting every ``hop`` samples (a short signal: one, zero-padded).

    >>> windows(torch.arange(7.0), 4, 2).tolist()
    [[0.0, 1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]]
    >>> windows(torch.ones(2), 4, 2).tolist()
    [[1.0, 1.0, 0.0, 0.0]]
    """
    if len(signal) < window:
        signal = torch.nn.functional.pad(signal, (0, window - len(signal)))
    return signal.unfold(0, window, hop)


def functionals(embeddings: torch.Tensor) -> torch.Tensor:
    """Mean and (population) standard deviation over the windows: ``(W, E)`` -> ``(2E,)``.

    >>> functionals(torch.tensor([[1.0, 0.0], [3.0, 0.0]])).tolist()
    [2.0, 0.0, 1.0, 0.0]
    """
    return torch.cat([embeddings.mean(dim=0), embeddings.std(dim=0, unbiased=False)])


def checkpoint_dict(spec: NetworkSpec, model: WindowCNN) -> dict[str, Any]:
    """The network's part of a checkpoint: plain data and tensors only."""
    return {"format": FORMAT, "network": spec.to_dict(), "model": model.state_dict()}


def load(path: str | Path) -> tuple[NetworkSpec, WindowCNN]:
    """The spec and the trained network of a checkpoint (``weights_only``), in eval mode."""
    saved = checkpoint_file.load(path, "embedding CNN checkpoint")
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise CheckpointMismatch(f"{path} is not an embedding CNN checkpoint (train one with "
                                 "-d embedding_cnn; its dev-best.ckpt is the checkpoint)")
    spec = NetworkSpec.from_dict(saved["network"])
    if spec.problems():
        raise CheckpointMismatch(f"{path}: unusable network spec: {'; '.join(spec.problems())}")
    model = WindowCNN(spec)
    check_keys(str(path), list(model.state_dict()), list(saved["model"]), "embedding CNN")
    model.load_state_dict(saved["model"])
    return spec, model.eval()

