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
    upstream: UpstreamSpec
    seed: int
    device: torch.device
    config: Any  # the task's typed config dataclass, resolved
    resume: Path | None = None  # last.ckpt to resume training from
    checkpoint: Path | None = None  # model checkpoint to evaluate
    warnings: list[str] = field(default_factory=list)

    def run_record(self) -> dict[str, Any]:
        """Plain-data identity of the run, stored in checkpoints and config.yaml."""
        return {"task": self.task, "upstream": asdict(self.upstream), "seed": self.seed}
