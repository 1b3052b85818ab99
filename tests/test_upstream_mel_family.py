"""TERA, Mockingjay, NPC, APC and VQ-APC through s3prl's local loaders, on tiny checkpoints."""

from __future__ import annotations

import time

import pytest
import torch

from emobench.core.errors import UserError
from emobench.upstream import build_upstream, make_tiny, upstream_info
from emobench.upstream.base import CheckpointMismatch
from emobench.upstream.s3prl_compat import UpstreamUnavailable

NAMES = ["tera_960hr", "mockingjay_960hr", "npc_960hr", "apc_960hr", "vq_apc_960hr"]
WEIGHTS = {"tera_960hr": "Transformer", "mockingjay_960hr": "Transformer"}  # else "model"


class NotAllowed:
    """A class torch.load(weights_only=True) refuses to unpickle."""


@pytest.fixture(scope="module")
def wavs():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(16_000, generator=g) * 0.1, torch.randn(27_200, generator=g) * 0.1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mel_tiny")
    return {name: make_tiny(name, folder / f"{name}.ckpt") for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_tiny_checkpoint_loads_frozen_with_exact_per_utterance_features(name, tiny, wavs):
    spec = tiny[name]
    up = build_upstream(name, spec.path)
    assert up.num_layers == spec.hidden_states and up.dim == spec.dim
    assert up.frame_rate == pytest.approx(spec.frame_rate, rel=0.05)
    assert up.source.startswith("s3prl:") and len(up.checkpoint_sha256) == 64
    assert not up.padded_batch
    assert not any(m.training for m in up.expert.modules())
    assert not any(p.requires_grad for p in up.parameters())
    assert not hasattr(getattr(up.expert, "transformer", None), "all_states")

    hidden, lengths = up(wavs)
    assert hidden.shape == (spec.hidden_states, 2, int(lengths.max()), spec.dim)
    assert lengths.tolist() == [up.frames(len(w)) for w in wavs]
    for i, w in enumerate(wavs):
        alone, n = up([w])
        assert int(n[0]) == lengths[i]
        torch.testing.assert_close(hidden[:, i, : lengths[i]], alone[:, 0], rtol=0, atol=0)
        assert hidden[:, i, lengths[i]:].abs().sum() == 0  # zero padding


@pytest.mark.parametrize("name", NAMES)
def test_padded_batch_override_keeps_exact_frame_counts(name, tiny, wavs):
    alone, lengths = build_upstream(name, tiny[name].path)(wavs)
    padded, padded_lengths = build_upstream(name, tiny[name].path, padded_batch=True)(wavs)
    assert torch.equal(padded_lengths, lengths)
    if "apc" in name:  # packed GRUs: padding changes nothing beyond float round-off
        for i, n in enumerate(lengths.tolist()):
            torch.testing.assert_close(padded[:, i, :n], alone[:, i, :n], rtol=0, atol=1e-5)


def test_loading_leaves_the_global_random_generator_alone(tiny):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    build_upstream("tera_960hr", tiny["tera_960hr"].path)
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("change", ["delete", "rename"])
def test_key_mismatched_checkpoint_is_refused(name, change, tiny, tmp_path):
    states = torch.load(tiny[name].path, weights_only=True)
    weights = states[WEIGHTS.get(name, "model")]
    key = next(k for k in weights if k.endswith("weight"))
    value = weights.pop(key)
    if change == "rename":
        weights[key + "_renamed"] = value
    bad = tmp_path / "bad.ckpt"
    torch.save(states, bad)
    with pytest.raises(CheckpointMismatch, match=str(bad)):
        build_upstream(name, str(bad))


@pytest.mark.parametrize("name, other", [("tera_960hr", "npc_960hr"), ("npc_960hr", "tera_960hr")])
def test_checkpoint_of_another_layout_is_refused(name, other, tiny):
    with pytest.raises(CheckpointMismatch, match=f"not a {name} checkpoint"):
        build_upstream(name, tiny[other].path)


def test_apc_and_vq_apc_checkpoints_are_not_interchangeable(tiny):
    with pytest.raises(CheckpointMismatch, match="VQ-APC checkpoint given as apc_960hr"):
        build_upstream("apc", tiny["vq_apc_960hr"].path)
    with pytest.raises(CheckpointMismatch, match="APC checkpoint given as vq_apc_960hr"):
        build_upstream("vq_apc", tiny["apc_960hr"].path)


def test_apc_with_fewer_than_three_layers_is_refused(tiny, tmp_path):
    states = torch.load(tiny["apc_960hr"].path, weights_only=True)
    states["config"]["model"]["paras"]["num_layers"] = 2
    states["model"] = {k: v for k, v in states["model"].items() if "rnn_layers.2." not in k}
    torch.save(states, tmp_path / "apc2.ckpt")
    with pytest.raises(CheckpointMismatch, match="at least 3 layers"):
        build_upstream("apc_960hr", str(tmp_path / "apc2.ckpt"))


def test_checkpoint_pickling_arbitrary_objects_never_reaches_s3prl(tiny, tmp_path):
    # s3prl's Transformer loader itself calls torch.load(weights_only=False)
    states = torch.load(tiny["tera_960hr"].path, weights_only=True)
    states["Config"]["runner"]["object"] = NotAllowed()
    torch.save(states, tmp_path / "pickled.ckpt")
    with pytest.raises(UserError, match="unsafe pickle refused: it would call .*NotAllowed"):
        build_upstream("tera_960hr", str(tmp_path / "pickled.ckpt"))


@pytest.mark.parametrize("name", NAMES)
def test_published_weights_offline_ask_for_a_local_checkpoint(name, monkeypatch, tmp_path):
    # Offline whatever the machine: every download goes to a closed local port, into tmp_path.
    monkeypatch.setattr("s3prl.util.download._download_dir", tmp_path)
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    start = time.monotonic()
    with pytest.raises(UpstreamUnavailable, match="-k"):
        build_upstream(name)
    assert time.monotonic() - start < 30


@pytest.mark.parametrize("name", NAMES)
def test_make_tiny_is_deterministic(name, tmp_path):
    spec = make_tiny(name, tmp_path / "a.ckpt", seed=3)
    again = make_tiny(name, tmp_path / "b.ckpt", seed=3)
    other = make_tiny(name, tmp_path / "c.ckpt", seed=4)
    assert (spec.hidden_states, spec.dim, spec.frame_rate) == \
        (again.hidden_states, again.dim, again.frame_rate)
    a, b, c = (_tensors(torch.load(s.path, weights_only=True)) for s in (spec, again, other))
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)
    assert 100_000 < (tmp_path / "a.ckpt").stat().st_size < 1_000_000


def _tensors(states: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint, by its dotted path."""
    found = {}
    for key, value in states.items():
        if isinstance(value, torch.Tensor):
            found[prefix + key] = value
        elif isinstance(value, dict):
            found.update(_tensors(value, f"{prefix}{key}."))
    return found


@pytest.mark.parametrize("name", ["apc_960hr", "vq_apc_960hr"])
def test_full_size_random_checkpoint_has_the_published_shapes(name, tmp_path):
    spec = make_tiny(name, tmp_path / "full.ckpt", full_size=True)
    info = upstream_info(name)
    assert (spec.hidden_states, spec.dim, spec.frame_rate) == \
        (info.hidden_states, info.dim, info.frame_rate)
    up = build_upstream(name, spec.path)
    assert (up.num_layers, up.dim) == (info.hidden_states, info.dim)
