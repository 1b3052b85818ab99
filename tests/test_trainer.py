"""The one training loop (downstream/trainer.py) on a toy regression: selection, early stopping,
exact resuming with a schedule and clipping, checkpoints, tensorboard, bad schedules."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from emobench.core.config import ConfigError
from emobench.downstream.trainer import (Evaluation, Loop, Schedule, Selection, StepLoss, Trainer,
                                         index_batches, scheduler)
from emobench.upstream.featurizer import Featurizer


class Toy(nn.Module):
    """Three 'hidden states' weighted by a featurizer, then a linear layer."""

    def __init__(self):
        super().__init__()
        self.featurizer = Featurizer(3)
        self.linear = nn.Linear(4, 2)

    def forward(self, x):  # x: (batch, 3, 4)
        return self.linear(self.featurizer.combine(x.transpose(0, 1)))


def data(n: int = 40):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 4, generator=g)
    y = torch.stack([x[:, 0, 0] - x[:, 2, 1], x[:, 1, 2]], dim=1)
    return x, y


def loop(x, y, val_scores: list[float] | None = None) -> Loop:
    """Batches of 8 in a seeded order; the validation value is the (negated) val MSE, or the
    next of ``val_scores`` when given."""
    scores = iter(val_scores or [])

    def loss(model, rows):
        out = model(x[rows])
        parts = {"a": ((out[:, 0] - y[rows, 0]) ** 2).mean(),
                 "b": ((out[:, 1] - y[rows, 1]) ** 2).mean()}
        return StepLoss(parts["a"] + parts["b"], len(rows), parts)

    def evaluate(model):
        with torch.no_grad():
            mse = float(((model(x[:10]) - y[:10]) ** 2).mean())
        value = next(scores) if val_scores else -mse
        return Evaluation(value, {"mse": mse}, f"val mse {mse:.4f}")

    return Loop(lambda epoch: index_batches(len(x), 8, 5, epoch), loss, evaluate,
                steps_per_epoch=5)


def train(folder: Path, schedule: Schedule, resume: Path | None = None,
          val_scores: list[float] | None = None, seed: int = 3):
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = Toy()
    trainer = Trainer(schedule, Selection("val_score", record_step=True), folder,
                      torch.device("cpu"), {"format": "toy"}, tag="toy", resume=resume)
    state = trainer.fit(model, loop(*data(), val_scores))
    return model, state


FULL = Schedule(epochs=6, lr=0.05, optimizer="adamw", weight_decay=0.01, grad_clip=0.5,
                scheduler="cosine_warmup", warmup_steps=4, eval_every_epochs=2)


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    full, a = train(tmp_path / "full", FULL)
    # the same run interrupted after 3 of its 6 epochs (its cosine schedule spans all 6)
    part_dir = tmp_path / "part"
    part_dir.mkdir()
    torch.manual_seed(3)
    model = Toy()
    trainer = Trainer(FULL, Selection("val_score", record_step=True), part_dir,
                      torch.device("cpu"), {"format": "toy"}, tag="toy")
    base = loop(*data())

    def interrupted(epoch):
        if epoch == 3:
            raise KeyboardInterrupt
        return base.batches(epoch)

    with pytest.raises(KeyboardInterrupt):
        trainer.fit(model, Loop(interrupted, base.loss, base.evaluate, base.steps_per_epoch))
    saved = torch.load(part_dir / "last.ckpt", weights_only=True)
    assert saved["state"]["epoch"] == 3 and "scheduler" in saved
    resumed, b = train(part_dir, FULL, resume=part_dir / "last.ckpt", seed=99)
    assert a == b
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_patience_stops_and_the_best_weights_are_restored(tmp_path):
    schedule = Schedule(epochs=10, lr=0.01, patience=2)
    model, state = train(tmp_path, schedule, val_scores=[0.1, 0.5, 0.4, 0.45, 0.9, 0.9])
    assert state["stopped"] and state["epoch"] == 4 and state["best_epoch"] == 2
    best = torch.load(tmp_path / "dev-best.ckpt", weights_only=True)
    assert best["selection"] == {"metric": "val_score", "epoch": 2, "step": 10, "value": 0.5,
                                 "higher_is_better": True}
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in best["model"].items())
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["state"]["epoch"] == 4 and "scheduler" not in last


def test_no_patience_trains_every_epoch_and_lower_can_be_better(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(Schedule(epochs=5, lr=0.01, eval_every_epochs=2),
                      Selection("val_loss", higher_is_better=False), tmp_path,
                      torch.device("cpu"), {}, tag="toy")
    state = trainer.fit(Toy(), loop(*data(), [0.3, 0.2, 0.25]))  # evaluated at 2, 4, 5
    assert state["epoch"] == 5 and not state["stopped"] and state["best_epoch"] == 4
    assert torch.load(tmp_path / "dev-best.ckpt", weights_only=True)["selection"] == {
        "metric": "val_loss", "epoch": 4, "value": 0.2, "higher_is_better": False}


def test_tensorboard_has_per_target_losses_learning_rate_and_layer_weights(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tmp_path, Schedule(epochs=2, lr=0.01, scheduler="cosine_warmup", warmup_steps=3))
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"toy/train-loss", "toy/train-loss-a", "toy/train-loss-b", "toy/lr", "toy/val-mse",
            "toy/layer-weight/0", "toy/layer-weight/2"} <= tags
    lr = [e.value for e in events.Scalars("toy/lr")]
    assert lr[0] == pytest.approx(0.01 * 2 / 3) and lr[2] == pytest.approx(0.01)


def test_cosine_warmup_factors():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = scheduler(opt, Schedule(epochs=1, lr=1.0, scheduler="cosine_warmup",
                                    warmup_steps=2), total_steps=6)
    seen = []
    for _ in range(6):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.5, 1.0, 1.0, 0.8535534, 0.5, 0.1464466])
    assert scheduler(opt, Schedule(epochs=1, lr=1.0), 6) is None


@pytest.mark.parametrize("change, key", [
    ({"optimizer": "sgd"}, "train.optimizer"), ({"scheduler": "step"}, "train.scheduler"),
    ({"epochs": 0}, "train.epochs"), ({"patience": 0}, "train.patience"),
    ({"eval_every_epochs": 0}, "train.eval_every_epochs"),
])
def test_a_bad_schedule_is_refused_by_name(change, key):
    with pytest.raises(ConfigError, match=key):
        Schedule(**{"epochs": 2, "lr": 0.1, **change}).check()


def test_schedule_of_reads_a_task_train_config():
    from emobench.downstream.emotion.config import TrainConfig

    schedule = Schedule.of(TrainConfig(epochs=7))
    assert (schedule.epochs, schedule.optimizer, schedule.grad_clip, schedule.patience) == (
        7, "adamw", 1.0, None)
