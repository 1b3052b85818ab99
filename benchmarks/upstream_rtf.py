#!/usr/bin/env python3
"""Extraction speed of upstreams at full size (published architecture, random weights), CPU or GPU.

For each upstream: build a full-size random checkpoint with the family's own builder, load it
through the registry and s3prl's loader, and time the extraction of the same clip (best of
``--repeats`` runs after one warm-up), per-utterance as the toolkit does by default. Prints one
row per upstream and, as the last line, a JSON object.

    python benchmarks/upstream_rtf.py --upstreams wavlm_large hubert_large_ll60k apc_960hr fbank
    python benchmarks/upstream_rtf.py --device cuda --upstreams wavlm_large --out gpu.yaml

Real-time factor (RTF) = extraction seconds / audio seconds (below 1: faster than real time).
On CUDA the clock is read after ``torch.cuda.synchronize()``. ``--out FILE`` merges the RTFs into
a throughput file (configs/sweeps/throughput.yaml's format, read by emobench/orchestration/sweep/cost.py for
``run_downstream.py -m sweep --dry-run``) under ``devices.<device kind>.extraction``, where the
device kind is ``cpu-<cores>core`` or ``cuda-<GPU name>``; the section is replaced whole.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from emobench.upstream import build_upstream, make_tiny, upstream_info

DEFAULT = ["fbank", "apc_960hr", "wavlm_large", "hubert_large_ll60k"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name: str, seconds: float, repeats: int, folder: Path,
            device: torch.device = torch.device("cpu")) -> dict:
    info = upstream_info(name)
    spec = make_tiny(name, folder / f"{name}.ckpt", seed=0, full_size=True)
    up = build_upstream(name, spec.path).to(device)
    params = sum(p.numel() for p in up.parameters())
    wav = 0.1 * torch.randn(int(seconds * 16_000), generator=torch.Generator().manual_seed(0))
    wav = wav.to(device)
    up([wav])  # warm-up
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        hidden, _ = up([wav])
        _sync(device)
        times.append(time.perf_counter() - start)
    if spec.path is not None:
        Path(spec.path).unlink()
    best = min(times)
    return {"upstream": name, "hidden_states": up.num_layers, "dim": up.dim,
            "frame_rate": round(up.frame_rate, 2), "params_m": round(params / 1e6, 2),
            "published_params_m": info.params_m, "clip_s": seconds, "best_s": round(best, 4),
            "rtf": round(best / seconds, 4), "threads": torch.get_num_threads(),
            "matches_published": (up.num_layers, up.dim) == (info.hidden_states, info.dim)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstreams", nargs="+", default=DEFAULT)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:<index>")
    parser.add_argument("--out", help="merge the RTFs into this throughput YAML file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.upstreams:
            row = measure(name, args.seconds, args.repeats, Path(tmp), device)
            rows.append(row)
            print(f"{name:<34} hidden {row['hidden_states']:>3} x {row['dim']:<5} "
                  f"{row['frame_rate']:>6g} frames/s  {row['params_m']:>8.2f} M params  "
                  f"{row['best_s']:.3f} s for {args.seconds:g} s  RTF {row['rtf']:.3f}", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"benchmark": "upstream_rtf", "device": args.device,
                      "threads": args.threads, "peak_rss_mb": round(peak_mb), "results": rows}))
    if args.out:
        from emobench.orchestration.sweep import cost, throughput

        kind = throughput.device_kind(args.device)
        machine = f"{platform.machine()}, {os.cpu_count()} cores" + (
            f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
        provenance = {
            "date": datetime.date.today().isoformat(),
            "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
            "machine": machine,
            "method": (f"real-time factor of one {args.seconds:g}-s clip, per-utterance, best "
                       f"of {args.repeats} after a warm-up, full-size architectures with "
                       f"random weights, {args.threads} torch threads, device {args.device}")}
        throughput.merge_measurements(args.out, kind, "extraction", provenance,
                                {row["upstream"]: row["rtf"] for row in rows})
        print(f"wrote devices.{kind}.extraction of {args.out}")


if __name__ == "__main__":
    main()
