#!/usr/bin/env python3
"""Cost of training the emotion head on cached pooled features, per utterance and epoch.

With the pooled feature cache (upstream/cache.py) a training run never runs the upstream: every
step is the head on ``(batch, L, D)`` per-layer time-means. This benchmark times the toolkit's own
training loop pieces on random pooled features held in memory, for the hidden-state shape
``L x D`` of each upstream:

- ``train_per_utt_epoch``: one training epoch (the task's seeded DataLoader over a
  ``PooledDataset``, ``EmotionModel.forward_pooled``, class-balanced soft-label loss, backward,
  gradient clipping, AdamW, the scheduler step and the per-step tensorboard scalar) divided by
  the training utterances;
- ``eval_per_utt``: one evaluation (``task.predict`` and every metric) divided by the evaluated
  utterances (dev at every epoch, test once);
- ``per_epoch``: saving ``last.ckpt`` and ``dev-best.ckpt`` once (the most an epoch writes).

After one warm-up epoch, every full training step is timed alone (loading its batch included)
over ``--repeats`` epochs; the training figure is the fastest step over the batch size, the
evaluation and checkpoint figures the fastest of ``--repeats`` runs: best-of timings, like
``benchmarks/upstream_rtf.py``'s, which a machine shared with other jobs slows down least. The
medians are printed too, to show how much other load slowed the typical step. Not included: the
process start, loading the upstream (needed once per run for its shape and the variance check),
reading the label files, the leakage audit and reading the cached features from disk.

The default is one torch thread: on a machine shared with other jobs, two-thread timings of
these small operations were dominated by waiting for the second core.

    python benchmarks/train_cost.py                      # prints rows, then one JSON line
    python benchmarks/train_cost.py --out my_machine.yaml  # also store them
    python benchmarks/train_cost.py --device cuda --out gpu.yaml

``--out`` merges the figures into a throughput file (configs/sweeps/throughput.yaml's format,
read by emobench/orchestration/sweep/cost.py) under ``devices.<device kind>.training`` (the section is
replaced whole; YAML comments of an existing file are not kept).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter

from emobench.downstream.emotion.features import FeaturePath, PooledDataset
from emobench.downstream.emotion.loss import class_balanced_weights, soft_label_loss
from emobench.downstream.emotion.metrics import all_metrics
from emobench.downstream.emotion.model import EmotionHead, EmotionModel
from emobench.downstream.emotion.evaluation import predict
from emobench.downstream.trainer import Schedule, scheduler as lr_scheduler
from emobench.core import io
from emobench.orchestration.sweep import cost, throughput, work
from emobench.upstream import Featurizer, upstream_info

# EMO-SUPERB's 16 rows (the paper's Table 2): nine distinct L x D shapes
DEFAULT = list(work.EMO_SUPERB_UPSTREAMS)


def pooled_dataset(n: int, layers: int, dim: int, classes: int, seed: int) -> PooledDataset:
    """A ``PooledDataset`` of random per-layer means and soft labels (no upstream, no audio)."""
    generator = torch.Generator().manual_seed(seed)
    dataset = PooledDataset.__new__(PooledDataset)
    dataset.features = torch.randn(n, layers, dim, generator=generator)
    dataset.labels = torch.softmax(3 * torch.randn(n, classes, generator=generator), dim=-1)
    dataset.names = [f"utt{i:06d}.wav" for i in range(n)]
    return dataset


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(layers: int, dim: int, batch_size: int, train_n: int, eval_n: int, classes: int,
            repeats: int, folder: Path,
            device: torch.device = torch.device("cpu")) -> dict[str, float]:
    """Seconds per training utterance and epoch, per evaluated utterance, and per epoch."""
    torch.manual_seed(0)
    train_set = pooled_dataset(train_n, layers, dim, classes, seed=1)
    eval_set = pooled_dataset(eval_n, layers, dim, classes, seed=2)
    path = FeaturePath(True, None, False, batch_size, device)
    model = EmotionModel(Featurizer(layers), EmotionHead(dim, 256, classes), dim).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    steps = -(-train_n // batch_size)
    # a per-step schedule costs the same whatever its factors: the cosine one stands for all
    scheduler = lr_scheduler(optimizer, Schedule(epochs=1, lr=1e-4, scheduler="cosine_warmup"),
                             steps * (repeats + 1))
    weights = torch.tensor(class_balanced_weights(train_set.labels.numpy()), dtype=torch.float32,
                           device=device)
    writer = SummaryWriter(str(folder / f"tb_{layers}x{dim}_b{batch_size}"))
    step_times: list[float] = []

    def epoch(seed: int) -> None:
        """One epoch; the time of every full batch (loading it included) into step_times."""
        model.train()
        batches = iter(path.loader(train_set, seed=seed))
        for step in range(train_n // batch_size):
            _sync(device)
            start = time.perf_counter()
            inputs, labels, _ = next(batches)
            logits = path.logits(model, inputs)
            loss = soft_label_loss(logits, labels.to(device), weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            writer.add_scalar("train-loss", float(loss.detach()), step)  # synchronises
            step_times.append(time.perf_counter() - start)

    def evaluate() -> float:
        _sync(device)
        start = time.perf_counter()
        probs, _ = predict(model, path, eval_set, weights)
        all_metrics(eval_set.labels.numpy().astype(np.float64), probs)
        return time.perf_counter() - start

    def save() -> float:
        start = time.perf_counter()
        io.torch_save({"model": model.state_dict()}, folder / "dev-best.ckpt")
        io.torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict()}, folder / "last.ckpt")
        return time.perf_counter() - start

    epoch(0), evaluate(), save()  # warm-up
    step_times.clear()
    for r in range(repeats):
        epoch(r + 1)
    evals = [evaluate() for _ in range(repeats)]
    saves = [save() for _ in range(repeats)]
    writer.close()

    def sig(x: float) -> float:
        return float(f"{x:.4g}")

    return {"train_per_utt_epoch": sig(min(step_times) / batch_size),
            "eval_per_utt": sig(min(evals) / eval_n), "per_epoch": sig(min(saves)),
            # medians: how much the machine's other load slowed the typical step down
            "median_train_per_utt_epoch": sig(statistics.median(step_times) / batch_size),
            "median_eval_per_utt": sig(statistics.median(evals) / eval_n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstreams", nargs="+", default=DEFAULT)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 16],
                        help="EMO-SUPERB: 32, POD (S) 16")
    parser.add_argument("--train-utterances", type=int, default=3200)
    parser.add_argument("--eval-utterances", type=int, default=1600)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:<index>")
    parser.add_argument("--out", help="merge the figures into this throughput YAML file")
    parser.add_argument("--machine", default=None,
                        help="words for the machine in the provenance (default: platform)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = throughput.device_kind(args.device)
    load_before = os.getloadavg()[0]
    by_shape: dict[tuple[int, int], dict] = {}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.upstreams:
            info = upstream_info(name)
            shape = (info.hidden_states, info.dim)
            if shape not in by_shape:
                by_shape[shape] = {
                    b: measure(*shape, b, args.train_utterances, args.eval_utterances,
                               args.classes, args.repeats, Path(tmp), torch.device(args.device))
                    for b in args.batch_sizes}
            rows[info.name] = by_shape[shape]
            for b, row in by_shape[shape].items():
                print(f"{info.name:<34} {shape[0]:>3} x {shape[1]:<5} batch {b:>3}: "
                      f"train {row['train_per_utt_epoch'] * 1e6:7.1f} us/utt/epoch "
                      f"(median {row['median_train_per_utt_epoch'] * 1e6:7.1f})  "
                      f"eval {row['eval_per_utt'] * 1e6:7.1f} us/utt "
                      f"(median {row['median_eval_per_utt'] * 1e6:7.1f})  "
                      f"checkpoints {row['per_epoch'] * 1e3:6.1f} ms/epoch", flush=True)
    load_after = os.getloadavg()[0]
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    machine = args.machine or f"{platform.machine()}, {os.cpu_count()} cores" + (
        f", {torch.cuda.get_device_name(torch.device(args.device))}"
        if args.device.startswith("cuda") else "")
    result = {"benchmark": "train_cost", "device": device, "threads": args.threads,
              "train_utterances": args.train_utterances,
              "eval_utterances": args.eval_utterances, "classes": args.classes,
              "repeats": args.repeats, "load_average_1min": [load_before, load_after],
              "results": rows}
    print(json.dumps(result))
    if args.out:
        provenance = {
            "date": datetime.date.today().isoformat(), "command": command, "machine": machine,
            "method": (f"fastest training step / batch size over {args.repeats} epochs of "
                       f"{args.train_utterances} utterances, fastest of {args.repeats} "
                       f"evaluations of {args.eval_utterances} utterances and of "
                       f"{args.repeats} checkpoint writes, after a warm-up; random pooled "
                       f"features, {args.classes} classes, {args.threads} torch thread(s), "
                       f"device {args.device}; "
                       f"1-min load average {load_before:.1f} before, {load_after:.1f} after")}
        keep = ("train_per_utt_epoch", "eval_per_utt", "per_epoch")
        seconds = {name: {int(b): {k: row[k] for k in keep} for b, row in per_batch.items()}
                   for name, per_batch in rows.items()}
        throughput.merge_measurements(args.out, device, "training", provenance, seconds)
        print(f"wrote devices.{device}.training of {args.out}")


if __name__ == "__main__":
    main()
