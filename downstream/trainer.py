"""One training loop for every task: optimizer, learning-rate schedule, gradient clipping,
evaluation every N epochs, selection and early stopping, checkpoints, resuming, tensorboard.

A task supplies what is its own, as a :class:`Loop`:

- ``batches(epoch)``: the training batches of one epoch, in the task's seeded order
  (:func:`index_batches` gives the usual one: a permutation seeded by the run's seed and the
  epoch, so a resumed run sees the same batches as an uninterrupted one);
- ``loss(model, batch)``: a :class:`StepLoss` (the loss to minimise, its parts per target, the
  batch size);
- ``evaluate(model)``: an :class:`Evaluation` of the validation split (its metrics and the
  selection value).

The optimizer gets the model's parameters, and a fine-tuned upstream's in a group of their own
at ``train.upstream_lr`` (downstream/finetuning.py). Every step is ``zero_grad, backward, clip (optional), optimizer step, scheduler step
(optional)``. After every ``eval_every_epochs`` epochs (and after the last) the model is
evaluated; a strictly better selection value is kept in memory and written as ``dev-best.ckpt``
(the model and the selection record) together with ``last.ckpt`` (so the two always agree on
resuming) and at the end: one write per save point, not per improvement; ``patience``
evaluations without one stop training. ``last.ckpt`` holds
everything needed to resume exactly (model, optimizer, scheduler, loop state). At the end the
best weights are loaded back into the model. Checkpoints are plain dicts of tensors and numbers
(``torch.load(..., weights_only=True)``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from emobench.core import io, optim
from emobench.core.config import ConfigError
from emobench.core.experiment import LOG
from emobench.downstream.finetuning import parameter_groups

EPOCH_SEED = 100_003  # the seed of epoch e's order is seed * EPOCH_SEED + e
# torch's Adam and AdamW without the compiler import (emobench/core/optim.py)
OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW}


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's batch order.

    >>> epoch_seed(1337, 0), epoch_seed(1337, 1)
    (133704011, 133704012)
    """
    return seed * EPOCH_SEED + epoch


def index_batches(n: int, batch_size: int, seed: int, epoch: int) -> Iterator[torch.Tensor]:
    """Row indices of ``n`` examples in batches, in an order seeded by ``seed`` and ``epoch``.

    >>> [b.tolist() for b in index_batches(5, 2, 0, 0)] == \\
    ...     [b.tolist() for b in index_batches(5, 2, 0, 0)]
    True
    >>> sorted(sum((b.tolist() for b in index_batches(5, 2, 0, 3)), []))
    [0, 1, 2, 3, 4]
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed(seed, epoch)))
    for first in range(0, n, batch_size):
        yield order[first:first + batch_size]


@dataclass
class LoopConfig:
    """The ``train`` keys the trainer reads, with the ExVo baseline's defaults; a task's typed
    train config extends it (adding its own keys) or declares the same names."""

    epochs: int = 20
    batch_size: int = 8
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = None  # max gradient norm; null: no clipping
    scheduler: Literal["none", "cosine_warmup"] = "none"  # per step
    warmup_steps: int = 0
    patience: int | None = 5  # evaluations without a better selection value; null: no stop
    eval_every_epochs: int = 1
    save_every_epochs: int = 1  # resumable state (last.ckpt)
    upstream_lr: float | None = None  # with -f: the upstream's learning rate (null: lr)


@dataclass(frozen=True)
class Schedule:
    """How to train: the fields of a task's ``train`` config of the same names."""

    epochs: int
    lr: float
    optimizer: str = "adam"  # adam | adamw
    weight_decay: float = 0.0
    grad_clip: float | None = None  # max gradient norm; None: no clipping
    scheduler: str = "none"  # none | cosine_warmup (per step)
    warmup_steps: int = 0
    eval_every_epochs: int = 1
    save_every_epochs: int = 1
    patience: int | None = None  # evaluations without a better selection value; None: no stop
    upstream_lr: float | None = None  # a fine-tuned upstream's learning rate; None: lr

    @classmethod
    def of(cls, train: Any, **fixed: Any) -> "Schedule":
        """The schedule from a task's train config (its fields of these names), then ``fixed``."""
        names = [f.name for f in dataclasses.fields(cls)]
        values = {n: getattr(train, n) for n in names if hasattr(train, n)}
        return cls(**{**values, **fixed})

    def check(self) -> None:
        """Refuse values that cannot run (a ConfigError naming the train.* key)."""
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"train.optimizer={self.optimizer!r}: one of {sorted(OPTIMIZERS)}")
        if self.scheduler not in ("none", "cosine_warmup"):
            raise ConfigError(f"train.scheduler={self.scheduler!r}: none or cosine_warmup")
        for key in ("epochs", "eval_every_epochs", "save_every_epochs"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key}={getattr(self, key)}: must be >= 1")
        if self.patience is not None and self.patience < 1:
            raise ConfigError("train.patience must be >= 1")
        if self.warmup_steps < 0 or self.lr <= 0:
            raise ConfigError("train.warmup_steps must be >= 0 and train.lr > 0")
        if self.upstream_lr is not None and self.upstream_lr <= 0:
            raise ConfigError("train.upstream_lr must be > 0 (or null: train.lr)")


