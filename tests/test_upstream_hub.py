"""Every registered upstream: tiny checkpoint -> registry -> s3prl loader -> emotion task."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from emobench.corpora import demo_emotion
from emobench.core import scores
from emobench.orchestration.cli import main
from emobench.upstream import UPSTREAMS, build_upstream, make_tiny, upstream_info

# every loadable upstream (emotion2vec is registered only to be refused: tests/test_upstream_hf.py)
ALL = [n for n in UPSTREAMS.names() if UPSTREAMS.entry(n).target != "emobench.upstream.emotion2vec"]
PAPER_ROWS = ["WavLM", "W2V2 R", "XLS-R-1B", "Data2Vec-A", "Hubert", "W2V2", "VQ-W2V", "W2V",
              "M CPC", "DeCoAR 2", "TERA", "Mockingjay", "NPC", "VQ-APC", "APC", "FBANK"]


def test_every_emo_superb_row_is_registered_by_its_paper_name():
    canonical = {UPSTREAMS.canonical(name) for name in PAPER_ROWS}
    assert len(canonical) == 16
    assert UPSTREAMS.canonical("wavlm") == "wavlm_large"  # EMO-SUPERB's meaning, not s3prl's


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {name: make_tiny(name, folder / f"{name}.ckpt") for name in ALL}


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "demo"
    demo_emotion.build(root, seed=0, speakers=5, utterances_per_speaker=6)
    return root


def _load(name, spec):
    return build_upstream(name, spec.path)


@pytest.mark.parametrize("name", ALL)
def test_tiny_checkpoint_loads_with_the_shapes_of_its_config(name, tiny):
    spec = tiny[name]
    up = _load(name, spec)
    assert (up.num_layers, up.dim) == (spec.hidden_states, spec.dim)
    assert up.frame_rate == pytest.approx(spec.frame_rate, rel=0.05)
    if spec.path is not None:
        assert len(up.checkpoint_sha256) == 64
    # the published model has the registered shapes; the tiny one keeps the kind of model
    assert upstream_info(name).hidden_states >= 1


@pytest.mark.parametrize("name", ALL)
def test_default_extraction_equals_per_utterance_extraction(name, tiny):
    up = _load(name, tiny[name])
    g = torch.Generator().manual_seed(1)
    wavs = [0.1 * torch.randn(n, generator=g) for n in (16_000, 27_200, 9_600)]
    hidden, lengths = up(wavs)
    for i, wav in enumerate(wavs):
        alone, n = up([wav])
        assert int(n[0]) == int(lengths[i])
        torch.testing.assert_close(hidden[:, i, : int(n[0])], alone[:, 0, : int(n[0])])


@pytest.mark.parametrize("name", ALL)
def test_emotion_task_runs_end_to_end(name, tiny, small_corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tiny[name]
    args = ["-m", "train", "-u", name, "-d", "emotion", "-p", "exp", "--device", "cpu", "-o",
            f"data.label_dir={small_corpus / 'labels'},,data.audio_root={small_corpus / 'audio'},,"
            "train.epochs=1,,train.batch_size=8"]
    if spec.path is not None:
        args[4:4] = ["-k", spec.path]
    assert main(args) == 0
    result = scores.read(Path("exp/scores.json"))
    assert result["upstream"]["name"] == name
    assert len(result["per_class"]["f1"]["test"]) == 4
    assert len(__import__("json").loads(Path("exp/layer_weights.json").read_text())["weights"]) \
        == spec.hidden_states
