#!/usr/bin/env python3
"""CPU seconds of the command line's fixed cost: ``-h``, ``--list-upstreams``, ``--list-tasks``.

Runs each command ``--repeats`` times in fresh processes for the current tree ("after") and, when
``--before REV`` is given, for a git worktree of that commit ("before"), interleaved so that both
see the same machine load, and prints the median CPU seconds (user + system of the child, from
``getrusage``) and the ratio. Thread pools are pinned to one thread in every child.

    python benchmarks/cli_startup.py --before 447a8cf --repeats 5
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = (["-h"], ["--list-upstreams"], ["--list-tasks"])
TARGET_CPU_SECONDS = 1.5


def cpu_seconds(tree: Path, argv: list[str]) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, str(tree / "run_downstream.py"), *argv], cwd=tree, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="git revision to compare against (a worktree of it)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    trees = {"after": REPO}
    with tempfile.TemporaryDirectory() as tmp:
        if args.before:
            trees["before"] = Path(tmp) / "before"
            subprocess.run(["git", "worktree", "add", "--detach", str(trees["before"]),
                            args.before], cwd=REPO, check=True, capture_output=True)
        try:
            for tree in trees.values():  # warm the file cache and byte-code of each tree once
                cpu_seconds(tree, ["--list-tasks"])
            samples = {(name, " ".join(c)): [] for name in trees for c in COMMANDS}
            for _ in range(args.repeats):
                for command in COMMANDS:
                    for name, tree in trees.items():
                        samples[(name, " ".join(command))].append(cpu_seconds(tree, command))
        finally:
            if args.before:
                subprocess.run(["git", "worktree", "remove", "--force", str(trees["before"])],
                               cwd=REPO, check=False, capture_output=True)
    rows = []
    print(f"{'command':<18} {'before (s CPU)':>15} {'after (s CPU)':>14} {'after/before':>13}")
    for command in COMMANDS:
        key = " ".join(command)
        after = statistics.median(samples[("after", key)])
        before = statistics.median(samples[("before", key)]) if args.before else None
        ratio = after / before if before else None
        rows.append({"command": key, "before": before, "after": after, "ratio": ratio,
                     "under_target": after < TARGET_CPU_SECONDS})
        print(f"{key:<18} {before if before is not None else float('nan'):>15.3f} {after:>14.3f} "
              f"{ratio if ratio is not None else float('nan'):>13.3f}")
    print(json.dumps({"repeats": args.repeats, "before_rev": args.before,
                      "target_cpu_seconds": TARGET_CPU_SECONDS, "rows": rows}))
    return 0 if all(r["under_target"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