@dataclass(frozen=True)
class Selection:
    """What selects the checkpoint: ``metric`` (its recorded name, e.g. ``val_s_mtl``)."""

    metric: str
    higher_is_better: bool = True
    record_step: bool = False  # the selection record names the step as well as the epoch

    def better(self, value: float, best: float | None) -> bool:
        """Strictly better than the best so far (any value beats none)."""
        if best is None:
            return True
        return value > best if self.higher_is_better else value < best


@dataclass
class StepLoss:
    total: torch.Tensor  # what is minimised
    count: int  # examples in the batch
    parts: dict[str, torch.Tensor] = field(default_factory=dict)  # per target, logged


@dataclass
class Evaluation:
    value: float  # the selection value
    metrics: dict[str, float]  # logged to tensorboard as <tag>/<split>-<name>
    message: str = ""  # appended to the epoch's log line


@dataclass
class Loop:
    """What a task supplies to :func:`fit`."""

    batches: Callable[[int], Iterable[Any]]
    loss: Callable[[torch.nn.Module, Any], StepLoss]
    evaluate: Callable[[torch.nn.Module], Evaluation]
    steps_per_epoch: int  # for the learning-rate schedule


def scheduler(optimizer: torch.optim.Optimizer, schedule: Schedule, total_steps: int
              ) -> torch.optim.lr_scheduler.LambdaLR | None:
    """Per-step learning-rate factors: linear warmup then cosine decay to 0; None for ``none``."""
    if schedule.scheduler == "none":
        return None
    warmup = schedule.warmup_steps

    def cosine(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)


def fresh_state() -> dict[str, Any]:
    return {"epoch": 0, "step": 0, "best": None, "best_epoch": None, "best_step": None,
            "bad_epochs": 0, "stopped": False}


def selection_record(selection: Selection, state: dict[str, Any]) -> dict[str, Any]:
    record = {"metric": selection.metric, "epoch": int(state["best_epoch"])}
    if selection.record_step:
        record["step"] = int(state["best_step"])
    return {**record, "value": float(state["best"]),
            "higher_is_better": selection.higher_is_better}


