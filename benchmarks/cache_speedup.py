#!/usr/bin/env python3
"""Training from the pooled feature cache vs running the upstream on every batch, over a whole
5-fold condition of the demo corpus.

In one run: fold 1 on ``train.feature_path=frames`` (the reference's way: the frozen upstream
runs on every batch of every epoch and on dev at every evaluation), then folds 1-5 on the default
pooled path, starting from an empty cache (extraction included). The upstream is a full-size
random-weight APC (apc_960hr architecture) unless --upstream says otherwise.

    python benchmarks/cache_speedup.py            # prints rows, then one JSON line

``--scope`` is the waveform standardisation of every run (``data.standardize_scope``): with
``condition`` (the default here; the opt-in variant of docs/performance.md) all five folds share
one cache, so the pooled path runs the upstream once per utterance for the whole condition; with
``fold`` (EMO-SUPERB's protocol) every fold extracts its own entries (APC does not normalise its
waveform, so its folds cannot share). Both paths use the same scope, so their metrics compare.

- speedup_end_to_end: 5 x the frames fold-1 time over the summed pooled times of folds 1-5
  (only fold 1 is run on the frames path; its time stands for every fold: same corpus, same sizes).
- speedup_fold1: fold-1 time, frames / pooled (the cold cache's extraction included).
- max_metric_diff: the largest |frames - pooled| over every dev and test metric of fold 1.
- cpu_s: user + system CPU seconds of this process for each part (the machine may be shared).

``--parts frames`` or ``--parts pooled`` runs one side only (its rows and JSON, no ratios);
``--folds N`` runs the pooled path on folds 1-N only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from emobench.orchestration.cli import main as run
from emobench.upstream import make_tiny


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train(name: str, upstream: str, checkpoint: str | None, epochs: int, fold: int, cache: str,
          extra: str = "") -> tuple[float, float, dict]:
    args = ["-m", "train", "-u", upstream, "-d", "emotion", "--demo", "-n", name,
            "--device", "cpu", "-o",
            f"train.epochs={epochs},,data.fold={fold},,data.cache_dir={cache}{extra}"]
    if checkpoint:
        args[4:4] = ["-k", checkpoint]
    start, start_cpu = time.perf_counter(), cpu()
    assert run(args) == 0, name
    elapsed, used = time.perf_counter() - start, cpu() - start_cpu
    scores = json.loads((Path("results/downstream") / name / "scores.json").read_text())
    return elapsed, used, scores["metrics"]


def diff(a: dict, b: dict) -> float:
    return max(abs(a[s][m] - b[s][m]) for s in a for m in a[s])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", default="apc_960hr")
    parser.add_argument("--epochs", type=int, default=40, help="EMO-SUPERB's IEMOCAP count")
    parser.add_argument("--workdir", help="default: a temporary folder")
    parser.add_argument("--scope", default="condition", choices=["condition", "fold"],
                        help="data.standardize_scope of every run")
    parser.add_argument("--parts", default="both", choices=["both", "frames", "pooled"])
    parser.add_argument("--folds", type=int, default=5, help="pooled folds 1..N")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cache_speedup_"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    spec = make_tiny(args.upstream, workdir / "upstream.ckpt", full_size=True)
    # build the demo corpus once, outside the timings
    from emobench.downstream.emotion.task import demo
    demo(Path("results/demo/emotion"))
    scope = f",,data.standardize_scope={args.scope}"
    load = [os.getloadavg()[0]]
    result = {
        "benchmark": "cache_speedup", "upstream": args.upstream, "full_size_random": True,
        "epochs": args.epochs, "device": "cpu", "corpus": "demo (400 utterances, folds 1-5)",
        "standardize_scope": args.scope, "parts": args.parts}
    if args.parts != "pooled":
        frames_s, frames_cpu, frames = train("frames", args.upstream, spec.path, args.epochs, 1,
                                             "null", scope + ",,train.feature_path=frames")
        load.append(os.getloadavg()[0])
        print(f"fold 1 frames path: {frames_s:.1f} s ({frames_cpu:.1f} s CPU)", flush=True)
        result.update(frames_fold1_s=round(frames_s, 2), frames_fold1_cpu_s=round(frames_cpu, 2),
                      frames_metrics=frames)
    if args.parts == "frames":
        print(json.dumps(result))
        return
    pooled_times, pooled_cpu, pooled = [], [], None
    for fold in range(1, args.folds + 1):
        seconds, used, metrics = train(f"pooled_fold{fold}", args.upstream, spec.path,
                                       args.epochs, fold, "cache", scope)
        pooled_times.append(seconds)
        pooled_cpu.append(used)
        pooled = metrics if fold == 1 else pooled
        print(f"fold {fold} pooled path: {seconds:.1f} s ({used:.1f} s CPU)", flush=True)
    load.append(os.getloadavg()[0])
    entries = len(list(Path("cache").rglob("items/*/*.pt")))
    result.update(pooled_fold_s=[round(t, 2) for t in pooled_times],
                  pooled_fold_cpu_s=[round(t, 2) for t in pooled_cpu],
                  pooled_cache_entries=entries, pooled_metrics_fold1=pooled,
                  load_average_1min=[round(x, 2) for x in load])
    if args.parts == "both":
        result.update(
            speedup_end_to_end=round(args.folds * frames_s / sum(pooled_times), 2),
            speedup_end_to_end_cpu=round(args.folds * frames_cpu / sum(pooled_cpu), 2),
            speedup_fold1=round(frames_s / pooled_times[0], 2),
            max_metric_diff=diff(frames, pooled))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
