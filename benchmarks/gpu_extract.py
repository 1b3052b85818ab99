#!/usr/bin/env python3
"""Batched extraction throughput of full-size upstreams on a GPU (or the CPU): utterances/s,
real-time factor, FLOPs per audio second, achieved FLOP/s against measured and datasheet peaks,
peak GPU memory; float32 and bfloat16 autocast over batch sizes.

    python benchmarks/gpu_extract.py --out gpu_extract.json            # cuda if available
    python benchmarks/gpu_extract.py --peak-tflops-bf16 989 --peak-tflops-fp32 67
    python benchmarks/gpu_extract.py --device cpu --tiny --batch-sizes 1 2 --seconds 1

What is measured, per upstream x precision x batch size (one row each):

- The model: ``make_tiny(name, path, seed=0, full_size=True)`` (the published architecture,
  random weights; ``--tiny``: the tiny test checkpoint) loaded with ``build_upstream(name, path,
  padded_batch=True)``, the toolkit's own loader (s3prl's ``*_local`` loaders), then moved to the
  device. Model build times are printed and stored per upstream.
- The work: one batch of ``B`` equal-length utterances (a length bucket: no padding, so batched
  features equal per-utterance ones) of ``--seconds`` s of seeded synthetic 16-kHz audio, through
  the toolkit's extraction step ``upstream.cache.pool``: waveforms copied from (pinned) host
  memory, the upstream's forward under ``upstream.cache.autocast`` (float32: no autocast;
  bfloat16: ``torch.autocast``, as ``data.extract_precision`` does), float32 per-layer pooled
  statistics, copied back to the host.
- Timing: ``--warmup`` untimed runs, then ``--repeats`` timed runs; on CUDA each run is timed
  with the wall clock between ``torch.cuda.synchronize()`` calls. The median is reported.
  utterances/s = B / median; RTF (real-time factor) = median / (B x seconds of audio).
- FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one extra run of the same step
  (outside the timed runs). It counts matrix multiplications, convolutions and attention
  kernels (2 FLOPs per multiply-add), not elementwise ops, normalisations or reductions.
  FLOPs per audio second = counted FLOPs / (B x seconds); achieved FLOP/s = counted FLOPs /
  median time.
- Peaks: a ``--matmul-size``^3 matmul in bfloat16 and in float32, timed with CUDA events (mean
  of ``--matmul-repeats`` after at least 1 s of warm-ups on CUDA), in the same run; float32 matmuls follow
  ``torch.get_float32_matmul_precision()`` (printed and stored). Fractions of peak compare the
  achieved FLOP/s of a float32 row with the float32 peak, of a bfloat16 row with the bfloat16
  peak: against the measured peak, and against ``--peak-tflops-bf16`` / ``--peak-tflops-fp32``
  (datasheet figures you give; "n/a" without them).
- Peak GPU memory of each row: ``torch.cuda.max_memory_allocated`` (reset before the row; the
  model's weights included).

An out-of-memory error is reported as "OOM" in its row (larger batch sizes of that upstream and
precision are then skipped, with a printed line), any other error of a row as "error: ..." (its
traceback on stderr); ``--time-budget-s`` skips the configurations
left when it is spent, each with a printed "skipped (time budget)" line. Every row is printed as
soon as it is measured, then a Markdown table, then the JSON object (also written to ``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import json
import math
import os
import platform
import re
import shlex
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from emobench.upstream import Featurizer, build_upstream, make_tiny
from emobench.upstream.cache import PRECISIONS, load_batch, pool

SAMPLE_RATE = 16_000
DEFAULT_UPSTREAMS = ["wavlm_large", "xls_r_1b"]
DEFAULT_PRECISIONS = ["float32", "bfloat16"]
DEFAULT_BATCH_SIZES = [1, 4, 16, 64]
PEAK_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}
FLOPS_NOTE = ("FlopCounterMode: matmuls, convolutions and attention kernels (2 FLOPs per "
              "multiply-add); elementwise ops, normalisations and reductions not counted")
TIMING_NOTE = ("median of the timed repeats after the warm-ups; wall clock between "
               "torch.cuda.synchronize() calls on CUDA, time.perf_counter on the CPU")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu, cuda or cuda:<index> (default: cuda if available)")
    parser.add_argument("--upstreams", nargs="+", default=DEFAULT_UPSTREAMS)
    parser.add_argument("--precisions", nargs="+", default=DEFAULT_PRECISIONS,
                        choices=sorted(PRECISIONS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=DEFAULT_BATCH_SIZES)
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="length of every utterance (default 8 s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs before them")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny random upstreams instead of the full-size architectures")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic audio")
    parser.add_argument("--time-budget-s", type=float,
                        help="skip the configurations left once this many seconds have passed")
    parser.add_argument("--matmul-size", type=int,
                        help="n of the n x n x n peak matmuls (default 8192 on CUDA, 1024 on "
                             "the CPU; 0: no measured peak)")
    parser.add_argument("--matmul-repeats", type=int,
                        help="timed peak matmuls (default 20 on CUDA, 3 on the CPU)")
    parser.add_argument("--peak-tflops-bf16", type=float,
                        help="datasheet dense bfloat16 peak, TFLOP/s (for the fraction of peak)")
    parser.add_argument("--peak-tflops-fp32", type=float,
                        help="datasheet float32 peak, TFLOP/s (for the fraction of peak)")
    parser.add_argument("--out", help="also write the JSON object to this file")
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1 or args.repeats < 1 or args.warmup < 0 or args.seconds <= 0:
        parser.error("batch sizes and --repeats must be >= 1, --warmup >= 0, --seconds > 0")
    return args


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, warmup: int,
                repeats: int, warmup_s: float = 0.0) -> dict[str, Any]:
    """Achieved FLOP/s of an ``n x n @ n x n`` matmul: the mean over ``repeats`` timed ones,
    after at least ``warmup`` untimed ones lasting at least ``warmup_s`` seconds together (the
    GPU's clocks ramp up)."""
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
    out = torch.empty(n, n, device=device, dtype=dtype)
    start, done = time.perf_counter(), 0
    while done < warmup or time.perf_counter() - start < warmup_s:
        torch.mm(a, b, out=out)
        synchronize(device)
        done += 1
    times = []
    if device.type == "cuda":
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(repeats)]
        for start, end in events:
            start.record()
            torch.mm(a, b, out=out)
            end.record()
        torch.cuda.synchronize(device)
        times = [start.elapsed_time(end) / 1e3 for start, end in events]
    else:
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b, out=out)
            times.append(time.perf_counter() - start)
    mean = statistics.fmean(times)
    del a, b, out
    return {"n": n, "dtype": str(dtype).removeprefix("torch."), "mean_s": mean,
            "tflops": 2 * n ** 3 / mean / 1e12, "best_tflops": 2 * n ** 3 / min(times) / 1e12,
            "repeats": repeats, "warmup_runs": done}


