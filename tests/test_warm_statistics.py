"""The waveform standardisation statistics of the multitask (``-d exvo_mtl``), ExVo few-shot,
score_generation and probe tasks come from the cache on a warm run: the second run decodes no
audio and gets exactly the statistics the first one fitted (docs/performance.md, "Cached
statistics")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from emobench.core import audio
from emobench.corpora import demo_hume_vb
from emobench.corpora.exvo_labels import read_data_info
from emobench.downstream import standardize_cache
from emobench.downstream.probe import features as probe_features
from emobench.downstream.waveforms import Standardizer, WaveformDataset, fit_standardizer
from emobench.orchestration.cli import main

CACHED = standardize_cache.cached_standardizer


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("warm_statistics")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def corpus(workdir) -> Path:
    return demo_hume_vb.build(workdir / "hume", seed=5, speakers_per_country=4,
                              bursts_per_speaker=8)


@pytest.fixture(scope="module")
def generated(corpus, workdir) -> Path:
    """"Generated" clips: the Test clips, in the folder of their dominant emotion (those with
    at least two clips: an FID needs a covariance)."""
    frame = pd.read_csv(corpus, dtype={"File_ID": str})
    test = frame[frame["Split"] == "Test"].copy()
    test["emotion"] = test[list(demo_hume_vb.EMOTIONS)].astype(float).idxmax(axis=1)
    root = workdir / "generated"
    for emotion, group in test.groupby("emotion"):
        if len(group) < 2:
            continue
        (root / emotion).mkdir(parents=True)
        for file_id in group["File_ID"]:
            name = file_id.strip("[]") + ".wav"
            shutil.copy(corpus.parent / "wav" / name, root / emotion / name)
    return root


def argv(task: str, corpus: Path, generated: Path, name: str) -> list[str]:
    data = (f"data.data_info={corpus},,data.audio_root={corpus.parent / 'wav'},,"
            f"data.standardize=true,,data.cache_dir={corpus.parent.parent / f'cache_{task}'}")
    if task == "score_generation":
        return ["-m", "score_generation", "-u", "fbank_no_cmvn", "-d", "exvo_mtl", "-n", name,
                "--device", "cpu", "--generated", str(generated), "-o", data]
    steps = ",,adapt.steps=2" if task == "exvo_fewshot" else ""
    return ["-m", "train", "-u", "fbank_no_cmvn", "-d", task, "-n", name, "--device", "cpu",
            "-o", data + ",,train.epochs=1" + steps]


def no_audio(*args, **kwargs):
    raise AssertionError("a warm run decoded audio")


def run(args: list[str], monkeypatch) -> list[Standardizer]:
    """Run the command line; the statistics its task got from the cache module."""
    got: list[Standardizer] = []

    def recorded(dataset, cache_dir):
        got.append(CACHED(dataset, cache_dir))
        return got[-1]

    monkeypatch.setattr(standardize_cache, "cached_standardizer", recorded)
    monkeypatch.setattr(probe_features, "cached_standardizer", recorded)  # its own name
    assert main(args) == 0
    return got


@pytest.mark.parametrize("task", ["exvo_mtl", "exvo_fewshot", "score_generation"])
def test_a_warm_run_reads_the_statistics_and_decodes_no_audio(task, corpus, generated, workdir,
                                                             monkeypatch):
    cold = run(argv(task, corpus, generated, f"{task}_cold"), monkeypatch)
    stored = list((workdir / f"cache_{task}" / "standardizers").glob("*.json"))
    assert len(cold) == 1 and len(stored) == 1
    train = read_data_info(corpus, corpus.parent / "wav").subset("train")
    assert cold[0] == fit_standardizer(WaveformDataset(train.paths, 10.0, Standardizer()))
    assert cold[0] != Standardizer()
    monkeypatch.setattr(audio, "load", no_audio)
    monkeypatch.setattr(standardize_cache, "fit_standardizer", no_audio)
    warm = run(argv(task, corpus, generated, f"{task}_warm"), monkeypatch)
    assert warm == cold  # exactly the fitted numbers, read back
    if task != "score_generation":  # the checkpoint keeps the statistics it was trained with
        for name in (f"{task}_cold", f"{task}_warm"):
            saved = torch.load(workdir / "results/downstream" / name / "dev-best.ckpt",
                               weights_only=True)
            assert Standardizer(**saved["standardizer"]) == cold[0]


def test_the_probe_reads_the_statistics_too(workdir, monkeypatch):
    grid = ("probe.families=[logistic_regression],,"
            "probe.grids={logistic_regression: {C: [1.0]}}")
    args = ["-m", "train", "-u", "fbank_no_cmvn", "-d", "probe", "--demo", "--device", "cpu",
            "-o", f"{grid},,data.cache_dir={workdir / 'cache_probe'}"]
    cold = run([*args, "-n", "probe_cold"], monkeypatch)
    assert len(cold) == 1 and cold[0] != Standardizer()
    monkeypatch.setattr(audio, "load", no_audio)
    assert run([*args, "-n", "probe_warm"], monkeypatch) == cold
