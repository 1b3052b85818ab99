"""The SERAB paper's BYOL upstreams through s3prl: ``byol_a_512`` and ``byol_s_512``.

Both run the AudioNTT2020 CNN (three conv blocks of 64 channels, two fully connected layers of
``feature_d`` units, mean + max over time) on 1-s windows of a 64-band log-mel spectrogram and
return one hidden state of ``feature_d`` dims per window.

Checkpoints: a plain AudioNTT2020 state dict (``features.*``, ``fc.*``), as BYOL-A and SERAB
publish them; for byol_a, as in s3prl, also one wrapped in ``{"state_dict": ...}`` or with key
prefixes (stripped). ``feature_d`` is read from the checkpoint (``fc.3.weight``), so tiny and
full-size checkpoints load alike; the key set is checked before s3prl's strict load.

- ``byol_a_512``: s3prl's byol_a expert unchanged: windows of 1 s every 1 s (the last one
  zero-padded), log-mel normalised with fixed statistics; one frame per started second
  (FrozenUpstream measures 1.0 frame/s). Without ``-k``: s3prl's byol_a_512 weights.
- ``byol_s_512``: s3prl's byol_s expert (windows of 1 s every 50 ms, centred with half a window
  of zeros at each end: ``n // 800 + 1`` frames for ``n`` samples, 21 for 1 s), with two
  deviations from s3prl 0.4.18 (one forced, one fixing a flaw):
  * its expert always builds the 2048-dim model of its bundled config; here s3prl's
    ``serab.load_model`` gets a temporary copy of that config whose ``feature_d`` is the
    checkpoint's (512 for the SERAB release);
  * its ``compute_timestamp_stats`` divides the log-mel mean and std by the number of windows
    in the call (about 20 per second of audio), which multiplies the normalised input by that
    number: with the SERAB weights the mean feature is 5.3 for 1 s and 21 for 3 s of a tone in
    noise; here the log-mel is normalised by its plain mean and std (1.12 and 1.17).
  The statistics span every window of the call, so features depend on the batch: extraction
  is per utterance (byol_a's padded batches are exact, but per-utterance costs it little).
  s3prl publishes no 512-dim BYOL-S; without ``-k`` the SERAB release is fetched.
- byol_s's ``byol_a/common.py`` calls ``torchaudio.set_audio_backend`` at import, removed in
  torchaudio 2.9: a no-op stand-in exists only while that hubconf is imported.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Iterator

import torch
import yaml
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torchaudio.transforms import MelSpectrogram

from emobench.core import checkpoint_file
from emobench.upstream import s3prl_compat
from emobench.upstream.base import (PROBE_SECONDS, SAMPLE_RATE, CheckpointMismatch, FrozenUpstream,
                           TinySpec, UpstreamInfo, check_keys)

PUBLISHED = {  # s3prl's byol_a_512 URL; the SERAB release (MIT) for byol_s_512
    "byol_a_512": "https://github.com/nttcslab/byol-a/raw/master/pretrained_weights/"
                  "AudioNTT2020-BYOLA-64x96d512.pth",
    "byol_s_512": "https://github.com/Neclow/SERAB/raw/HEAD/SERAB/checkpoints/"
                  "default512_BYOLAs64x96-2107281850-e100-bs256-lr0003-rs42.pth",
}
N_MELS = 64
TINY_DIM = 64
BYOL_S_HOP_MS = 50  # s3prl's byol_s hop
BYOL_S_HOP = SAMPLE_RATE * BYOL_S_HOP_MS // 1000
_PREFIX = re.compile(r"(^fc\.|\.fc\.|^features\.|\.features\.)")  # s3prl byol_a's load_weight


def byol_a_frames(num_samples: int) -> int:
    """Frames of s3prl's byol_a: one per started second.

    >>> byol_a_frames(16000), byol_a_frames(16001), byol_a_frames(27200)
    (1, 2, 2)
    """
    return -(-num_samples // SAMPLE_RATE)


def byol_s_frames(num_samples: int) -> int:
    """Frames of s3prl's byol_s: centred 1-s windows every 50 ms.

    >>> byol_s_frames(16000), byol_s_frames(27200), byol_s_frames(100)
    (21, 35, 1)
    """
    return num_samples // BYOL_S_HOP + 1


@contextlib.contextmanager
def _set_audio_backend_stub() -> Iterator[None]:
    """A no-op ``torchaudio.set_audio_backend`` while byol_s's hubconf is imported, then none."""
    import torchaudio

    if hasattr(torchaudio, "set_audio_backend"):  # torchaudio < 2.9
        yield
        return
    torchaudio.set_audio_backend = lambda backend: None
    try:
        yield
    finally:
        del torchaudio.set_audio_backend


def _byol_s_serab() -> ModuleType:
    """s3prl's ``byol_s.serab_byols.serab``, imported through byol_s's hubconf."""
    with _set_audio_backend_stub():
        s3prl_compat.hubconf("byol_s")
    from s3prl.upstream.byol_s.serab_byols import serab

    return serab


