"""Length-bucketed padded extraction: only where padded batches equal one-utterance runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from emobench.downstream.pooling import feature_cache, fill_cache
from emobench.downstream.waveforms import Standardizer, WaveformDataset
from emobench.upstream import Featurizer, build_upstream, make_tiny
from emobench.upstream.bucketing import PADDING_EXACT, by_length, expected_samples
from emobench.upstream.cache import pool
from emobench.upstream.wav2vec2_family import VARIANTS

from test_fold_sharing import clips, relative

TOLERANCE = 1e-5  # relative, per utterance; measured 2.6e-7 (lv60) and 2.0e-7 (xls_r)


def means(upstream, batches: list[list[torch.Tensor]]) -> tuple[torch.Tensor, list[int]]:
    prepare = Featurizer(upstream.num_layers).prepare
    out = [pool(upstream, b, prepare, torch.device("cpu")) for b in batches]
    return torch.cat([s["mean"] for s, _ in out]), [int(n) for _, ln in out for n in ln]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_padded_batches_equal_single_utterances_only_where_listed(name, tmp_path):
    upstream = build_upstream(name, make_tiny(name, tmp_path / "tiny.ckpt").path)
    assert not upstream.padded_batch  # one utterance at a time unless asked
    raw = clips()
    upstream.padded_batch = False
    alone, alone_frames = means(upstream, [[w] for w in raw])
    upstream.padded_batch = True
    padded, padded_frames = means(upstream, [raw])
    assert padded_frames == alone_frames
    if name in PADDING_EXACT:
        assert relative(alone, padded) < TOLERANCE
    else:  # the table is not guesswork: these change under padding
        assert relative(alone, padded) > 1e-3


def test_bucketed_cache_entries_equal_per_utterance_ones(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, seconds in enumerate([0.7, 1.9, 1.2, 0.5, 1.6, 1.0, 0.8]):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, rng.normal(0, 0.1, int(seconds * 22_050)), 22_050)
        paths.append(path)
    dataset = WaveformDataset(paths, 10.0, Standardizer(0.0, 0.1), preload=False)
    upstream = build_upstream("xls_r_1b", make_tiny("xls_r_1b", tmp_path / "x.ckpt").path)
    found = {}
    for padded in (True, False):
        upstream.padded_batch = padded
        cache = feature_cache(str(tmp_path / "cache"), dataset, upstream, False, "float32")
        keys, written = fill_cache(cache, dataset, upstream, False, 3, torch.device("cpu"),
                                   bucket=True)
        assert written == len(paths)
        found[padded] = {k: torch.load(cache.entry(k), weights_only=True) for k in keys}
    for key, entry in found[False].items():
        bucketed = found[True][key]
        assert bucketed["frames"] == entry["frames"]
        assert relative(entry["mean"][None], bucketed["mean"][None]) < TOLERANCE


def test_lengths_come_from_the_header(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros(22_050), 22_050)
    assert expected_samples(path, None) == 16_000
    assert expected_samples(path, 0.5) == 8_000
    assert by_length(["x", "y"], {"x": 1, "y": 2}.get) == ["y", "x"]
