"""A warm run's fixed cost: numpy metrics, cached resampling kernels, sliced pooled batches,
deterministic mode without the compiler, explicit threads, cached standardisation statistics,
checkpoint writes at save points only. Each piece gives the same results as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchaudio.functional as AF
from sklearn.metrics import f1_score
from torch.utils.data import DataLoader

from emobench.core import audio, io
from emobench.core.experiment import thread_count
from emobench.downstream import standardize_cache
from emobench.downstream.emotion.features import PooledDataset, pooled_batches
from emobench.downstream.emotion.metrics import label_sets, per_class_f1
from emobench.downstream.standardize_cache import cached_standardizer, statistics_key
from emobench.downstream.trainer import Schedule, Selection, Trainer
from emobench.downstream.waveforms import Standardizer, WaveformDataset, fit_standardizer


@pytest.mark.parametrize("seed", range(6))
def test_numpy_f1_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 40)), int(rng.integers(2, 8))
    truth = rng.dirichlet(np.ones(c) * 0.3, size=n)
    probs = rng.dirichlet(np.ones(c), size=n)
    if seed % 2:
        truth[:, 0] = 0.0  # a class absent from the truth sets (zero_division)
    expected = f1_score(label_sets(truth), label_sets(probs), average=None, zero_division=0)
    assert np.array_equal(per_class_f1(truth, probs), expected)


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_cached_resampler_is_bit_identical_to_the_functional_form(rate):
    wav = torch.randn(rate * 2, generator=torch.Generator().manual_seed(rate))
    assert torch.equal(audio.resampler(rate, 16_000)(wav), AF.resample(wav, rate, 16_000))
    assert audio.resampler(rate, 16_000) is audio.resampler(rate, 16_000)  # built once


@pytest.mark.parametrize("seed", [None, 0, 133704011])
def test_sliced_pooled_batches_equal_the_data_loader(seed):
    dataset = PooledDataset.__new__(PooledDataset)
    dataset.features, dataset.labels = torch.randn(101, 3, 5), torch.rand(101, 4)
    dataset.names = [f"u{i}" for i in range(101)]
    make = (lambda: None) if seed is None else (lambda: torch.Generator().manual_seed(seed))
    expected = list(DataLoader(dataset, batch_size=32, shuffle=seed is not None,
                               generator=make()))
    found = list(pooled_batches(dataset, 32, make()))
    assert len(found) == len(expected) == 4
    for a, b in zip(expected, found):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[2] == b[2]


def test_deterministic_mode_does_not_import_the_compiler():
    code = ("import sys, torch\n"
            "from emobench.core.experiment import deterministic_algorithms\n"
            "deterministic_algorithms()\n"
            "print('torch._inductor' in sys.modules, torch.are_deterministic_algorithms_enabled(),"
            " torch.is_deterministic_algorithms_warn_only_enabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True", "True"]


def test_threads_follow_the_environment(monkeypatch):
    monkeypatch.setenv("EMOBENCH_THREADS", "3")
    assert thread_count() == 3
    monkeypatch.delenv("EMOBENCH_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert thread_count() == 2


def _wavs(folder: Path, count: int = 3) -> list[Path]:
    import soundfile as sf

    paths = []
    for i in range(count):
        path = folder / f"u{i}.wav"
        sf.write(path, np.random.default_rng(i).normal(0, 0.1 * (i + 1), 8_000), 16_000)
        paths.append(path)
    return paths


def test_standardisation_statistics_are_cached_and_keyed_by_content(tmp_path, monkeypatch):
    paths = _wavs(tmp_path)
    fitted = cached_standardizer(WaveformDataset(paths, 10.0, Standardizer()), tmp_path / "c")
    assert fitted == fit_standardizer(WaveformDataset(paths, 10.0, Standardizer()))
    files = list((tmp_path / "c" / "standardizers").glob("*.json"))
    assert len(files) == 1

    def no_audio(*args, **kwargs):
        raise AssertionError("a warm run decoded audio")

    monkeypatch.setattr(audio, "load", no_audio)
    again = cached_standardizer(WaveformDataset(paths, 10.0, Standardizer()), tmp_path / "c")
    assert again == fitted  # exactly: read back, no audio decoded
    keys = [io.sha256_file(p) for p in paths]
    assert statistics_key(keys, 10.0) != statistics_key(keys, 5.0)
    assert statistics_key(keys, 10.0) != statistics_key(keys[::-1], 10.0)
    monkeypatch.undo()
    files[0].write_text("{not json")  # damaged: refitted and rewritten, never trusted
    assert cached_standardizer(WaveformDataset(paths, 10.0, Standardizer()),
                               tmp_path / "c") == fitted
    assert standardize_cache._read(files[0]) == fitted


def test_dev_best_is_written_with_last_ckpt_only(tmp_path, monkeypatch):
    from test_trainer import Toy, data, loop  # tests/ is on the path (conftest.py's folder)

    writes: list[str] = []
    real = io.torch_save
    monkeypatch.setattr(io, "torch_save", lambda obj, path: (writes.append(Path(path).name),
                                                             real(obj, path))[1])
    torch.manual_seed(3)
    model = Toy()
    schedule = Schedule(epochs=6, lr=0.05, save_every_epochs=3)
    trainer = Trainer(schedule, Selection("val_score"), tmp_path, torch.device("cpu"),
                      {"format": "toy"}, tag="toy")
    trainer.fit(model, loop(*data(), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]))  # better every epoch
    assert writes == ["dev-best.ckpt", "last.ckpt", "dev-best.ckpt", "last.ckpt"]
    best = torch.load(tmp_path / "dev-best.ckpt", weights_only=True)
    assert best["selection"]["epoch"] == 6
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in best["model"].items())


def test_the_command_line_sets_the_collector_thresholds_and_the_library_does_not():
    import subprocess
    import sys

    code = ("import gc, emobench, emobench.orchestration.cli as cli\n"
            "before = gc.get_threshold()\n"
            "cli.main(['--list-tasks'])\n"
            "print(before, gc.get_threshold(), cli.GC_THRESHOLDS)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == "(700, 10, 10) (10000, 10, 10) (10000, 10, 10)"
