"""wav2vec 2.0-style upstreams (WavLM, wav2vec 2.0, XLS-R, data2vec, HuBERT) on tiny checkpoints."""

from __future__ import annotations

import pytest
import torch

from emobench.upstream import build_upstream, make_tiny
from emobench.upstream.base import CheckpointMismatch
from emobench.upstream.s3prl_compat import UpstreamUnavailable
from emobench.upstream.wav2vec2_family import VARIANTS

NAMES = sorted(VARIANTS)
WEIGHTS = {"wavlm": "model", "wav2vec2": "model_weight", "data2vec": "model_weight",
           "hubert": "model_weight"}


@pytest.fixture(scope="module")
def wavs():
    g = torch.Generator().manual_seed(0)
    return [0.1 * torch.randn(16_000, generator=g), 0.1 * torch.randn(27_200, generator=g)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny checkpoint per upstream, written once; tests that alter it copy it first."""
    folder = tmp_path_factory.mktemp("tiny")
    return {name: make_tiny(name, folder / f"{name}.pt") for name in NAMES}


def _load(path):
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("name", NAMES)
def test_tiny_checkpoint_loads_frozen_with_exact_per_utterance_features(name, tiny, wavs):
    spec = tiny[name]
    up = build_upstream(name, spec.path)
    assert (up.num_layers, up.dim) == (spec.hidden_states, spec.dim)
    assert up.frame_rate == pytest.approx(spec.frame_rate, rel=0.05)
    assert up.source == f"s3prl:{VARIANTS[name].loader}" and len(up.checkpoint_sha256) == 64
    assert not up.padded_batch
    assert not up.expert.training and not any(p.requires_grad for p in up.parameters())
    up.train()
    assert not up.expert.training

    hidden, lengths = up(wavs)
    assert hidden.shape == (spec.hidden_states, 2, 84, spec.dim)
    assert lengths.tolist() == [49, 84] == [up.frames(len(w)) for w in wavs]
    assert torch.isfinite(hidden).all()
    for i, w in enumerate(wavs):
        alone, n = up([w])
        assert int(n[0]) == int(lengths[i])
        torch.testing.assert_close(hidden[:, i, : int(n[0])], alone[:, 0])
    assert hidden[:, 0, 49:].abs().max() == 0  # zero padding after the short utterance


@pytest.mark.parametrize("name, extractor, pre_ln, normalize", [
    ("wavlm_large", "layer_norm", True, True),
    ("wav2vec2_large_lv60_cv_swbd_fsh", "layer_norm", True, True),
    ("xls_r_1b", "layer_norm", True, True),
    ("wav2vec2_large_960", "default", False, False),
    ("data2vec_large_ll60k", "layer_norm", False, True),
    ("hubert_large_ll60k", "layer_norm", True, True),
])
def test_tiny_checkpoints_keep_the_published_layout_and_flags(name, extractor, pre_ln, normalize,
                                                              tiny):
    ckpt = _load(tiny[name].path)
    form = VARIANTS[name].form
    if form == "wavlm":
        assert set(ckpt) == {"cfg", "model"}
        cfg, task = ckpt["cfg"], ckpt["cfg"]
        assert cfg["relative_position_embedding"] and cfg["gru_rel_pos"]
    else:
        cfg, task = ckpt["model_cfg"], ckpt["task_cfg"]
        extra = {"dictionaries_symbols"} if form == "hubert" else set()
        assert set(ckpt) == {"task_cfg", "model_cfg", "model_weight"} | extra
    assert (cfg["extractor_mode"], cfg["layer_norm_first"], task["normalize"]) == (
        extractor, pre_ln, normalize)
    weights = ckpt[WEIGHTS[form]]
    group_norm = "feature_extractor.conv_layers.0.2.weight" in weights  # GroupNorm, 1st block
    assert group_norm == (extractor == "default")
    if form == "wav2vec2":  # the pretraining heads stay in converted checkpoints
        assert {"quantizer.vars", "project_q.weight", "final_proj.weight"} <= set(weights)
    if form == "data2vec":
        assert weights["_ema"] == {} and "final_proj.weight" not in weights
        assert cfg["pos_conv_depth"] == 5
    if form == "hubert":
        assert cfg["label_rate"] == task["label_rate"] == 50.0
        n_symbols = len(ckpt["dictionaries_symbols"][0])
        assert weights["label_embs_concat"].shape[0] == n_symbols


@pytest.mark.parametrize("name", NAMES)
def test_a_checkpoint_with_a_missing_weight_is_refused(name, tiny, tmp_path):
    ckpt = _load(tiny[name].path)
    weights = ckpt[WEIGHTS[VARIANTS[name].form]]
    del weights["encoder.layers.0.fc1.weight"]
    bad = tmp_path / "bad.pt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointMismatch, match=r"bad\.pt: not a .* checkpoint.*fc1\.weight"):
        build_upstream(name, str(bad))


@pytest.mark.parametrize("name, source, edit, message", [
    ("wavlm_large", "hubert_large_ll60k", None, "has no 'cfg' entry"),
    ("wav2vec2_large_960", "wavlm_large", None, "required key: task_cfg is missing"),
    ("wav2vec2_large_960", "hubert_large_ll60k", None, "Unexpected key.*label_embs_concat"),
    ("wav2vec2_large_960", "wav2vec2_large_lv60_cv_swbd_fsh", None, "the published model is"),
    ("hubert_large_ll60k", "xls_r_1b", None, "dictionaries_symbols is missing"),
    ("data2vec_large_ll60k", "data2vec_large_ll60k", "_ema", "has no '_ema' entry"),
])
def test_a_checkpoint_of_another_layout_or_model_is_refused(name, source, edit, message, tiny,
                                                            tmp_path):
    ckpt = _load(tiny[source].path)
    if edit:
        del ckpt["model_weight"][edit]
    other = tmp_path / "other.pt"
    torch.save(ckpt, other)
    with pytest.raises(CheckpointMismatch, match=rf"other\.pt: not a {name} checkpoint.*{message}"):
        build_upstream(name, str(other))


@pytest.mark.parametrize("name", NAMES)
def test_published_weights_offline_ask_for_a_local_checkpoint(name, tmp_path, monkeypatch):
    # An empty download cache and an unreachable proxy: the download fails at once, as offline.
    from s3prl.util import download

    monkeypatch.setattr(download, "_download_dir", tmp_path)
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(UpstreamUnavailable, match="-k"):
        build_upstream(name)


def test_make_tiny_is_deterministic(tmp_path):
    for name in NAMES:
        a = _load(make_tiny(name, tmp_path / "a.pt", seed=3).path)
        b = _load(make_tiny(name, tmp_path / "b.pt", seed=3).path)
        c = _load(make_tiny(name, tmp_path / "c.pt", seed=4).path)
        key = WEIGHTS[VARIANTS[name].form]
        assert a.keys() == b.keys() and a[key].keys() == b[key].keys()
        for k, v in a[key].items():
            if isinstance(v, torch.Tensor):
                assert torch.equal(v, b[key][k]), (name, k)
        assert not torch.equal(a[key]["mask_emb"], c[key]["mask_emb"])
        assert 100_000 < (tmp_path / "a.pt").stat().st_size < 1_000_000


def test_padding_changes_group_norm_features_but_not_layer_norm_wav2vec2(tiny, wavs):
    """Why extraction is per utterance: a padded batch changes wav2vec2_large_960's features."""
    for name, changes in [("wav2vec2_large_960", True), ("xls_r_1b", False)]:
        alone, lengths = build_upstream(name, tiny[name].path)(wavs)
        padded, padded_lengths = build_upstream(name, tiny[name].path, padded_batch=True)(wavs)
        assert torch.equal(padded_lengths, lengths)  # exact frame counts in a padded batch too
        diff = (padded[:, 0, :49] - alone[:, 0, :49]).abs().max() / alone[:, 0].abs().max()
        assert (diff > 0.1) if changes else (diff < 1e-5), (name, float(diff))