def _audio_ntt(name: str, feature_d: int) -> nn.Module:
    """s3prl's AudioNTT2020 of upstream ``name``, randomly initialised."""
    if name == "byol_a_512":
        s3prl_compat.hubconf("byol_a")
        from s3prl.upstream.byol_a.byol_a import AudioNTT2020
    else:
        AudioNTT2020 = _byol_s_serab().AudioNTT2020
    return AudioNTT2020(n_mels=N_MELS, d=feature_d)


class ByolSExpert(nn.Module):
    """s3prl's byol_s expert with the checkpoint's ``feature_d`` and unscaled statistics."""

    def __init__(self, checkpoint: str, feature_d: int):
        super().__init__()
        serab = _byol_s_serab()
        config_file = Path(serab.__file__).with_name("config.yaml")
        config = yaml.safe_load(config_file.read_text())
        with tempfile.TemporaryDirectory() as tmp:
            own_config = Path(tmp, "config.yaml")
            own_config.write_text(yaml.safe_dump({**config, "feature_d": feature_d}))
            self.model = serab.load_model(checkpoint, "default", cfg_path=str(own_config))
        self.to_melspec = MelSpectrogram(
            sample_rate=config["sample_rate"], n_fft=config["n_fft"],
            win_length=config["win_length"], hop_length=config["hop_length"],
            n_mels=config["n_mels"], f_min=config["f_min"], f_max=config["f_max"])

    def get_downsample_rates(self, key: str | None = None) -> int:
        return BYOL_S_HOP

    def forward(self, wavs: list[torch.Tensor]) -> dict[str, list[torch.Tensor]]:
        from s3prl.upstream.byol_s.serab_byols.utils import frame_audio

        frames, _ = frame_audio(pad_sequence(wavs, batch_first=True), frame_size=SAMPLE_RATE,
                                hop_size=BYOL_S_HOP_MS, sample_rate=SAMPLE_RATE)
        batch, windows, _ = frames.shape
        logmel = (self.to_melspec(frames.flatten(end_dim=1)) + torch.finfo(torch.float).eps).log()
        logmel = (logmel - logmel.mean()) / logmel.std()  # s3prl divides both by len(logmel)
        embeddings = self.model(logmel.unsqueeze(1))
        return {"hidden_states": [embeddings.reshape(batch, windows, -1)]}


def _state_dict(checkpoint: str, path: Path, strip_prefixes: bool) -> dict[str, torch.Tensor]:
    state = checkpoint_file.load(path, "BYOL checkpoint")
    if not isinstance(state, dict):
        raise CheckpointMismatch(f"{checkpoint}: not a state dict ({type(state).__name__})")
    if strip_prefixes:  # as s3prl's byol_a loader does
        state = state.get("state_dict", state)
        state = {k[m.start():].lstrip("."): v for k, v in state.items()
                 if (m := _PREFIX.search(k))}
    return state


def build(info: UpstreamInfo, checkpoint: str | None) -> FrozenUpstream:
    if checkpoint is None:
        from s3prl.util.download import _urls_to_filepaths

        checkpoint = s3prl_compat.fetch(info.name,
                                        lambda: _urls_to_filepaths(PUBLISHED[info.name]))
    path, sha = s3prl_compat.local_checkpoint(checkpoint)
    is_a = info.name == "byol_a_512"
    state = _state_dict(checkpoint, path, strip_prefixes=is_a)
    feature_d = int(state["fc.3.weight"].shape[0]) if "fc.3.weight" in state else info.dim
    check_keys(checkpoint, list(_audio_ntt(info.name, feature_d).state_dict()), list(state),
               f"{info.name} (AudioNTT2020, feature_d {feature_d})")
    with s3prl_compat.trusted_checkpoints():
        if is_a:
            hubconf = s3prl_compat.hubconf("byol_a")
            expert = hubconf._UpstreamExpert(str(path), hubconf.DEFAULT_CONFIG_PATH, feature_d)
            source = "s3prl:byol_a.UpstreamExpert"
        else:
            expert = ByolSExpert(str(path), feature_d)
            source = "s3prl:byol_s.serab.load_model (feature_d from checkpoint, unscaled stats)"
    return FrozenUpstream(info, expert, checkpoint_sha256=sha, source=source,
                          padded_batch=False)


def make_tiny(info: UpstreamInfo, path: Path, seed: int = 0, full_size: bool = False) -> TinySpec:
    """A random AudioNTT2020 state dict with ``feature_d`` 64 (about 0.45 MB).

    ``full_size`` uses the published ``feature_d`` (512) instead (random weights, benchmarks).
    """
    dim = info.dim if full_size else TINY_DIM
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _audio_ntt(info.name, dim)
        for module in model.modules():  # running statistics that make batch norm act
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    frames = byol_a_frames if info.name == "byol_a_512" else byol_s_frames
    rate = frames(int(PROBE_SECONDS * SAMPLE_RATE)) / PROBE_SECONDS
    return TinySpec(str(path), 1, dim, rate)
