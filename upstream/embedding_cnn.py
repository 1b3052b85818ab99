"""The seed-000 paper's task-specific embeddings as upstreams: ``raw_cnn`` and ``zff_cnn``.

``-u raw_cnn -k CKPT`` (or ``zff_cnn``) loads an embedding CNN trained with ``-d embedding_cnn``
(its ``dev-best.ckpt``; upstream/window_cnn.py) and gives one 20-dim vector per utterance: the
mean and standard deviation of the 10-dim embeddings of its 250 ms windows (windows every
``hop_ms`` of the checkpoint's spec). Like the openSMILE functionals, the vector is returned as
a single frame (FrozenUpstream measures 1.0 frame/s on its 1-s probe, whatever the length), so
every task's pooled path uses it as it is; ``model.functionals=mean_std`` is refused as for any
one-vector upstream. The checkpoint's sha256 is the feature cache's key and is recorded in
scores.json. The name must match the checkpoint's input (a ZFF network is ``zff_cnn``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from emobench.core import io
from emobench.core.errors import UserError
from emobench.upstream.base import FrozenUpstream, TinySpec, UpstreamInfo
from emobench.upstream.s3prl_compat import local_checkpoint
from emobench.upstream.window_cnn import (NetworkSpec, WindowCNN, checkpoint_dict, functionals,
                                          load, prepare, windows)

INPUT_OF = {"raw_cnn": "raw", "zff_cnn": "zff"}  # upstream name -> the network's input
TINY = dict(classes=("a", "b", "c"), channels=(8, 8, 8, 8), kernels=(30, 5, 5, 5))


class EmbeddingExpert(nn.Module):
    """The trained CNN behind s3prl's expert interface: ``{"hidden_states": [(B, 1, 2E)]}``."""

    def __init__(self, spec: NetworkSpec, network: WindowCNN):
        super().__init__()
        self.spec = spec
        self.network = network

    def utterance(self, wav: torch.Tensor) -> torch.Tensor:
        """The ``(2E,)`` mean and std of one utterance's window embeddings."""
        signal = prepare(wav, self.spec).to(wav.device)
        return functionals(self.network.embed(windows(signal, self.spec.window, self.spec.hop)))

    def forward(self, wavs: list[torch.Tensor]) -> dict[str, list[torch.Tensor]]:
        return {"hidden_states": [torch.stack([self.utterance(w) for w in wavs]).unsqueeze(1)]}


def build(info: UpstreamInfo, checkpoint: str | None) -> FrozenUpstream:
    if checkpoint is None:
        raise UserError(f"upstream {info.name} needs -k CHECKPOINT: the dev-best.ckpt of "
                        f"-m train -u {info.name} -d embedding_cnn (docs/exvo_study.md)")
    path, sha = local_checkpoint(checkpoint)
    spec, network = load(path)
    if spec.input != INPUT_OF[info.name]:
        other = next(name for name, given in INPUT_OF.items() if given == spec.input)
        raise UserError(f"{checkpoint} is a network on {spec.input} input: use -u {other}, "
                        f"not {info.name}")
    return FrozenUpstream(info, EmbeddingExpert(spec, network), checkpoint_sha256=sha,
                          source=f"embedding CNN on {spec.input} input, {len(spec.classes)} "
                                 f"classes {list(spec.classes)}, windows of "
                                 f"{spec.window_ms:g} ms every {spec.hop_ms:g} ms")


def make_tiny(info: UpstreamInfo, path: Path, seed: int = 0) -> TinySpec:
    """A random embedding CNN of four 8-channel convolutions, in the trained checkpoint's
    format (its dimension is the real one: 2 x 10)."""
    spec = NetworkSpec(input=INPUT_OF[info.name], **TINY)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = WindowCNN(spec)
        for module in network.convs:  # positive biases: no ReLU of the random network is dead
            if isinstance(module, nn.Conv1d):
                nn.init.uniform_(module.bias, 0.05, 0.2)
    io.torch_save(checkpoint_dict(spec, network), path)
    return TinySpec(str(path), 1, 2 * spec.embedding_dim, 1.0)