def synthetic_batch(batch: int, seconds: float, seed: int, pin: bool) -> list[torch.Tensor]:
    """``batch`` seeded noise utterances of exactly ``seconds`` s (one length bucket)."""
    samples = int(round(seconds * SAMPLE_RATE))
    generator = torch.Generator().manual_seed(seed)
    wavs = list(0.1 * torch.randn(batch, samples, generator=generator))
    return load_batch(range(batch), lambda i: wavs[i].clone(), pin)


def extraction_step(upstream, wavs: list[torch.Tensor], prepare: Callable, device: torch.device,
                    precision: str) -> dict[str, torch.Tensor]:
    """One batch through the toolkit's extraction (``upstream.cache.pool``), stats to host."""
    stats, _ = pool(upstream, wavs, prepare, device, precision)
    return {name: value.cpu() for name, value in stats.items()}


def _cpu_flash_attention_flops(query_shape, key_shape, value_shape, *args: Any,
                               out_shape: Any = None, **kwargs: Any) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# FlopCounterMode has formulas for the CUDA attention kernels (flash, efficient, cuDNN) but not
# for the CPU's, which the s3prl models' attention runs on the CPU: the same formula for it.
EXTRA_FLOP_FORMULAS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops}
# ops that do multiply-adds in bulk: one that ran without a FLOP formula is reported per row
BULK_OP = re.compile(r"mm|convolution|conv\d|attention|matmul|linear|einsum")


