"""The frozen upstream(s) of a multitask run: one, or several for early fusion (``-u a,b``).

Every upstream is handled exactly as a single-upstream run handles its one: its own
single-upstream view of the run context (:func:`contexts`), its own feature cache entry, its own
featurizer (learnable layer weights), its own checks against the checkpoint, its own record in
scores.json and its own layer-weights figure. With one upstream everything written is what a
single-upstream run always wrote.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from emobench.core import io, svg
from emobench.core.config import ConfigError
from emobench.core.context import RunContext
from emobench.downstream import common
from emobench.downstream.multitask.inputs import Parts, input_branches, join
from emobench.upstream import FrozenUpstream
from emobench.upstream.hf_models import folder_name


def contexts(ctx: RunContext) -> list[RunContext]:
    """One single-upstream context per upstream of ``ctx`` (``ctx`` itself when it has one)."""
    if not ctx.more_upstreams:
        return [ctx]
    return [dataclasses.replace(ctx, upstream=spec, more_upstreams=()) for spec in ctx.upstreams]


@dataclass
class Upstreams:
    contexts: list[RunContext]
    models: list[FrozenUpstream]

    @classmethod
    def of(cls, ctx: RunContext, functionals: str = "mean") -> "Upstreams":
        """The run's upstreams; one may be fine-tuned (``-f``: the frames path; the command line
        refuses -f with several, runs.upstream_specs)."""
        views = contexts(ctx)
        return cls(views, [common.upstream_of(view, functionals, fine_tune=None)
                           for view in views])

    @property
    def fused(self) -> bool:
        return len(self.models) > 1

    @property
    def name(self) -> str:
        """``wavlm``, or ``wavlm+hubert`` for several."""
        return "+".join(u.info.name for u in self.models)

    def features(self, one: Callable[[RunContext, FrozenUpstream], torch.Tensor]
                 ) -> torch.Tensor | Parts:
        """``one(view, upstream)`` of every upstream: a tensor, or :class:`Parts` of several."""
        return join([one(view, u) for view, u in zip(self.contexts, self.models)])

    def inputs(self, feature_dims: int | list[int]):
        """The network's input branches (downstream/multitask/inputs.py), one per upstream."""
        return input_branches([common.featurizer_of(view, u)
                               for view, u in zip(self.contexts, self.models)], feature_dims)

    def sha256(self) -> str | list[str] | None:
        """What checkpoints record: the one upstream's weights hash, or one per upstream."""
        hashes = [u.checkpoint_sha256 for u in self.models]
        return hashes if self.fused else hashes[0]

    def check(self, saved: dict[str, Any], checkpoint: Path) -> None:
        """The checkpoint was trained on these upstreams' weights."""
        if not self.fused:
            common.check_upstream(saved, self.models[0], checkpoint)
        elif saved["upstream_sha256"] != self.sha256():
            raise ConfigError(f"{checkpoint} was trained on upstream weights with sha256 "
                              f"{saved['upstream_sha256']}, not {self.sha256()}")

    def records(self) -> list[dict[str, Any]]:
        """Every upstream's scores.json record."""
        return [common.upstream_record(view, u) for view, u in zip(self.contexts, self.models)]

    def record(self) -> dict[str, Any]:
        """scores.json's ``upstream``: the one upstream's record; for several, their joint name
        (``a+b``) with the shared options (each upstream's own record is in ``upstreams``)."""
        if not self.fused:
            return self.records()[0]
        spec = self.contexts[0].upstream
        return {"name": self.name, "checkpoint": None, "layer": None,
                "normalize": spec.normalize, "padded_batch": spec.padded_batch,
                "checkpoint_sha256": None, "source": f"early fusion of {len(self.models)} "
                                                     "upstreams (see upstreams)"}

    def write_layer_weights(self, outdir: Path, featurizers: list, title: str) -> None:
        """``layer_weights.json`` / ``.svg`` as every task writes them; with several upstreams
        the json lists one entry per upstream and there is one figure per upstream,
        ``layer_weights_<k>_<name>.svg`` (k = 1, 2, ... in the order of ``-u``)."""
        if not self.fused:
            common.write_layer_weights(outdir, featurizers[0], self.models[0],
                                       self.contexts[0], title)
            return
        entries = []
        for k, (view, u, f) in enumerate(zip(self.contexts, self.models, featurizers), 1):
            weights = f.layer_weights()
            entries.append({"upstream": u.info.name, "layer": view.upstream.layer,
                            "normalize": view.upstream.normalize, "weights": weights})
            svg.layer_weights(weights, f"{u.info.name} layer weights ({title}, early fusion "
                                       f"{k}/{len(self.models)})",
                              outdir / f"layer_weights_{k}_{folder_name(u.info.name)}.svg")
        io.write_json(outdir / "layer_weights.json", {"upstream": self.name, "upstreams": entries})
