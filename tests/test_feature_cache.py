"""The on-disk pooled feature cache: keys, shards, interruption, equality with the in-memory path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from emobench.core.resources import CHECKOUT as REPO_ROOT
from emobench.upstream import make_tiny
from emobench.upstream.cache import CacheSpec

RUN = [sys.executable, str(REPO_ROOT / "run_downstream.py")]
SPEC = CacheSpec("wavlm_large", "a" * 64, False, False, 16_000, 10.0, 0.0, 1.0)


def entries(cache_root: Path) -> dict[str, dict]:
    return {p.name: torch.load(p, weights_only=True) for p in cache_root.rglob("items/*/*.pt")}


def same(a: dict[str, dict], b: dict[str, dict]) -> bool:
    return a.keys() == b.keys() and all(
        a[k]["frames"] == b[k]["frames"] and torch.equal(a[k]["mean"], b[k]["mean"])
        and torch.equal(a[k]["square"], b[k]["square"]) for k in a)


def extract(cwd: Path, cache: Path, checkpoint: str, *extra: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(RUN + ["-m", "extract", "-u", "apc_960hr", "-k", checkpoint,
                                   "-d", "emotion", "--demo", "--device", "cpu",
                                   "-o", f"data.cache_dir={cache}", *extra],
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)


@pytest.mark.parametrize("change", [
    {"upstream": "hubert_large_ll60k"}, {"checkpoint_sha256": "b" * 64}, {"layer_norm": True},
    {"padded_batch": True}, {"max_seconds": 5.0}, {"wav_mean": 1e-6}, {"wav_std": 1.01},
    {"dtype": "float16"}, {"standardize": "utterance"}])
def test_anything_features_depend_on_changes_the_cache_folder(change):
    assert replace(SPEC, **change).key() != SPEC.key()
    assert replace(SPEC).key() == SPEC.key()


@pytest.fixture(scope="module")
def apc(tmp_path_factory) -> tuple[Path, str]:
    """A full-size APC (random weights): slow enough on a CPU to be interrupted mid-way."""
    work = tmp_path_factory.mktemp("cache")
    spec = make_tiny("apc_960hr", work / "apc.ckpt", full_size=True)
    return work, spec.path


@pytest.mark.slow
def test_killed_extraction_resumes_to_the_same_cache_and_shards_partition_it(apc):
    work, checkpoint = apc
    whole = work / "whole"
    assert extract(work, whole, checkpoint).wait() == 0
    reference = entries(whole)
    assert len(reference) == 400

    killed = work / "killed"
    proc = extract(work, killed, checkpoint)
    deadline = time.time() + 300
    while len(list(killed.rglob("items/*/*.pt"))) < 40 and time.time() < deadline:
        assert proc.poll() is None, "extraction ended before it could be interrupted"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = entries(killed)  # every entry written so far is complete and loadable
    assert 40 <= len(partial) < 400
    assert all(torch.equal(partial[k]["mean"], reference[k]["mean"]) for k in partial)
    assert extract(work, killed, checkpoint).wait() == 0
    assert same(entries(killed), reference)

    sharded = work / "sharded"
    seen: set[str] = set()
    for i in (1, 2, 3):
        before = set(entries(sharded))
        assert extract(work, sharded, checkpoint, "--shard", f"{i}/3").wait() == 0
        new = set(entries(sharded)) - before
        assert new and not new & seen
        seen |= new
    assert same(entries(sharded), reference)


def test_training_from_the_cache_equals_training_in_memory(tmp_path, monkeypatch):
    from emobench.core import scores
    from emobench.orchestration.cli import main

    monkeypatch.chdir(tmp_path)
    spec = make_tiny("wavlm_large", tmp_path / "wavlm.ckpt")
    runs = {}
    for name, cache in (("memory", "null"), ("disk", "cache"), ("disk_again", "cache")):
        assert main(["-m", "train", "-u", "wavlm_large", "-k", spec.path, "-d", "emotion",
                     "--demo", "-n", name, "--device", "cpu", "-o",
                     f"train.epochs=2,,train.lr=1e-3,,data.cache_dir={cache}"]) == 0
        runs[name] = Path("results/downstream") / name
    models = {n: torch.load(r / "last.ckpt", weights_only=True)["model"] for n, r in runs.items()}
    for key in models["memory"]:
        torch.testing.assert_close(models["disk"][key], models["memory"][key],
                                   atol=1e-5, rtol=1e-4)
        assert torch.equal(models["disk"][key], models["disk_again"][key])  # read back exactly
    first, again = (scores.read(runs[n] / "scores.json")["metrics"] for n in ("disk", "disk_again"))
    assert first == again
    log = (runs["disk_again"] / "log.log").read_text()
    assert "read 240 pooled utterances" in log and "extracted" not in log
