"""A trained run restored from its checkpoint (``-e``): the task, its upstreams and its config,
as ``-m evaluate`` and ``-m inference`` / :func:`emobench.load_predictor` both need them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from emobench.core.config import resolve
from emobench.core.context import UpstreamSpec, upstreams_of
from emobench.core.errors import UserError
from emobench.orchestration import runs


@dataclass
class Restored:
    checkpoint: Path
    saved: dict[str, Any]
    task: str
    module: ModuleType
    upstreams: tuple[UpstreamSpec, ...]
    config: Any

    @property
    def seed(self) -> int:
        return int(self.saved["run"]["seed"])


def restore(past_exp: str | Path, upstream_ckpt: str | None = None,
            override: str | None = None) -> Restored:
    """The checkpoint (or experiment folder's ``dev-best.ckpt``) ``past_exp``.

    ``upstream_ckpt`` (``-k``) gives the same upstream weights at another path (a comma list:
    one per upstream, empty: unchanged); ``override`` (``-o``) changes the stored config."""
    checkpoint, saved = runs.run_checkpoint(str(past_exp))
    record = saved["run"]
    name, module = runs.task(record["task"])
    specs = upstreams_of(record)
    if upstream_ckpt:
        given = upstream_ckpt.split(",") if len(specs) > 1 else [upstream_ckpt]
        if len(given) != len(specs):
            raise UserError(f"-k {upstream_ckpt}: {checkpoint} has {len(specs)} upstreams; "
                            "give one checkpoint per upstream (empty: unchanged)")
        for one, path in zip(specs, given):
            one.checkpoint = str(Path(path).expanduser().absolute()) if path else one.checkpoint
    config = resolve(module.CONFIG, saved["config"], override)
    return Restored(checkpoint, saved, name, module, specs, config)
