"""The fbank upstreams through s3prl, the registry and the featurizer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from emobench.core.registry import UnknownNameError
from emobench.upstream import UPSTREAMS, Featurizer, build_upstream
from emobench.upstream.baseline import kaldi_frames


@pytest.fixture(scope="module")
def wavs():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(24_000) / 16_000
    tone = torch.sin(2 * torch.pi * 220 * t)
    return [tone[:16_000] * 0.5 + 0.01 * torch.randn(16_000, generator=g),
            tone[:9_000] * 0.1 + 0.01 * torch.randn(9_000, generator=g),
            tone * 0.9 + 0.01 * torch.randn(24_000, generator=g)]


def test_registry_names_and_aliases():
    assert UPSTREAMS.canonical("FBANK") == "fbank"
    with pytest.raises(UnknownNameError, match="did you mean: fbank_no_cmvn"):
        UPSTREAMS.canonical("fbank_nocmvn")


@pytest.mark.parametrize("name", ["fbank", "fbank_no_cmvn"])
def test_frozen_exact_lengths_and_batch_invariance(name, wavs):
    up = build_upstream(name)
    assert not any(p.requires_grad for p in up.parameters())
    up.train()
    assert not up.expert.training  # the expert stays in eval mode
    hidden, lengths = up(wavs)
    assert hidden.shape[:2] == (1, 3) and hidden.shape[-1] == 240
    assert lengths.tolist() == [kaldi_frames(len(w)) for w in wavs] == [98, 54, 148]
    for i, w in enumerate(wavs):  # features in a padded batch equal those of the utterance alone
        alone, n = up([w])
        torch.testing.assert_close(hidden[:, i, : int(n[0])], alone[:, 0])


def test_fbank_cmvn_time_means_are_zero(wavs):
    cmvn, _ = build_upstream("fbank")([wavs[0]])
    raw, _ = build_upstream("fbank_no_cmvn")([wavs[0]])
    assert cmvn[0, 0].mean(0).abs().max() < 1e-4
    assert raw[0, 0].mean(0).abs().max() > 1.0


def test_upstream_refuses_a_checkpoint_it_cannot_use():
    with pytest.raises(ValueError, match="takes no checkpoint"):
        build_upstream("fbank", "some.ckpt")


def test_featurizer_zero_init_softmax_and_options():
    hidden = torch.randn(4, 2, 5, 8)
    f = Featurizer(4)
    assert torch.equal(f.weights.data, torch.zeros(4))
    torch.testing.assert_close(f(hidden), hidden.mean(0))
    with torch.no_grad():
        f.weights.copy_(torch.tensor([0.0, 1.0, 2.0, 3.0]))
    w = torch.softmax(torch.tensor([0.0, 1.0, 2.0, 3.0]), 0)
    torch.testing.assert_close(f(hidden), (w[:, None, None, None] * hidden).sum(0))
    assert sum(f.layer_weights()) == pytest.approx(1.0)

    single = Featurizer(4, layer=2)
    assert single.weights is None and torch.equal(single(hidden), hidden[2])
    assert single.layer_weights() == [0.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="layer 7 does not exist"):
        Featurizer(4, layer=7)

    norm = Featurizer(4, normalize=True)
    torch.testing.assert_close(norm(hidden), F.layer_norm(hidden, (8,)).mean(0))
