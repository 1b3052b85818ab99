"""The seed-000 paper's task-specific embeddings: -d embedding_cnn trains the Raw/Zff CNN on
hard labels; -u raw_cnn / zff_cnn -k <its checkpoint> gives every task 20-dim utterance vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from emobench.core import scores
from emobench.core.errors import UserError
from emobench.core.io import sha256_file
from emobench.corpora import demo_hume_vb
from emobench.orchestration.cli import main
from emobench.upstream import build_upstream, make_tiny
from emobench.upstream.window_cnn import FORMAT, NetworkSpec, WindowCNN, load


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("embedding_cnn")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def small(workdir) -> Path:
    """A small corpus in HUME-VB's format (16 speakers, 96 bursts)."""
    return demo_hume_vb.build(workdir / "small", seed=3, speakers_per_country=4,
                              bursts_per_speaker=6)


def data_overrides(data_info: Path, *extra: str) -> str:
    return ",,".join([f"data.data_info={data_info}", f"data.audio_root={data_info.parent / 'wav'}",
                      "network.channels=[8,8,8,8]", "network.hop_ms=125", "train.epochs=2",
                      "train.batch_size=32", *extra])


def train_cnn(data_info: Path, name: str, upstream: str = "raw_cnn", *extra: str) -> Path:
    assert main(["-m", "train", "-u", upstream, "-d", "embedding_cnn", "-n", name, "--device",
                 "cpu", "-o", data_overrides(data_info, *extra)]) == 0
    return Path("results/downstream") / name


@pytest.fixture(scope="module")
def raw_run(small) -> Path:
    return train_cnn(small, "raw")


def test_training_writes_a_self_contained_plain_checkpoint(raw_run: Path):
    checkpoint = raw_run / "dev-best.ckpt"
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert saved["format"] == FORMAT
    spec = NetworkSpec.from_dict(saved["network"])
    assert spec.input == "raw" and len(spec.classes) == 10 and spec.embedding_dim == 10
    assert saved["run"]["task"] == "embedding_cnn" and saved["config"]["network"]["hop_ms"] == 125
    assert len(saved["holdout_speakers"]) == 1  # 10 % of the 8 training speakers, at least one
    loaded_spec, network = load(checkpoint)
    assert loaded_spec == spec and isinstance(network, WindowCNN)
    result = scores.read(raw_run / "scores.json")
    assert result["task"] == "embedding_cnn" and result["selection"]["metric"] == "holdout_uar"
    assert set(result["metrics"]) == {"val", "test"} == set(result["baselines"])
    assert set(result["metrics"]["val"]) == {"uar", "accuracy", "loss"}
    assert result["baselines"]["val"]["uar"] == pytest.approx(0.1)  # majority of 10 classes
    assert (raw_run / "predictions.csv").read_text().startswith("split,id,speaker,prediction")
    assert main(["-m", "evaluate", "-e", str(checkpoint), "-p", "again", "--device", "cpu"]) == 0
    assert scores.read(Path("again/scores.json"))["metrics"] == result["metrics"]


def test_the_checkpoint_is_an_upstream_of_20_dims_keyed_by_its_sha256(raw_run: Path, tmp_path):
    checkpoint = raw_run / "dev-best.ckpt"
    upstream = build_upstream("raw_cnn", str(checkpoint))
    assert (upstream.num_layers, upstream.dim, upstream.frame_rate) == (1, 20, 1.0)
    g = torch.Generator().manual_seed(0)
    wavs = [0.1 * torch.randn(n, generator=g) for n in (16_000, 5_000, 2_000)]
    hidden, lengths = upstream(wavs)
    assert hidden.shape == (1, 3, 1, 20) and lengths.tolist() == [1, 1, 1]
    # the std half: 0 for an utterance shorter than one window, positive otherwise
    assert float(hidden[0, 2, 0, 10:].abs().max()) == 0.0
    assert float(hidden[0, 0, 0, 10:].abs().max()) > 0.0
    assert upstream.checkpoint_sha256 == sha256_file(checkpoint)
    other = tmp_path / "other.ckpt"
    saved = torch.load(checkpoint, weights_only=True)
    saved["model"]["embedding.bias"] += 1.0
    torch.save(saved, other)
    assert build_upstream("raw_cnn", str(other)).checkpoint_sha256 != upstream.checkpoint_sha256


