"""openSMILE functionals, the ExVo 2022 baseline features: ``compare`` and ``egemaps``.

- ``compare``: ComParE 2016 functionals, 6373 dims.
- ``egemaps``: eGeMAPS v02 functionals, 88 dims.

Computed by the ``opensmile`` Python package (audEERING) on each 16 kHz utterance alone; one
utterance-level vector, returned as a single frame (FrozenUpstream measures 1.0 frame/s on its
1-s probe, but every utterance gives one frame whatever its length). No checkpoint: the recorded
``checkpoint_sha256`` is the sha256 of a description of what produced the features (opensmile
version, feature set, level), so that scores say which openSMILE made them. openSMILE fills the
functionals of utterances shorter than its analysis window (about 60 ms) with NaN: those are
refused with a clear error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from emobench.upstream.base import SAMPLE_RATE, FrozenUpstream, TinySpec, UpstreamInfo
from emobench.upstream.s3prl_compat import UpstreamUnavailable

FEATURE_SETS = {"compare": ("ComParE_2016", 6373), "egemaps": ("eGeMAPSv02", 88)}
LEVEL = "Functionals"
# upstream/finetune.py: why -f refuses these upstreams
FINE_TUNING_REFUSAL = ("openSMILE computes its functionals in C++ outside torch: there are no "
                       "parameters and no gradient to fine-tune")


def _opensmile() -> ModuleType:
    try:
        import opensmile
    except ImportError as exc:
        raise UpstreamUnavailable("the openSMILE upstreams need the opensmile package: "
                                  "pip install opensmile") from exc
    return opensmile


def description(feature_set: str) -> dict[str, str]:
    """What produces the features of ``feature_set`` (an opensmile FeatureSet name)."""
    return {"opensmile": _opensmile().__version__, "feature_set": feature_set,
            "feature_level": LEVEL}


class OpenSmileExpert(nn.Module):
    """openSMILE functionals behind s3prl's expert interface: ``{"hidden_states": [(B, 1, D)]}``."""

    def __init__(self, feature_set: str):
        super().__init__()
        opensmile = _opensmile()
        self.feature_set = feature_set
        self.smile = opensmile.Smile(feature_set=opensmile.FeatureSet[feature_set],
                                     feature_level=opensmile.FeatureLevel[LEVEL])

    def _functionals(self, wav: torch.Tensor) -> torch.Tensor:
        signal = wav.detach().to("cpu", torch.float32).numpy()
        values = self.smile.process_signal(signal, SAMPLE_RATE).to_numpy(dtype=np.float32)
        if not np.isfinite(values).all():
            raise ValueError(f"openSMILE {self.feature_set} gives non-finite features for an "
                             f"utterance of {len(signal)} samples (utterances shorter than "
                             "about 60 ms give NaN)")
        return torch.tensor(values, device=wav.device)  # (1, D)

    def forward(self, wavs: list[torch.Tensor]) -> dict[str, list[torch.Tensor]]:
        return {"hidden_states": [torch.stack([self._functionals(w) for w in wavs])]}


def build(info: UpstreamInfo, checkpoint: str | None) -> FrozenUpstream:
    feature_set, _ = FEATURE_SETS[info.name]
    about = description(feature_set)
    sha = hashlib.sha256(json.dumps(about, sort_keys=True).encode()).hexdigest()
    return FrozenUpstream(info, OpenSmileExpert(feature_set), checkpoint_sha256=sha,
                          source=f"opensmile {about['opensmile']} {feature_set}")


def make_tiny(info: UpstreamInfo, path: Path, seed: int = 0, full_size: bool = False) -> TinySpec:
    """openSMILE has no checkpoint (and one size): nothing is written."""
    return TinySpec(None, 1, FEATURE_SETS[info.name][1], 1.0)
