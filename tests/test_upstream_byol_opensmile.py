"""BYOL-A / BYOL-S 512 (tiny random and real checkpoints) and the openSMILE functionals."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from emobench.upstream import build_upstream, make_tiny
from emobench.upstream.base import CheckpointMismatch
from emobench.upstream.byol import byol_a_frames, byol_s_frames
from emobench.upstream.s3prl_compat import UpstreamUnavailable

BYOL = ["byol_a_512", "byol_s_512"]
SMILE = {"compare": 6373, "egemaps": 88}
BYOL_S_FILE = "default512_BYOLAs64x96-2107281850-e100-bs256-lr0003-rs42.pth"


@pytest.fixture(scope="module")
def wavs():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(27_200) / 16_000
    tone = torch.sin(2 * torch.pi * 220 * t)
    return [tone[:16_000] * 0.5 + 0.05 * torch.randn(16_000, generator=g),
            tone * 0.2 + 0.05 * torch.randn(27_200, generator=g)]


def assert_batch_equals_alone(up, wavs, hidden, lengths):
    for i, w in enumerate(wavs):
        alone, n = up([w])
        assert int(n[0]) == int(lengths[i])
        torch.testing.assert_close(hidden[:, i, : int(lengths[i])], alone[:, 0])


@pytest.mark.parametrize("name", BYOL)
def test_byol_tiny_shapes_frozen_and_batch_invariant(name, wavs, tmp_path):
    spec = make_tiny(name, tmp_path / f"{name}.pt")
    assert 100_000 < (tmp_path / f"{name}.pt").stat().st_size < 1_000_000
    up = build_upstream(name, spec.path)
    assert (up.num_layers, up.dim) == (spec.hidden_states, spec.dim) == (1, 64)
    assert up.frame_rate == pytest.approx(spec.frame_rate, rel=0.05)
    assert not up.expert.training and not any(p.requires_grad for p in up.parameters())
    hidden, lengths = up(wavs)
    frames = byol_a_frames if name == "byol_a_512" else byol_s_frames
    assert lengths.tolist() == [frames(len(w)) for w in wavs]
    assert hidden.shape == (1, 2, max(lengths), 64) and torch.isfinite(hidden).all()
    assert_batch_equals_alone(up, wavs, hidden, lengths)


def test_byol_s_features_do_not_scale_with_length(wavs, tmp_path):
    """s3prl divides the log-mel statistics by the number of windows; the fix keeps the scale."""
    up = build_upstream("byol_s_512", make_tiny("byol_s_512", tmp_path / "s.pt").path)
    short, _ = up([wavs[0]])
    long, _ = up([wavs[0].repeat(3)])
    ratio = long.abs().mean() / short.abs().mean()
    assert 0.8 < ratio < 1.25, ratio
    import torchaudio  # the set_audio_backend stand-in lived only while byol_s was imported

    assert not hasattr(torchaudio, "set_audio_backend")


@pytest.mark.parametrize("name", BYOL)
def test_byol_refuses_a_mismatched_checkpoint(name, tmp_path):
    spec = make_tiny(name, tmp_path / "tiny.pt")
    state = torch.load(spec.path, weights_only=True)
    state["fc.3.bias_renamed"] = state.pop("fc.3.bias")
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointMismatch, match="bad.pt.*1 model parameters missing"):
        build_upstream(name, str(tmp_path / "bad.pt"))


@pytest.mark.parametrize("name", BYOL)
def test_byol_without_checkpoint_offline_asks_for_k(name, tmp_path, monkeypatch):
    """Offline, the download fails at once (simulated here, so that it never downloads)."""
    from s3prl.util import download

    def offline(url, *args, **kwargs):
        raise ConnectionError(f"cannot reach {url} (offline)")

    monkeypatch.setattr(download, "_download_dir", tmp_path)
    monkeypatch.setattr(download, "_download_url_to_file", offline)
    monkeypatch.setattr(download, "_download_url_to_file_requests", offline)
    with pytest.raises(UpstreamUnavailable, match="-k"):
        build_upstream(name)


@pytest.mark.parametrize("name", BYOL)
def test_byol_make_tiny_is_deterministic(name, tmp_path):
    a, b, c = (torch.load(make_tiny(name, tmp_path / f"{i}.pt", seed=s).path, weights_only=True)
               for i, s in enumerate((3, 3, 4)))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc.0.weight"], c["fc.0.weight"])


def test_byol_s_512_real_weights(test_data, wavs):
    folder = test_data.parent / "weights" / "byol_s_512"
    checkpoint = folder / BYOL_S_FILE
    sums = dict(line.split()[::-1] for line in (folder / "SHA256SUMS").read_text().splitlines())
    up = build_upstream("byol_s_512", str(checkpoint))
    assert up.checkpoint_sha256 == sums[BYOL_S_FILE]
    assert (up.num_layers, up.dim, up.frame_rate) == (1, 512, 21.0)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    loaded = up.expert.model.state_dict()
    assert loaded.keys() == state.keys()
    for key, tensor in state.items():
        assert torch.equal(loaded[key], tensor), key
    hidden, lengths = up(wavs)
    assert lengths.tolist() == [21, 35] and torch.isfinite(hidden).all()


@pytest.mark.parametrize("name", SMILE)
def test_opensmile_functionals(name, wavs, tmp_path):
    spec = make_tiny(name, tmp_path / "unused")
    assert spec.path is None and not (tmp_path / "unused").exists()
    up = build_upstream(name)
    assert (up.num_layers, up.dim) == (spec.hidden_states, spec.dim) == (1, SMILE[name])
    assert up.frame_rate == pytest.approx(spec.frame_rate)
    hidden, lengths = up(wavs)
    assert hidden.shape == (1, 2, 1, SMILE[name]) and hidden.dtype == torch.float32
    assert lengths.tolist() == [1, 1] and torch.isfinite(hidden).all()
    assert not torch.allclose(hidden[0, 0], hidden[0, 1])
    assert torch.equal(up(wavs)[0], hidden)  # deterministic
    assert_batch_equals_alone(up, wavs, hidden, lengths)
    import opensmile

    about = {"opensmile": opensmile.__version__, "feature_set": up.source.split()[-1],
             "feature_level": "Functionals"}
    assert up.source == f"opensmile {opensmile.__version__} {about['feature_set']}"
    assert up.checkpoint_sha256 == hashlib.sha256(
        json.dumps(about, sort_keys=True).encode()).hexdigest()


@pytest.mark.filterwarnings("ignore:Segment too short")
def test_opensmile_refuses_too_short_utterances_and_checkpoints():
    up = build_upstream("egemaps")
    with pytest.raises(ValueError, match="non-finite features for an utterance of 400 samples"):
        up([torch.randn(400, generator=torch.Generator().manual_seed(0)) * 0.1])
    with pytest.raises(ValueError, match="takes no checkpoint"):
        build_upstream("compare", "some.ckpt")
