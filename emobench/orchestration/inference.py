"""Run a trained model on new recordings: :func:`load_predictor` (the Python API, also
``emobench.load_predictor``) and what ``-m inference`` writes.

    predictor = emobench.load_predictor("results/downstream/demo")
    predictor.predict(["a.wav", "b.wav"]).to_csv("predictions.csv")

Only the experiment folder (or its checkpoint) and the upstream's weights are needed: the
checkpoint carries the model, the config, the classes and the waveform standardisation, so it
works from any working directory and reads no label file or feature cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from emobench.core.context import RunContext
from emobench.core.errors import UserError
from emobench.downstream.inference import Predictions, Sources
from emobench.orchestration import runs
from emobench.orchestration.restore import Restored, restore


class Predictor:
    """A restored run that predicts new audio (:meth:`predict`)."""

    def __init__(self, restored: Restored, device: str | None = None):
        self.restored = restored
        self.device = runs.device(device)
        if not callable(getattr(restored.module, "infer", None)):
            raise UserError(f"{restored.checkpoint}: the {restored.task} task has no inference "
                            f"on new audio ({_why_not(restored.module)})")

    @property
    def task(self) -> str:
        return self.restored.task

    def predict(self, items: Sequence[Any], sample_rate: int | None = None) -> Predictions:
        """Predictions for audio file paths, or for waveform arrays (1-D, or samples x
        channels) at ``sample_rate``; each goes through the run's own preprocessing."""
        r = self.restored
        first, *more = r.upstreams
        ctx = RunContext("evaluate", r.task, r.checkpoint.parent, first, r.seed, self.device,
                         r.config, checkpoint=r.checkpoint, more_upstreams=tuple(more))
        predictions = r.module.infer(ctx, Sources.of(items, sample_rate))
        predictions.info.setdefault("checkpoint", str(r.checkpoint))
        predictions.info["warnings"] = list(ctx.warnings)
        return predictions


def _why_not(module: Any) -> str:
    return getattr(module, "NO_INFERENCE", "not implemented for it")


def load_predictor(path: str | Path, device: str | None = None,
                   upstream_ckpt: str | None = None, override: str | None = None) -> Predictor:
    """The predictor of a trained run: ``path`` is an experiment folder (its
    ``dev-best.ckpt``) or a checkpoint; ``upstream_ckpt`` the upstream's weights where they
    moved (as ``-k``), ``override`` config changes (as ``-o``)."""
    return Predictor(restore(path, upstream_ckpt, override), device)
