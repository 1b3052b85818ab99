#!/usr/bin/env python3
"""CPU seconds of a warm-cache emotion run on EmoDB: this tree against an older one.

Prepares EmoDB's SERAB split from ``$SER_TEST_DATA/emodb`` once, then for each tree (the current
one, "after", and ``--before-tree``, a git worktree of the older commit with its own Python,
``--before-python``) trains once to fill its own feature cache (not timed), then trains
``--repeats`` more times on the warm cache, interleaved before / after so that both see the same
machine load. Each timed run is a fresh process (``run_downstream.py -m train``, the whole
command: imports, label files, audit, statistics, upstream load, training, evaluation, outputs);
its CPU seconds are user + system of the child (``getrusage``). Each tree's bytecode is
written by its cold run into the work folder (``PYTHONPYCACHEPREFIX``) and read by its warm
runs, as an installed toolkit's is after its first run. The median of the repeats is
reported, with every value and the 1-min load average around the runs.

    git worktree add --detach /tmp/base795 795d365   # plus a venv whose emobench is that tree
    SER_TEST_DATA=/work/shared/data python benchmarks/warm_run.py \\
        --before-tree /tmp/base795 --before-python /tmp/base_venv/bin/python

The last line is one JSON object (``ratio`` = after / before of the medians).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_train(python: str, tree: Path, work: Path, name: str, labels: Path, audio: Path,
              upstream: str, epochs: int, threads: str | None) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one training process."""
    # bytecode as on a user's machine after the first run: written by the cold run and read by
    # the warm ones, into a folder of the benchmark per tree (the trees stay untouched)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work.parent / f"pycache-{work.name}")
    if threads is not None:
        env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    overrides = (f"data.label_dir={labels},,data.audio_root={audio},,train.epochs={epochs},,"
                 f"data.cache_dir={work / 'cache'}")
    argv = [python, str(tree / "run_downstream.py"), "-m", "train", "-u", upstream, "-d",
            "emotion", "-c", str(tree / "configs/emotion/emodb.yaml"), "-p", str(work / name),
            "--device", "cpu", "-o", overrides]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=work, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: training failed:\n{done.stderr[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before-tree", type=Path, required=True)
    parser.add_argument("--before-python", required=True)
    parser.add_argument("--upstream", default="fbank_no_cmvn")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1",
                        help="OMP/MKL_NUM_THREADS of the children ('none': inherit)")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    data = Path(os.environ.get("SER_TEST_DATA", "")) / "emodb"
    if not (data / "wav").is_dir():
        raise SystemExit("set SER_TEST_DATA to the folder holding emodb/wav")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="warm_run_"))
    from emobench.corpora.emodb import prepare
    prepare(data, work / "labels")
    threads = None if args.threads == "none" else args.threads
    trees = {"before": (args.before_python, args.before_tree.resolve()),
             "after": (sys.executable, REPO)}
    for label, (python, tree) in trees.items():  # cold runs: fill each tree's own cache
        (work / label).mkdir(parents=True, exist_ok=True)
        cpu, wall = run_train(python, tree, work / label, "cold", work / "labels" / "SERAB",
                              data / "wav", args.upstream, args.epochs, threads)
        print(f"{label} cold run (fills the cache): {cpu:.1f} s CPU, {wall:.1f} s wall",
              flush=True)
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    wall: dict[str, list[float]] = {"before": [], "after": []}
    load = [os.getloadavg()[0]]
    for repeat in range(args.repeats):
        for label, (python, tree) in trees.items():
            c, w = run_train(python, tree, work / label, f"warm{repeat}",
                             work / "labels" / "SERAB", data / "wav", args.upstream,
                             args.epochs, threads)
            cpu[label].append(round(c, 2))
            wall[label].append(round(w, 2))
            print(f"{label} warm run {repeat + 1}: {c:.1f} s CPU, {w:.1f} s wall", flush=True)
        load.append(os.getloadavg()[0])
    median = {k: statistics.median(v) for k, v in cpu.items()}
    print(json.dumps({
        "benchmark": "warm_run", "corpus": "emodb SERAB (344 train / 107 dev / 84 test)",
        "upstream": args.upstream, "epochs": args.epochs, "threads": args.threads,
        "before_tree": str(args.before_tree), "cpu_s": cpu, "wall_s": wall,
        "median_cpu_s": median, "ratio": round(median["after"] / median["before"], 3),
        "load_average_1min": [round(x, 2) for x in load]}))


if __name__ == "__main__":
    main()
