"""What a task receives from the command line: the run's identity and its resolved config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch


@dataclass
class UpstreamSpec:
    name: str
    checkpoint: str | None = None  # -k
    layer: int | None = None  # -l: one hidden state instead of the weighted sum
    normalize: bool = False  # --upstream_feature_normalize
    padded_batch: bool | None = None  # --upstream_padded_batch (None: the upstream's default)
    trainable: bool = False  # -f/--upstream_trainable: fine-tune it (docs/finetuning.md)
    trainable_layers: int | None = None  # --upstream_trainable_layers: only the top N (None: all)


@dataclass
class RunContext:
    mode: Literal["train", "evaluate", "extract"]
    task: str
    expdir: Path
    upstream: UpstreamSpec  # the only upstream, or the first of several (early fusion)
    seed: int
    device: torch.device
    config: Any  # the task's typed config dataclass, resolved
    resume: Path | None = None  # last.ckpt to resume training from
    checkpoint: Path | None = None  # model checkpoint to evaluate
    warnings: list[str] = field(default_factory=list)
    more_upstreams: tuple[UpstreamSpec, ...] = ()  # -u a,b: the upstreams after the first

    @property
    def upstreams(self) -> tuple[UpstreamSpec, ...]:
        """Every upstream of the run, in the order of ``-u``."""
        return (self.upstream, *self.more_upstreams)

    def run_record(self) -> dict[str, Any]:
        """Plain-data identity of the run, stored in checkpoints and config.yaml (with several
        upstreams, ``upstream`` is the first and ``upstreams`` lists them all)."""
        record = {"task": self.task, "upstream": asdict(self.upstream), "seed": self.seed}
        if self.more_upstreams:
            record["upstreams"] = [asdict(spec) for spec in self.upstreams]
        return record


def upstreams_of(record: dict[str, Any]) -> tuple[UpstreamSpec, ...]:
    """The upstreams of a stored run record (:meth:`RunContext.run_record`).

    >>> [(s.name, s.checkpoint, s.trainable) for s in upstreams_of({"upstream": {"name": "a"}})]
    [('a', None, False)]
    >>> [s.name for s in upstreams_of({"upstream": {"name": "a"},
    ...                                "upstreams": [{"name": "a"}, {"name": "b"}]})]
    ['a', 'b']
    """
    return tuple(UpstreamSpec(**spec) for spec in record.get("upstreams") or [record["upstream"]])
