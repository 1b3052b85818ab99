#!/usr/bin/env python3
"""Packed feature cache at scale: write, load and peak memory for 10k / 50k / 200k entries.

Synthetic entries of a 13 x 768 upstream (e.g. a base-size model's hidden states) stored in
float16, as ``upstream.packed_cache`` stores them: packs of ``--pack-size`` entries, each with
the per-utterance ``mean`` and ``square`` statistics and the frame count (atomic writes, fsync'ed
like every cache file). Every size runs in two fresh processes (so peak memory is its own):

- write: generating the random rows and writing the packs (CPU and wall seconds);
- load, twice, each in a fresh process: reading every pack listing, then the ``mean`` of every
  entry into one ``(N, 13, 768)`` float32 tensor (what training holds), memory-mapped pack by
  pack: ``load packed`` asks for the keys in the packs' order (a split read as it was packed:
  what a warm run does), ``load shuffled`` in a shuffled order (every pack gathered row by row:
  the slow case).

Peak memory is the process's maximum resident set size (``getrusage``). The files go to
``--workdir`` (default: a temporary folder; about 40 KB per entry), removed at the end unless
``--keep``.

    python benchmarks/cache_scale.py                    # prints rows, then one JSON line
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYERS, DIM = 13, 768


def keys_of(n: int) -> list[str]:
    return [hashlib.sha256(f"utt{i}".encode()).hexdigest() for i in range(n)]


def usage() -> tuple[float, float]:
    """(CPU seconds, peak resident MiB) of this process."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024


def write(folder: Path, n: int, pack_size: int) -> dict:
    import torch

    from emobench.upstream.packed_cache import write_pack

    keys = keys_of(n)
    generator = torch.Generator().manual_seed(0)
    cpu0, start = usage()[0], time.perf_counter()
    for first in range(0, n, pack_size):
        part = keys[first:first + pack_size]
        mean = torch.randn(len(part), LAYERS, DIM, generator=generator).half()
        square = (mean.float() ** 2).half()
        write_pack(folder, part, {"mean": mean, "square": square},
                   torch.full((len(part),), 200))
    wall = time.perf_counter() - start
    cpu, peak = usage()
    return {"write_wall_s": round(wall, 2), "write_cpu_s": round(cpu - cpu0, 2),
            "write_peak_mib": round(peak)}


def load(folder: Path, n: int, order: str) -> dict:
    import random

    import torch

    from emobench.upstream.packed_cache import read_index, read_packed

    keys = keys_of(n)  # the order they were packed in
    if order == "shuffled":
        random.Random(0).shuffle(keys)
    cpu0, start = usage()[0], time.perf_counter()
    index = read_index(folder)
    stats = read_packed(keys, ["mean"], index)
    wall = time.perf_counter() - start
    cpu, peak = usage()
    assert stats["mean"].shape == (n, LAYERS, DIM) and stats["mean"].dtype == torch.float32
    return {f"load_{order}_wall_s": round(wall, 2), f"load_{order}_cpu_s": round(cpu - cpu0, 2),
            f"load_{order}_peak_mib": round(peak),
            "loaded_mib": round(stats["mean"].numel() * 4 / 2**20)}


def child(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def disk_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--pack-size", type=int, default=4096)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("WHAT", "FOLDER", "N"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, folder, n = args.child
        result = (write(Path(folder), int(n), args.pack_size) if what == "write"
                  else load(Path(folder), int(n), what.split("-")[1]))
        print(json.dumps(result))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="cache_scale_"))
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        folder = work / f"n{n}"
        row = {"entries": n, **child(["--pack-size", str(args.pack_size), "--child", "write",
                                      str(folder), str(n)])}
        row["disk_mib"] = round(disk_mib(folder))
        for order in ("packed", "shuffled"):
            row.update(child(["--child", f"load-{order}", str(folder), str(n)]))
        row["load_average_1min"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if not args.keep:
            shutil.rmtree(folder)
    print(json.dumps({"benchmark": "cache_scale", "shape": [LAYERS, DIM], "dtype": "float16",
                      "pack_size": args.pack_size, "rows": rows}))


if __name__ == "__main__":
    main()
