#!/usr/bin/env python3
"""Extraction speed and feature difference of float32 vs bfloat16 (and float16) autocast.

Builds a full-size, random-weight upstream (default wavlm_large, the published architecture)
with its family's own builder, and extracts the same clips with the toolkit's extraction
(``downstream.pooling.pooled_statistics``: waveforms loaded in a background thread, the
upstream's forward under ``torch.autocast`` for the reduced precisions, float32 statistics) once
per precision, side by side in one run. Prints a table and, as the last line, a JSON object.

    python benchmarks/extract_precision.py                  # cuda if available, else cpu
    python benchmarks/extract_precision.py --device cuda    # float32, bfloat16, float16
    python benchmarks/extract_precision.py --device cpu --clips 3

Clips: ``--clips`` clips of ``--min-seconds`` to ``--max-seconds`` (seeded lengths), each made of
consecutive EmoDB utterances (``$SER_TEST_DATA/emodb/wav``) when it is there, else seeded noise.

- RTF (real-time factor) = extraction seconds / audio seconds (below 1: faster than real time),
  after one untimed warm-up clip per precision; the best of ``--repeats`` runs.
- Feature difference against float32, on the per-layer pooled means ``(clips, layers, dim)``:
  max |a - b|, and ||a - b|| / ||a|| per clip and layer (norm over dim), whose maximum over the
  clips is given per layer (``per_layer_max_rel``) and over everything (``max_rel``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from emobench.downstream.pooling import pooled_statistics
from emobench.downstream.waveforms import Standardizer, WaveformDataset, fit_standardizer
from emobench.core import audio
from emobench.upstream import build_upstream, make_tiny
from emobench.upstream.cache import PRECISIONS


def speech_clips(count: int, low: float, high: float, folder: Path) -> list[Path] | None:
    """``count`` clips of ``low``-``high`` seconds, each consecutive EmoDB utterances (mostly one
    speaker) joined and cut to a seeded length, at EmoDB's sample rate (resampled on loading);
    None without ``$SER_TEST_DATA/emodb/wav``."""
    root = os.environ.get("SER_TEST_DATA")
    files = sorted((Path(root) / "emodb" / "wav").glob("*.wav")) if root else []
    if not files:
        return None
    rate = sf.info(str(files[0])).samplerate
    rng = np.random.default_rng(0)
    stride = max(1, len(files) // count)  # clips from across the corpus (its speakers)
    paths = []
    for i in range(count):
        samples = int(rng.uniform(low, high) * rate)
        parts, total, j = [], 0, i * stride
        while total < samples:
            part = audio.load(files[j % len(files)], rate).numpy()
            parts.append(part)
            total, j = total + len(part), j + 1
        path = folder / f"emodb{i}.wav"
        sf.write(path, np.concatenate(parts)[:samples], rate)
        paths.append(path)
    return paths


def noise_clips(count: int, low: float, high: float, folder: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"noise{i}.wav"
        samples = int(rng.uniform(low, high) * audio.SAMPLE_RATE)
        sf.write(path, (0.1 * rng.standard_normal(samples)).astype(np.float32), audio.SAMPLE_RATE)
        paths.append(path)
    return paths


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def extract(dataset: WaveformDataset, warmup: WaveformDataset, upstream, device: torch.device,
            precision: str, repeats: int, prefetch: int) -> tuple[float, torch.Tensor, float]:
    """(best seconds, ``(N, L, D)`` pooled means, peak GPU MB or nan)."""
    pooled_statistics(warmup, upstream, False, 1, device, None, precision=precision)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, means = [], None
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        means = pooled_statistics(dataset, upstream, False, 1, device, None,
                                  precision=precision, prefetch=prefetch)["mean"]
        synchronize(device)
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
            else float("nan"))
    return min(times), means, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", default="wavlm_large")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precisions", nargs="+", choices=sorted(PRECISIONS),
                        help="default: float32 bfloat16, and float16 on cuda")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--min-seconds", type=float, default=4.0)
    parser.add_argument("--max-seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    parser.add_argument("--compare-prefetch", action="store_true",
                        help="also time float32 with waveforms loaded in the compute thread")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    precisions = args.precisions or (["float32", "bfloat16"]
                                     + (["float16"] if device.type == "cuda" else []))
    # float32 first: the reference of the differences
    precisions = ["float32"] + [p for p in dict.fromkeys(precisions) if p != "float32"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = speech_clips(args.clips, args.min_seconds, args.max_seconds, folder)
        source = "emodb"
        if paths is None:
            paths, source = noise_clips(args.clips, args.min_seconds, args.max_seconds,
                                        folder), "noise"
        plain = WaveformDataset(paths, args.max_seconds, Standardizer(), preload=False)
        standardizer = fit_standardizer(plain)
        dataset = WaveformDataset(paths, args.max_seconds, standardizer, preload=False)
        warmup = WaveformDataset(paths[:1], args.max_seconds, standardizer, preload=False)
        seconds = sum(len(plain.raw(i)) for i in range(len(plain))) / audio.SAMPLE_RATE
        spec = make_tiny(args.upstream, folder / "upstream.ckpt", seed=0, full_size=True)
        upstream = build_upstream(args.upstream, spec.path).to(device)
        params = sum(p.numel() for p in upstream.parameters())
        name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else platform.processor() or platform.machine())
        print(f"{args.upstream}: {params / 1e6:.1f} M parameters (random weights), "
              f"{upstream.num_layers} x {upstream.dim}; {len(paths)} {source} clips, "
              f"{seconds:.1f} s of audio; {device} ({name}), torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads", flush=True)
        runs = [(p, 2) for p in precisions]
        if args.compare_prefetch:
            runs.append(("float32", 0))
        results, means = [], {}
        for precision, prefetch in runs:
            elapsed, mean, peak = extract(dataset, warmup, upstream, device, precision,
                                          args.repeats, prefetch)
            row = {"precision": precision, "prefetch": prefetch, "extract_s": round(elapsed, 3),
                   "rtf": round(elapsed / seconds, 4)}
            if device.type == "cuda":
                row["peak_gpu_mb"] = round(peak)
            if prefetch:
                means[precision] = mean
            reference = means["float32"]
            diff = mean - reference
            rel = diff.norm(dim=-1) / reference.norm(dim=-1).clamp_min(1e-12)  # (clips, layers)
            per_layer = rel.max(dim=0).values
            row |= {"max_abs_diff": float(diff.abs().max()), "max_rel": float(per_layer.max()),
                    "worst_layer": int(per_layer.argmax()), "mean_rel": float(rel.mean()),
                    "per_layer_max_rel": [float(f"{v:.3g}") for v in per_layer]}
            results.append(row)
            print(f"{precision:<9} prefetch {prefetch}  {elapsed:8.2f} s  RTF {row['rtf']:.4f}  "
                  f"speed-up {results[0]['extract_s'] / elapsed:5.2f}  max|diff| "
                  f"{row['max_abs_diff']:.2e}  max rel {row['max_rel']:.2e} (layer "
                  f"{row['worst_layer']})  mean rel {row['mean_rel']:.2e}"
                  + (f"  peak GPU {row['peak_gpu_mb']} MB" if "peak_gpu_mb" in row else ""),
                  flush=True)
    print(json.dumps({"benchmark": "extract_precision", "upstream": args.upstream,
                      "params_m": round(params / 1e6, 2), "device": str(device),
                      "device_name": name, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "source": source,
                      "clips": len(paths), "audio_s": round(seconds, 2),
                      "repeats": args.repeats, "results": results}))


if __name__ == "__main__":
    main()
