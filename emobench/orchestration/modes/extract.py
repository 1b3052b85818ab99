"""``-m extract``: fill the pooled-feature cache ahead of training (``--shard i/n`` in parallel)."""

from __future__ import annotations

from pathlib import Path

from emobench.core.config import ConfigError
from emobench.core.context import RunContext
from emobench.core.errors import UserError
from emobench.core.experiment import setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def run(request: Request) -> int:
    from emobench.upstream.cache import parse_shard

    if not request.upstream:
        raise UserError("-m extract needs -u/--upstream")
    if request.trainable:
        from emobench.downstream.finetuning import EXTRACT_REFUSAL

        raise ConfigError(EXTRACT_REFUSAL)
    shard = parse_shard(request.shard)
    name, module = runs.task(request.downstream)
    first, *more = runs.upstream_specs(request, name, module)
    config = runs.resolve_config(request, name, module)
    setup_logging(None, request.verbose)
    ctx = RunContext("extract", name, Path(config.data.cache_dir or "."), first, request.seed,
                     runs.device(request.device), config, more_upstreams=tuple(more))
    module.extract(ctx, shard)
    return 0
