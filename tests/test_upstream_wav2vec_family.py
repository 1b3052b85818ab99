"""vq_wav2vec, wav2vec_large, modified_cpc, decoar2: tiny checkpoints through s3prl's loaders."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
import torch

from emobench.upstream import build_upstream, make_tiny, upstream_info
from emobench.core.errors import UserError
from emobench.upstream.base import CheckpointMismatch
from emobench.upstream.s3prl_compat import UpstreamUnavailable
from emobench.upstream.wav2vec_family import FORMATS, TINY_DECOAR2, decoar2_frames, decoar2_shapes

NAMES = list(FORMATS)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {name: make_tiny(name, folder / f"{name}.ckpt") for name in NAMES}


@pytest.fixture(scope="module")
def wavs():
    g = torch.Generator().manual_seed(0)
    return [0.1 * torch.randn(16_000, generator=g), 0.1 * torch.randn(27_200, generator=g)]


def _edited(tiny_path: str, name: str, out: Path, edit) -> str:
    state = torch.load(tiny_path, weights_only=True)
    edit(state, state[FORMATS[name].weights])
    torch.save(state, out)
    return str(out)


@pytest.mark.parametrize("name", NAMES)
def test_tiny_checkpoint_loads_frozen_and_batches_equal_single_utterances(name, tiny, wavs):
    spec = tiny[name]
    up = build_upstream(name, spec.path)
    assert up.num_layers == spec.hidden_states and up.dim == spec.dim
    assert up.frame_rate == pytest.approx(spec.frame_rate, rel=0.05)
    assert up.source == f"s3prl:{FORMATS[name].loader}" and len(up.checkpoint_sha256) == 64
    up.train()
    assert not up.expert.training
    assert not any(p.requires_grad for p in up.parameters())
    hidden, lengths = up(wavs)
    assert hidden.shape == (spec.hidden_states, 2, int(lengths.max()), spec.dim)
    for i, wav in enumerate(wavs):
        alone, n = up([wav])
        assert int(n[0]) == int(lengths[i]) == alone.shape[2]
        torch.testing.assert_close(hidden[:, i, : int(n[0])], alone[:, 0])


@pytest.mark.parametrize("name", NAMES)
def test_padded_batches_change_features_except_decoar2(name, tiny, wavs):
    """Why only decoar2 runs padded batches: the others normalise or convolve over the padding."""
    up = build_upstream(name, tiny[name].path)
    assert up.padded_batch == (name == "decoar2")
    up.padded_batch = False
    alone, lengths = up(wavs)
    up.padded_batch = True
    padded, _ = up(wavs)
    n = int(lengths[0])
    diff = (padded[:, 0, :n] - alone[:, 0, :n]).abs().amax(dim=(0, 2))  # per frame
    if name == "decoar2":
        assert diff.max() < 1e-4
    elif name == "modified_cpc":  # only the last frame sees the padding
        assert diff[:-1].max() < 1e-4 < diff[-1]
    else:  # GroupNorm over time: every frame changes
        assert diff.min() > 1e-3


def test_decoar2_counts_its_frames_exactly(tiny):
    up = build_upstream("decoar2", tiny["decoar2"].path)
    g = torch.Generator().manual_seed(2)
    wavs = [0.1 * torch.randn(n, generator=g) for n in (560, 719, 720, 20_000)]
    _, lengths = up(wavs)  # s3prl's round(n / 320) would say [2, 2, 2, 62]
    assert lengths.tolist() == [decoar2_frames(len(w)) for w in wavs] == [1, 1, 2, 62]
    assert [up._hidden([w])[0].shape[1] for w in wavs] == lengths.tolist()


def test_decoar2_architecture_comes_from_the_checkpoint_and_args_are_restored(tiny):
    from s3prl.upstream.decoar2 import decoar2 as module

    before = dict(module.args)
    up = build_upstream("decoar2", tiny["decoar2"].path)
    assert module.args == before and module.args["encoder_embed_dim"] == 768
    weights = up.expert.model.state_dict()
    assert decoar2_shapes(weights) == TINY_DECOAR2
    assert len(up.expert.model.encoder.layers) == TINY_DECOAR2["encoder_layers"]


@pytest.mark.parametrize("edit", ["delete", "rename"])
@pytest.mark.parametrize("name", NAMES)
def test_a_checkpoint_with_other_keys_is_refused(name, edit, tiny, tmp_path):
    def change(state, weights):
        key = list(weights)[-1]
        value = weights.pop(key)
        if edit == "rename":
            weights[key + "_renamed"] = value

    bad = _edited(tiny[name].path, name, tmp_path / "bad.ckpt", change)
    with pytest.raises(CheckpointMismatch, match=f"{bad}: not a {name} checkpoint"):
        build_upstream(name, bad)


@pytest.mark.parametrize("name", ["decoar2", "modified_cpc"])
def test_pretraining_heads_outside_the_model_are_ignored_like_s3prl(name, tiny, tmp_path):
    def add_head(state, weights):
        weights["quantizer.vars"] = torch.zeros(2, 3)

    build_upstream(name, _edited(tiny[name].path, name, tmp_path / "heads.ckpt", add_head))


def test_wrong_layouts_are_refused_clearly(tiny, tmp_path):
    def no_infonce(state, weights):
        del state["model_cfg"]["infonce"]

    bad = _edited(tiny["wav2vec_large"].path, "wav2vec_large", tmp_path / "a.ckpt", no_infonce)
    with pytest.raises(CheckpointMismatch, match="no 'infonce' entry"):
        build_upstream("W2V", bad)
    with pytest.raises(CheckpointMismatch, match=r"it has no \['model'\]"):
        build_upstream("decoar2", tiny["modified_cpc"].path)
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(UserError, match="cannot load this modified_cpc checkpoint: not a "
                                        "checkpoint"):
        build_upstream("cpc", str(text))


def test_cpc_trained_with_sequential_sampling_keeps_no_state_between_calls(tiny, wavs, tmp_path):
    def sequential(state, weights):
        state["config"]["samplingType"] = "sequential"

    up = build_upstream("modified_cpc",
                        _edited(tiny["modified_cpc"].path, "modified_cpc", tmp_path / "s.ckpt",
                                sequential))
    first, _ = up([wavs[0]])
    up([wavs[1]])
    again, _ = up([wavs[0]])
    torch.testing.assert_close(first, again)


@pytest.mark.parametrize("name", NAMES)
def test_published_weights_offline_ask_for_a_local_checkpoint(name, tmp_path, monkeypatch):
    """No download: an empty s3prl cache and an unreachable proxy make the fetch fail at once."""
    import s3prl.util.download as download

    monkeypatch.setattr(download, "_download_dir", tmp_path)
    monkeypatch.setattr(urllib.request, "_opener", None)  # urlopen reads the proxies again
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(UpstreamUnavailable, match="-k"):
        build_upstream(name)


@pytest.mark.parametrize("name", NAMES)
def test_make_tiny_is_deterministic_small_and_leaves_the_global_rng_alone(name, tmp_path):
    rng = torch.random.get_rng_state()
    a = torch.load(make_tiny(name, tmp_path / "a.ckpt").path, weights_only=True)
    b = torch.load(make_tiny(name, tmp_path / "b.ckpt").path, weights_only=True)
    other = torch.load(make_tiny(name, tmp_path / "c.ckpt", seed=1).path, weights_only=True)
    assert torch.equal(torch.random.get_rng_state(), rng)
    key = FORMATS[name].weights
    assert a.keys() == b.keys() and a[key].keys() == b[key].keys()
    assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    assert not all(torch.equal(a[key][k], other[key][k]) for k in a[key])
    assert 100_000 < (tmp_path / "a.ckpt").stat().st_size < 1_000_000


def test_full_size_cpc_has_the_published_shapes_and_size(tmp_path):
    """The other three full-size models (33-90 M parameters) are checked by the benchmarks."""
    spec = make_tiny("modified_cpc", tmp_path / "full.ckpt", full_size=True)
    up = build_upstream("modified_cpc", spec.path)
    info = upstream_info("modified_cpc")
    assert (up.num_layers, up.dim) == (spec.hidden_states, spec.dim) == (info.hidden_states,
                                                                          info.dim)
    assert sum(p.numel() for p in up.parameters()) / 1e6 == pytest.approx(1.84, abs=0.01)