class _OpRecorder(TorchDispatchMode):
    """The ATen ops that reach the dispatcher while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func._overloadpacket)
        return func(*args, **(kwargs or {}))


def count_flops(step: Callable[[], Any]) -> dict[str, Any]:
    """FLOPs of one ``step()``: total, per op, and bulk ops that ran uncounted (none expected)."""
    counter = FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS)
    recorder = _OpRecorder()
    with counter, recorder:
        step()
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    uncounted = sorted(str(op) for op in recorder.ops
                       if op not in counter.flop_registry and BULK_OP.search(str(op)))
    return {"total": int(counter.get_total_flops()), "by_op": by_op, "uncounted": uncounted}


def time_step(step: Callable[[], Any], device: torch.device, warmup: int,
              repeats: int) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def fraction(achieved_tflops: float | None, peak_tflops: float | None) -> float | None:
    if achieved_tflops is None or not peak_tflops:
        return None
    return achieved_tflops / peak_tflops


def measure_row(upstream, name: str, precision: str, batch: int, args: argparse.Namespace,
                device: torch.device, peaks: dict[str, dict | None]) -> dict[str, Any]:
    prepare = Featurizer(upstream.num_layers).prepare
    wavs = synthetic_batch(batch, args.seconds, args.seed, pin=device.type == "cuda")
    audio_s = batch * len(wavs[0]) / SAMPLE_RATE

    def step():
        return extraction_step(upstream, wavs, prepare, device, precision)

    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    counted = count_flops(step)
    flops = counted["total"]
    times = time_step(step, device, args.warmup, args.repeats)
    median = statistics.median(times)
    achieved = flops / median / 1e12
    measured_peak = peaks.get(precision)
    datasheet = {"bfloat16": args.peak_tflops_bf16,
                 "float32": args.peak_tflops_fp32}.get(precision)
    row = {"upstream": name, "precision": precision, "batch_size": batch, "status": "ok",
           "audio_s": audio_s, "median_s": median, "min_s": min(times), "max_s": max(times),
           "times_s": times, "utterances_per_s": batch / median, "rtf": median / audio_s,
           "flops": flops, "flops_per_audio_s": flops / audio_s,
           "flops_by_op": counted["by_op"], "uncounted_bulk_ops": counted["uncounted"],
           "achieved_tflops": achieved,
           "measured_peak_tflops": measured_peak["tflops"] if measured_peak else None,
           "fraction_of_measured_peak": fraction(
               achieved, measured_peak["tflops"] if measured_peak else None),
           "datasheet_peak_tflops": datasheet,
           "fraction_of_datasheet_peak": fraction(achieved, datasheet),
           "peak_gpu_mb": (torch.cuda.max_memory_allocated(device) / 2**20
                           if device.type == "cuda" else None)}
    return row


def blank_row(name: str, precision: str, batch: int, status: str,
              args: argparse.Namespace) -> dict[str, Any]:
    return {"upstream": name, "precision": precision, "batch_size": batch, "status": status,
            "audio_s": batch * args.seconds}


def _num(value: float | None, fmt: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else format(value, fmt)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


COLUMNS = ["upstream", "precision", "batch", "audio s", "median s", "utt/s", "RTF",
           "GFLOP / audio s", "TFLOP/s", "of measured peak", "of datasheet peak",
           "peak GPU MiB", "status"]


def cells(row: dict[str, Any]) -> list[str]:
    if row["status"] != "ok":
        return [row["upstream"], row["precision"], str(row["batch_size"]),
                _num(row["audio_s"], "g")] + ["-"] * 8 + [row["status"]]
    return [row["upstream"], row["precision"], str(row["batch_size"]), _num(row["audio_s"], "g"),
            _num(row["median_s"], ".4f"), _num(row["utterances_per_s"], ".2f"),
            _num(row["rtf"], ".5f"), _num(row["flops_per_audio_s"] / 1e9, ".4g"),
            _num(row["achieved_tflops"], ".4g"), _pct(row["fraction_of_measured_peak"]),
            _pct(row["fraction_of_datasheet_peak"]),
            _num(row["peak_gpu_mb"], ".0f"), "ok"]


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def print_row(row: dict[str, Any]) -> None:
    values = dict(zip(COLUMNS, cells(row)))
    print("  ".join(f"{key}={value}" for key, value in values.items()), flush=True)


def environment(args: argparse.Namespace, device: torch.device,
                argv: Sequence[str]) -> dict[str, Any]:
    env = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "command": " ".join(shlex.quote(a) for a in ["python", sys.argv[0], *argv]),
           "torch": torch.__version__, "cuda": torch.version.cuda,
           "python": platform.python_version(), "machine": platform.machine(),
           "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
           "device": str(device),
           "float32_matmul_precision": torch.get_float32_matmul_precision(),
           "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
           "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
           "cudnn_benchmark": torch.backends.cudnn.benchmark}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env |= {"device_name": torch.cuda.get_device_name(device),
                "device_memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}",
                "multiprocessors": props.multi_processor_count,
                "cudnn": torch.backends.cudnn.version()}
    else:
        env["device_name"] = platform.processor() or platform.machine()
    return env


# torch.nn.init's random initialisers, as the s3prl models and torch's layers call them
RANDOM_INITS = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                "xavier_uniform_", "xavier_normal_", "orthogonal_")


@contextlib.contextmanager
def no_random_init() -> Iterator[None]:
    """Skip ``torch.nn.init``'s random initialisers while a loader builds a model whose every
    parameter it then overwrites from the checkpoint (strict ``load_state_dict``).

    The loaded model is the same (tested); only the wasted initialisation goes: CPU ``uniform_``
    runs in one thread, about 10 s for xls_r_1b's 963 M parameters on the development machine.
    """
    saved = {name: getattr(torch.nn.init, name) for name in RANDOM_INITS}

    def keep(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return tensor

    try:
        for name in saved:
            setattr(torch.nn.init, name, keep)
        yield
    finally:
        for name, function in saved.items():
            setattr(torch.nn.init, name, function)


def build(name: str, folder: Path, tiny: bool, device: torch.device) -> tuple[Any, dict]:
    """The upstream through the toolkit's loader, on ``device``, and how long each step took.

    ``make_tiny`` draws the random weights (on the CPU, seed 0) and writes the checkpoint;
    ``build_upstream`` loads it with s3prl's loader, without the loader's redundant random
    initialisation (:func:`no_random_init`).
    """
    start = time.perf_counter()
    spec = make_tiny(name, folder / f"{name}.ckpt", seed=0, full_size=not tiny)
    written = time.perf_counter()
    with no_random_init():
        upstream = build_upstream(name, spec.path, padded_batch=True)
    loaded = time.perf_counter()
    upstream = upstream.to(device)
    synchronize(device)
    moved = time.perf_counter()
    if spec.path is not None:
        Path(spec.path).unlink()
    params = sum(p.numel() for p in upstream.parameters())
    return upstream, {"upstream": name, "size": "tiny" if tiny else "full",
                      "params_m": params / 1e6, "hidden_states": upstream.num_layers,
                      "dim": upstream.dim, "make_tiny_s": written - start,
                      "build_upstream_s": loaded - written, "to_device_s": moved - loaded,
                      "padded_batch": upstream.padded_batch}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    # s3prl 0.4.18's known deprecation warnings, repeated on every forward: not news here
    warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask")
    warnings.filterwarnings("ignore", message=r"`torch.nn.utils.weight_norm` is deprecated")
    began = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    env = environment(args, device, argv)
    print(f"device {device} ({env['device_name']}), torch {env['torch']}, "
          f"float32 matmul precision {env['float32_matmul_precision']!r} (cuBLAS TF32 "
          f"{env['cuda_matmul_allow_tf32']}, cuDNN TF32 {env['cudnn_allow_tf32']}), "
          f"{env['threads']} CPU threads", flush=True)
    print(f"FLOPs: {FLOPS_NOTE}. Timing: {TIMING_NOTE}.", flush=True)

    cuda = device.type == "cuda"
    n = args.matmul_size if args.matmul_size is not None else (8192 if cuda else 1024)
    reps = args.matmul_repeats or (20 if cuda else 3)
    peaks: dict[str, dict | None] = {}
    for precision, dtype in PEAK_DTYPES.items():
        peaks[precision] = (matmul_peak(device, dtype, n, 3, reps, 1.0 if cuda else 0.0)
                            if n > 0 else None)
        if peaks[precision]:
            print(f"measured peak {precision}: {n}^3 matmul, mean of {reps}: "
                  f"{peaks[precision]['tflops']:.2f} TFLOP/s (best "
                  f"{peaks[precision]['best_tflops']:.2f})", flush=True)
    free_memory(device)

    rows: list[dict[str, Any]] = []
    builds: list[dict[str, Any]] = []

    def over_budget() -> bool:
        return (args.time_budget_s is not None
                and time.perf_counter() - began > args.time_budget_s)

    def add(row: dict[str, Any]) -> None:
        rows.append(row)
        print_row(row)

    with tempfile.TemporaryDirectory() as tmp:
        for name in args.upstreams:
            configs = [(p, b) for p in args.precisions for b in args.batch_sizes]
            if over_budget():
                for precision, batch in configs:
                    add(blank_row(name, precision, batch, "skipped (time budget)", args))
                continue
            upstream, info = build(name, Path(tmp), args.tiny, device)
            builds.append(info)
            print(f"{name}: {info['params_m']:.1f} M parameters ({info['size']}, random), "
                  f"{info['hidden_states']} x {info['dim']}; make_tiny {info['make_tiny_s']:.1f} s,"
                  f" build_upstream {info['build_upstream_s']:.1f} s, to {device} "
                  f"{info['to_device_s']:.1f} s", flush=True)
            for precision in args.precisions:
                oom_at = None
                for batch in args.batch_sizes:
                    if over_budget():
                        add(blank_row(name, precision, batch, "skipped (time budget)", args))
                        continue
                    if oom_at is not None and batch > oom_at:
                        add(blank_row(name, precision, batch,
                                      f"skipped (OOM at batch {oom_at})", args))
                        continue
                    try:
                        row = measure_row(upstream, name, precision, batch, args, device, peaks)
                    except Exception as exc:  # noqa: BLE001 - every failure becomes a row
                        if is_oom(exc):
                            oom_at = batch if oom_at is None else min(oom_at, batch)
                            row = blank_row(name, precision, batch, "OOM", args)
                        else:  # reported in its row (and the traceback on stderr), not fatal
                            traceback.print_exc()
                            row = blank_row(name, precision, batch,
                                            f"error: {type(exc).__name__}: {exc}"[:300], args)
                    free_memory(device)
                    add(row)
            del upstream
            free_memory(device)

    total = time.perf_counter() - began
    print(f"\ntotal {total:.1f} s\n", flush=True)
    print(markdown(rows), flush=True)
    result = {"benchmark": "gpu_extract", "environment": env,
              "settings": {"upstreams": args.upstreams, "precisions": args.precisions,
                           "batch_sizes": args.batch_sizes, "seconds": args.seconds,
                           "sample_rate": SAMPLE_RATE, "repeats": args.repeats,
                           "warmup": args.warmup, "tiny": args.tiny, "seed": args.seed,
                           "time_budget_s": args.time_budget_s,
                           "extraction": "upstream.cache.pool, padded_batch=True, equal lengths",
                           "flops_counted": FLOPS_NOTE, "timing": TIMING_NOTE},
              "measured_peaks": peaks,
              "datasheet_peaks_tflops": {"bfloat16": args.peak_tflops_bf16,
                                         "float32": args.peak_tflops_fp32},
              "builds": builds, "rows": rows, "total_s": total}
    text = json.dumps(result)
    print(text, flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