def test_country_target_and_zff_input(small: Path):
    run = train_cnn(small, "zff_country", "zff_cnn", "target.name=country",
                    "target.source=categorical", "target.columns=[Country]", "train.epochs=1")
    result = scores.read(run / "scores.json")
    assert result["upstream"]["name"] == "zff_cnn" and result["main_metric"]["name"] == "uar"
    assert result["baselines"]["val"]["uar"] == pytest.approx(0.25)
    spec, _ = load(run / "dev-best.ckpt")
    assert spec.input == "zff" and spec.classes == ("China", "South Africa", "USA", "Venezuela")
    assert build_upstream("zff_cnn", str(run / "dev-best.ckpt")).dim == 20


def test_bad_requests_are_clear_errors(small: Path, raw_run: Path, capsys):
    common = ["-m", "train", "-d", "embedding_cnn", "-n", "bad", "-o", data_overrides(small)]
    assert main(["-u", "fbank_no_cmvn", *common]) == 2
    assert "-u raw_cnn (raw waveform) or -u zff_cnn" in capsys.readouterr().err
    assert main(["-u", "raw_cnn", "-k", str(raw_run / "dev-best.ckpt"), *common]) == 2
    assert "trains raw_cnn from scratch" in capsys.readouterr().err
    assert main(["-u", "raw_cnn", *common[:-1],
                 data_overrides(small, "target.source=categorical")]) == 2
    assert "reads one column" in capsys.readouterr().err
    assert main(["-u", "raw_cnn", *common[:-1], data_overrides(small, "network.kernels=[30,7]")
                 ]) == 2
    assert "one value per convolution" in capsys.readouterr().err
    with pytest.raises(UserError, match="use -u raw_cnn, not zff_cnn"):
        build_upstream("zff_cnn", str(raw_run / "dev-best.ckpt"))
    with pytest.raises(UserError, match="needs -k CHECKPOINT"):
        build_upstream("raw_cnn")
    with pytest.raises(UserError, match="data_info.csv: cannot load this embedding CNN "
                                        "checkpoint: not a checkpoint"):
        build_upstream("raw_cnn", str(small))  # a CSV file
    with pytest.raises(UserError, match="not an embedding CNN checkpoint"):
        build_upstream("raw_cnn", make_tiny("byol_a_512", raw_run.parent / "byol.ckpt").path)
    assert main(["-m", "train", "-u", "raw_cnn", "-d", "exvo_mtl", "-n", "x", "-k",
                 str(raw_run / "dev-best.ckpt"), "-o", f"data.data_info={small},,"
                 f"data.audio_root={small.parent / 'wav'},,model.functionals=mean_std"]) == 2
    assert "one vector per utterance" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_raw_cnn_embedding_serves_exvo_mtl_and_beats_the_constant(workdir):
    """The documented demo: train the Raw(ExVo)-ER CNN, then use it as -d exvo_mtl's upstream."""
    assert main(["-m", "train", "-u", "raw_cnn", "-d", "embedding_cnn", "--demo", "--device",
                 "cpu"]) == 0
    embedding = Path("results/downstream/embedding_cnn_raw_cnn_demo")
    cnn = scores.read(embedding / "scores.json")
    assert cnn["metrics"]["val"]["uar"] > cnn["baselines"]["val"]["uar"] + 0.05
    checkpoint = embedding / "dev-best.ckpt"
    assert main(["-m", "train", "-u", "raw_cnn", "-k", str(checkpoint), "-d", "exvo_mtl",
                 "--demo", "--device", "cpu", "-n", "exvo_raw_cnn"]) == 0
    result = scores.read(Path("results/downstream/exvo_raw_cnn/scores.json"))
    val, constant = result["metrics"]["val"], result["baselines"]["val"]
    print(json.dumps({"embedding_cnn": cnn["metrics"], "exvo_mtl": result["metrics"],
                      "constant": result["baselines"]}, indent=1))
    assert result["upstream"]["name"] == "raw_cnn"
    assert result["upstream"]["checkpoint_sha256"] == sha256_file(checkpoint)
    assert val["s_mtl"] > constant["s_mtl"] + 0.1  # the selection score on validation
    assert val["ccc"] > constant["ccc"] + 0.1 and val["uar"] > constant["uar"] + 0.1