@dataclass
class Trainer:
    """One run's loop; :meth:`fit` trains ``model`` in place and returns the final loop state."""

    schedule: Schedule
    selection: Selection
    expdir: Path
    device: torch.device
    record: dict[str, Any]  # plain data that makes a checkpoint self-contained
    tag: str  # tensorboard prefix, e.g. "exvo_mtl" or "emotion-fold1"
    split: str = "val"  # the evaluated split's name in tensorboard tags
    resume: Path | None = None  # last.ckpt to continue from
    pending_best: dict[str, Any] | None = None  # dev-best.ckpt's content not yet written

    def fit(self, model: torch.nn.Module, loop: Loop) -> dict[str, Any]:
        schedule = self.schedule
        schedule.check()
        optimizer = OPTIMIZERS[schedule.optimizer](
            parameter_groups(model, schedule.lr, schedule.upstream_lr), lr=schedule.lr,
            weight_decay=schedule.weight_decay)
        lr_schedule = scheduler(optimizer, schedule, loop.steps_per_epoch * schedule.epochs)
        state = fresh_state()
        if self.resume is not None:
            saved = torch.load(self.resume, map_location=self.device, weights_only=True)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            if lr_schedule is not None:
                lr_schedule.load_state_dict(saved["scheduler"])
            state.update(saved["state"])
            LOG.info("resumed from %s at epoch %d, step %d", self.resume, state["epoch"],
                     state["step"])
        with SummaryWriter(str(self.expdir)) as writer:
            for epoch in range(state["epoch"], schedule.epochs):
                if state["stopped"]:
                    break
                self._epoch(model, loop, optimizer, lr_schedule, state, writer, epoch)
                last = epoch + 1 == schedule.epochs
                if (epoch + 1) % schedule.save_every_epochs == 0 or last or state["stopped"]:
                    self._write_best()
                    io.torch_save({**self.record, "model": model.state_dict(), "state": state,
                                   "optimizer": optimizer.state_dict(),
                                   **({} if lr_schedule is None else
                                      {"scheduler": lr_schedule.state_dict()})},
                                  self.expdir / "last.ckpt")
        self._write_best()
        if state["best"] is None:
            raise RuntimeError("training ended without an evaluation: no dev-best.ckpt")
        LOG.info("selected epoch %s by %s = %.4f", state["best_epoch"], self.selection.metric,
                 state["best"])
        best = torch.load(self.expdir / "dev-best.ckpt", map_location=self.device,
                          weights_only=True)
        model.load_state_dict(best["model"])
        return state

    def _write_best(self) -> None:
        if self.pending_best is not None:
            io.torch_save(self.pending_best, self.expdir / "dev-best.ckpt")
            self.pending_best = None

    def _epoch(self, model, loop: Loop, optimizer, lr_schedule, state, writer, epoch) -> None:
        schedule, tag = self.schedule, self.tag
        model.train()
        parameters = list(model.parameters())
        total, seen, parts = 0.0, 0, {}
        for batch in tqdm(loop.batches(epoch), desc=f"epoch {epoch + 1}/{schedule.epochs}",
                          total=loop.steps_per_epoch, delay=3, leave=False, disable=None):
            step = loop.loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            step.total.backward()
            if schedule.grad_clip:  # torch's clip_grad_norm_, bit for bit (core/optim.py)
                optim.clip_grad_norm(parameters, schedule.grad_clip)
            optimizer.step()
            if lr_schedule is not None:
                lr_schedule.step()
            state["step"] += 1
            total += float(step.total.detach()) * step.count
            seen += step.count
            for name, value in step.parts.items():
                parts[name] = parts.get(name, 0.0) + float(value.detach()) * step.count
            writer.add_scalar(f"{tag}/train-loss", float(step.total.detach()), state["step"])
            writer.add_scalar(f"{tag}/lr", optimizer.param_groups[0]["lr"], state["step"])
            if len(optimizer.param_groups) > 1:  # a fine-tuned upstream's (finetuning.py)
                writer.add_scalar(f"{tag}/upstream-lr", optimizer.param_groups[1]["lr"],
                                  state["step"])
        state["epoch"] = epoch + 1
        seen = max(seen, 1)
        message = f"epoch {epoch + 1}/{schedule.epochs} train-loss {total / seen:.4f}"
        if parts:
            message += " (" + " ".join(f"{k} {v / seen:.4f}" for k, v in parts.items()) + ")"
        for name, value in parts.items():
            writer.add_scalar(f"{tag}/train-loss-{name}", value / seen, state["step"])
        last = epoch + 1 == schedule.epochs
        if (epoch + 1) % schedule.eval_every_epochs == 0 or last:
            message += self._evaluate(model, loop, state, writer)
        LOG.info(message)

    def _evaluate(self, model, loop: Loop, state, writer) -> str:
        result = loop.evaluate(model)
        for name, value in result.metrics.items():
            writer.add_scalar(f"{self.tag}/{self.split}-{name}", value, state["step"])
        featurizers = getattr(model, "featurizers", None) or [getattr(model, "featurizer", None)]
        for k, featurizer in enumerate(f for f in featurizers if f is not None):
            branch = f"{k + 1}/" if len(featurizers) > 1 else ""  # several upstreams: per branch
            for layer, weight in enumerate(featurizer.layer_weights()):
                writer.add_scalar(f"{self.tag}/layer-weight/{branch}{layer}", weight,
                                  state["step"])
        message = f" | {result.message}" if result.message else ""
        if self.selection.better(result.value, state["best"]):
            state.update(best=result.value, best_epoch=state["epoch"], best_step=state["step"],
                         bad_epochs=0)
            self.pending_best = {**self.record, "selection": selection_record(self.selection,
                                                                                state),
                                 "model": {k: v.detach().clone()
                                           for k, v in model.state_dict().items()}}
            return message + " (best)"
        state["bad_epochs"] += 1
        patience = self.schedule.patience
        if patience is not None and state["bad_epochs"] >= patience:
            state["stopped"] = True
            return (message + f" (no better {self.selection.metric} for {patience} "
                    "evaluations: stop)")
        return message
