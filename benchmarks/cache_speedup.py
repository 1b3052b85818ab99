#!/usr/bin/env python3
"""Training from the pooled feature cache vs running the upstream on every batch.

Trains fold 1 of the demo corpus twice on this machine, in one run: ``train.feature_path=frames``
(the reference's way: the frozen upstream runs on every batch of every epoch and on dev at every
evaluation) and the default pooled path with an empty cache (extraction included). Then folds 2-5
on the pooled path, and fold 1 again with float16 storage. The upstream is a full-size random-weight
APC (apc_960hr architecture) unless --upstream says otherwise.

    python benchmarks/cache_speedup.py            # prints rows, then one JSON line

- speedup_end_to_end: fold-1 wall time, frames / pooled (cold cache, extraction included).
- speedup_amortised_5_folds: 5 x the frames fold-1 time over the summed pooled times of folds 1-5.
  Only fold 1 is run on the frames path; its time stands for every fold (same corpus, same sizes).
  Under EMO-SUPERB's protocol the waveform standardisation depends on the fold's training set, so
  each fold extracts its own cache entries: the amortised figure includes five extractions.
- max_metric_diff: the largest |frames - pooled| over every dev and test metric of fold 1.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from emobench.orchestration.cli import main as run
from emobench.upstream import make_tiny


def train(name: str, upstream: str, checkpoint: str | None, epochs: int, fold: int, cache: str,
          extra: str = "") -> tuple[float, dict]:
    args = ["-m", "train", "-u", upstream, "-d", "emotion", "--demo", "-n", name,
            "--device", "cpu", "-o",
            f"train.epochs={epochs},,data.fold={fold},,data.cache_dir={cache}{extra}"]
    if checkpoint:
        args[4:4] = ["-k", checkpoint]
    start = time.perf_counter()
    assert run(args) == 0, name
    elapsed = time.perf_counter() - start
    scores = json.loads((Path("results/downstream") / name / "scores.json").read_text())
    return elapsed, scores["metrics"]


def diff(a: dict, b: dict) -> float:
    return max(abs(a[s][m] - b[s][m]) for s in a for m in a[s])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", default="apc_960hr")
    parser.add_argument("--epochs", type=int, default=40, help="EMO-SUPERB's IEMOCAP count")
    parser.add_argument("--workdir", help="default: a temporary folder")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cache_speedup_"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    spec = make_tiny(args.upstream, workdir / "upstream.ckpt", full_size=True)
    # build the demo corpus once, outside the timings
    from emobench.downstream.emotion.task import demo
    demo(Path("results/demo/emotion"))

    frames_s, frames = train("frames", args.upstream, spec.path, args.epochs, 1, "null",
                             ",,train.feature_path=frames")
    print(f"fold 1 frames path: {frames_s:.1f} s", flush=True)
    pooled_times, pooled = [], None
    for fold in range(1, 6):
        seconds, metrics = train(f"pooled_fold{fold}", args.upstream, spec.path, args.epochs,
                                 fold, "cache")
        pooled_times.append(seconds)
        pooled = metrics if fold == 1 else pooled
        print(f"fold {fold} pooled path (cold cache for this fold): {seconds:.1f} s", flush=True)
    half_s, half = train("pooled_fp16", args.upstream, spec.path, args.epochs, 1, "cache16",
                         ",,data.cache_dtype=float16")
    print(f"fold 1 pooled path, float16 cache: {half_s:.1f} s", flush=True)
    result = {
        "benchmark": "cache_speedup", "upstream": args.upstream, "full_size_random": True,
        "epochs": args.epochs, "device": "cpu", "corpus": "demo (400 utterances, fold 1-5)",
        "frames_fold1_s": round(frames_s, 2), "pooled_fold_s": [round(t, 2) for t in pooled_times],
        "speedup_end_to_end": round(frames_s / pooled_times[0], 2),
        "speedup_amortised_5_folds": round(5 * frames_s / sum(pooled_times), 2),
        "max_metric_diff": diff(frames, pooled),
        "fp16_cache_max_metric_diff": diff(pooled, half),
        "frames_test_macro_f1": frames["test"]["macro_f1"],
        "pooled_test_macro_f1": pooled["test"]["macro_f1"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
