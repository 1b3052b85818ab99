"""Extraction precision (float32 / bfloat16 / float16 autocast) and overlapped waveform loading.

Runs on the CPU (torch's CPU autocast supports bfloat16 and, in torch 2.11, float16). The
tolerance below is stated in docs/performance.md; the GPU figures come from
benchmarks/extract_precision.py.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from emobench.downstream.pooling import feature_cache, fill_cache, pooled_statistics
from emobench.downstream.waveforms import Standardizer, WaveformDataset, fit_standardizer
from emobench.core.audio import AudioError
from emobench.core.errors import UserError
from emobench.upstream import build_upstream, make_tiny
from emobench.upstream import cache as cache_module
from emobench.upstream.cache import CacheSpec, PooledCache, autocast, prefetched

CPU = torch.device("cpu")
SPEC = CacheSpec("wavlm_large", "a" * 64, False, False, 16_000, 10.0, 0.0, 1.0)
# SPEC.key() as computed by upstream/cache.py before the precision field existed (commit a6898b7,
# `python -c "from upstream.cache import CacheSpec; print(CacheSpec('wavlm_large', 'a' * 64,
# False, False, 16_000, 10.0, 0.0, 1.0).key())"`): float32 caches keep their folders.
FLOAT32_KEY = "577c2d70cd2bc37c39f2"
# Largest relative difference ||bf16 - fp32|| / ||fp32|| of any utterance's per-layer pooled
# mean asserted below (measured on the tiny WavLM and these clips: 0.0050 at most; full-size
# wavlm_large on EmoDB speech, benchmarks/extract_precision.py: 0.0069; a bfloat16 mantissa has
# 8 bits, 2^-8 = 0.0039 per rounding). Stated in docs/performance.md.
BF16_RTOL = 0.02
FP16_RTOL = 0.005  # float16 has 11 mantissa bits (measured on the tiny WavLM: 0.0010 at most)


def test_float32_key_is_unchanged_and_other_precisions_get_their_own_folder():
    assert SPEC.key() == FLOAT32_KEY
    assert replace(SPEC, precision="float32").key() == FLOAT32_KEY
    keys = {replace(SPEC, precision=p).key() for p in ("float32", "bfloat16", "float16")}
    assert len(keys) == 3
    assert replace(SPEC, precision="bfloat16", dtype="float16").key() not in keys


def test_unknown_precision_is_refused(tmp_path):
    with pytest.raises(UserError, match="extract_precision"):
        PooledCache(tmp_path, replace(SPEC, precision="int8"))
    with pytest.raises(UserError, match="extract_precision"):
        with autocast(CPU, "float64"):
            pass


def test_autocast_that_torch_would_silently_disable_is_refused(monkeypatch):
    real = torch.autocast

    def disabled(device_type, dtype):  # what torch does for a dtype a device cannot autocast to
        warnings.warn(f"In {device_type} autocast, but the target dtype is not supported. "
                      "Disabling autocast.")
        return real(device_type, dtype=dtype, enabled=False)

    monkeypatch.setattr(cache_module.torch, "autocast", disabled)
    with pytest.raises(UserError, match=r"data.extract_precision=float16 is not supported.*"
                                        r"Disabling autocast"):
        with autocast(CPU, "float16"):
            pytest.fail("ran without autocast")


def test_non_finite_features_under_reduced_precision_name_the_option():
    class Overflowing:  # what FrozenUpstream raises for inf / nan hidden states
        def __call__(self, wavs):
            raise ValueError("upstream x produced non-finite features")

    with pytest.raises(UserError, match=r"non-finite.*data.extract_precision=float16 \(float16 "
                                        r"overflows above 65504\): try float32"):
        cache_module.pool(Overflowing(), [torch.zeros(16_000)], lambda h: h, CPU, "float16")
    with pytest.raises(ValueError, match="non-finite features$"):
        cache_module.pool(Overflowing(), [torch.zeros(16_000)], lambda h: h, CPU, "float32")


def test_autocast_runs_in_the_chosen_dtype():
    layer = torch.nn.Linear(8, 8)
    x = torch.randn(2, 8)
    for precision, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16),
                             ("float16", torch.float16)):
        with autocast(CPU, precision):
            assert layer(x).dtype == dtype
    assert not torch.is_autocast_enabled("cpu")


def _speechlike(seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """Harmonics of a gliding pitch, amplitude-modulated like syllables, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = rng.uniform(100, 220) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    wav = sum(np.sin(k * phase) / k for k in range(1, 8))
    wav *= 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 5) * t) ** 2
    return (0.1 * wav + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[WaveformDataset, object]:
    """Seven clips of 0.6-2 s (two at 22.05 kHz, resampled on loading) and a tiny WavLM."""
    work = tmp_path_factory.mktemp("precision")
    paths = []
    for i, seconds in enumerate((0.6, 1.3, 2.0, 0.9, 1.7, 1.1, 0.8)):
        rate = 22_050 if i in (2, 5) else 16_000
        path = work / f"clip{i}.wav"
        sf.write(path, _speechlike(seconds, rate, seed=i), rate)
        paths.append(path)
    standardizer = fit_standardizer(WaveformDataset(paths, 10.0, Standardizer(), False))
    dataset = WaveformDataset(paths, 10.0, standardizer, preload=False)
    spec = make_tiny("wavlm_large", work / "wavlm.ckpt", seed=0)
    return dataset, build_upstream("wavlm_large", spec.path)


def entries(folder: Path) -> dict[str, dict]:
    return {p.name: torch.load(p, weights_only=True) for p in folder.rglob("items/*/*.pt")}


def relative_differences(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||a - b|| / ||a||`` per utterance and layer of ``(N, L, D)`` pooled means: ``(N, L)``."""
    return (a - b).norm(dim=-1) / a.norm(dim=-1)


@pytest.mark.parametrize("precision, rtol", [("bfloat16", BF16_RTOL), ("float16", FP16_RTOL)])
def test_reduced_precision_has_its_own_folder_and_features_within_tolerance(
        corpus, tmp_path, precision, rtol):
    dataset, upstream = corpus
    full = feature_cache(str(tmp_path), dataset, upstream, False, "float32")
    reduced = feature_cache(str(tmp_path), dataset, upstream, False, "float32", precision)
    assert full.folder != reduced.folder and full.folder.name == full.spec.key()
    assert json.loads((reduced.folder / "spec.json").read_text())["precision"] == precision
    keys, written = fill_cache(full, dataset, upstream, False, 4, CPU)
    assert written == len(dataset)
    assert fill_cache(reduced, dataset, upstream, False, 4, CPU)[1] == len(dataset)
    a, b = full.load(keys), reduced.load(keys)
    assert a.dtype == b.dtype == torch.float32 and not torch.equal(a, b)
    rel = relative_differences(a, b)
    print(f"{precision}: max relative difference of pooled means {rel.max():.2e}, "
          f"max abs {(a - b).abs().max():.2e}")
    assert rel.max() < rtol
    squares = full.load(keys, "square"), reduced.load(keys, "square")
    assert ((squares[0] - squares[1]).norm(dim=-1) / squares[0].norm(dim=-1)).max() < 2 * rtol
    assert [e["frames"] for e in entries(full.folder).values()] == [
        e["frames"] for e in entries(reduced.folder).values()]


def test_in_memory_path_honours_the_precision(corpus, tmp_path):
    dataset, upstream = corpus
    memory = {p: pooled_statistics(dataset, upstream, False, 1, CPU, None, precision=p)["mean"]
              for p in ("float32", "bfloat16")}
    disk = pooled_statistics(dataset, upstream, False, 1, CPU, str(tmp_path),
                             precision="bfloat16")["mean"]
    assert torch.equal(memory["bfloat16"], disk)  # the same computation, stored in float32
    assert not torch.equal(memory["float32"], memory["bfloat16"])
    assert relative_differences(memory["float32"], memory["bfloat16"]).max() < BF16_RTOL


@pytest.mark.parametrize("normalize", [False, True])
def test_prefetching_gives_the_same_entries_as_sequential_loading(corpus, tmp_path, normalize):
    dataset, upstream = corpus
    results = {}
    for ahead in (0, 1, 2, 5):
        cache = feature_cache(str(tmp_path / f"ahead{ahead}"), dataset, upstream, normalize,
                              "float32", "bfloat16")
        fill_cache(cache, dataset, upstream, normalize, 3, CPU, prefetch=ahead)
        results[ahead] = entries(cache.folder)
    reference = results[0]
    assert len(reference) == len(dataset)
    for ahead, found in results.items():
        assert found.keys() == reference.keys(), ahead
        for key, entry in found.items():
            assert entry["frames"] == reference[key]["frames"]
            assert torch.equal(entry["mean"], reference[key]["mean"])
            assert torch.equal(entry["square"], reference[key]["square"])
    memory = [pooled_statistics(dataset, upstream, normalize, 3, CPU, None,
                                names=("mean", "square"), prefetch=ahead) for ahead in (0, 2)]
    for name in ("mean", "square"):
        assert torch.equal(memory[0][name], memory[1][name])


def test_prefetched_keeps_order_and_loads_ahead_in_another_thread():
    threads, started = [], []

    def load(i: int) -> int:
        threads.append(threading.current_thread().name)
        started.append(i)
        time.sleep(0.01 * ((7 * i) % 3))  # uneven loading times
        return i * i

    assert list(prefetched(range(20), load, 0)) == [i * i for i in range(20)]
    assert set(threads) == {threading.current_thread().name}
    threads.clear()
    started.clear()
    got = []
    for value in prefetched(range(20), load, 2):
        got.append(value)
        if len(got) == 3:
            time.sleep(0.1)  # the consumer is busy: at most 2 items beyond this one are loaded
            assert len(started) <= 3 + 2
    assert got == [i * i for i in range(20)] and started == list(range(20))
    assert threading.current_thread().name not in threads


def _with_bad_file(dataset: WaveformDataset, bad: Path) -> WaveformDataset:
    paths = list(dataset.paths)
    paths.insert(4, bad)
    return WaveformDataset(paths, dataset.max_seconds, dataset.standardizer, preload=False)


def test_a_loading_error_in_the_background_thread_names_the_file(corpus, tmp_path):
    dataset, upstream = corpus
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    broken = _with_bad_file(dataset, bad)
    cache = feature_cache(str(tmp_path / "cache"), broken, upstream, False, "float32")
    with pytest.raises(AudioError, match="broken.wav"):
        fill_cache(cache, broken, upstream, False, 2, CPU, prefetch=2)
    assert len(entries(cache.folder)) < len(broken)
    with pytest.raises(AudioError, match="broken.wav"):
        pooled_statistics(broken, upstream, False, 2, CPU, None, prefetch=2)


def test_any_loading_failure_names_the_file(corpus, tmp_path):
    dataset, upstream = corpus

    class Failing(WaveformDataset):  # fails while loading clip3.wav (WavLM bypasses the
        def raw(self, index):        # dataset's standardizer: it normalises each waveform)
            if self.paths[index].name == "clip3.wav":
                raise FloatingPointError("no standard deviation")
            return super().raw(index)

    failing = Failing(dataset.paths, dataset.max_seconds, dataset.standardizer, preload=False)
    with pytest.raises(RuntimeError, match=r"clip3\.wav: loading failed \(FloatingPointError"):
        pooled_statistics(failing, upstream, False, 2, CPU, None, prefetch=2)
    cache = feature_cache(str(tmp_path), failing, upstream, False, "float32")
    with pytest.raises(RuntimeError, match=r"clip3\.wav"):
        fill_cache(cache, failing, upstream, False, 2, CPU, prefetch=1)


def _folders(cache: Path) -> dict[str, str]:
    """``{precision: spec key}`` of the cache folders under ``cache``."""
    return {json.loads(p.read_text()).get("precision", "float32"): p.parent.name
            for p in cache.rglob("spec.json")}


def test_the_config_key_reaches_every_task(tmp_path, monkeypatch, capsys):
    """data.extract_precision through the command line: -m extract of the emotion task and both
    ExVo tasks, and emotion training with the statistics in memory (data.cache_dir=null)."""
    from emobench.corpora import demo_hume_vb
    from emobench.orchestration.cli import main
    from helpers_labels import write_corpus

    monkeypatch.chdir(tmp_path)
    tiny = make_tiny("wavlm_large", tmp_path / "wavlm.ckpt", seed=0).path
    fold = write_corpus(tmp_path / "emotion")
    emotion = f"data.label_dir={fold.label_dir},,data.audio_root={fold.audio_root}"
    info = demo_hume_vb.build(tmp_path / "hume", seed=3, speakers_per_country=4,
                              bursts_per_speaker=2)
    exvo = f"data.data_info={info},,data.audio_root={info.parent / 'wav'},,data.max_seconds=0.5"
    for task, data in (("emotion", emotion), ("exvo_mtl", exvo), ("exvo_fewshot", exvo)):
        for precision in ("float32", "bfloat16"):
            assert main(["-m", "extract", "-u", "wavlm_large", "-k", tiny, "-d", task,
                         "--device", "cpu", "-o", f"{data},,data.cache_dir=cache/{task},,"
                         f"data.extract_precision={precision}"]) == 0
        folders = _folders(tmp_path / "cache" / task)
        assert set(folders) == {"float32", "bfloat16"}, task
        assert folders["float32"] != folders["bfloat16"]
    capsys.readouterr()
    assert main(["-m", "extract", "-u", "wavlm_large", "-k", tiny, "-d", "emotion", "--device",
                 "cpu", "-o", f"{emotion},,data.extract_precision=float64"]) != 0
    assert "data.extract_precision: 'float64' is not one of" in capsys.readouterr().err
    assert main(["-m", "train", "-u", "wavlm_large", "-k", tiny, "-d", "emotion", "-n", "mem",
                 "--device", "cpu", "-o", f"{emotion},,data.cache_dir=null,,train.epochs=1,,"
                 "data.extract_precision=bfloat16"]) == 0
    log = Path("results/downstream/mem/log.log").read_text()
    assert "through wavlm_large (bfloat16)" in log
