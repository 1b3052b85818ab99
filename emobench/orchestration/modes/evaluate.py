"""``-m evaluate -e CHECKPOINT``: score a trained checkpoint (or an experiment folder's best)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emobench.core.config import resolve
from emobench.core.context import RunContext, upstreams_of
from emobench.core.errors import UserError
from emobench.core.experiment import setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def run(request: Request) -> dict[str, Any]:
    if not request.past_exp:
        raise UserError("-m evaluate needs -e CHECKPOINT (or an experiment folder)")
    if request.trainable or request.trainable_layers is not None:
        raise UserError("-f/--upstream_trainable applies to training: -m evaluate uses the "
                        "upstream as the checkpoint records it (fine-tuned weights included)")
    checkpoint, saved = runs.run_checkpoint(request.past_exp)
    record = saved["run"]
    name, module = runs.task(record["task"])
    spec, *more = upstreams_of(record)
    if request.upstream_ckpt:  # the same upstream weights at another path (a comma list: each)
        given = request.upstream_ckpt.split(",") if more else [request.upstream_ckpt]
        if len(given) != len(more) + 1:
            raise UserError(f"-k {request.upstream_ckpt}: {checkpoint} has {len(more) + 1} "
                            "upstreams; give one checkpoint per upstream (empty: unchanged)")
        for one, path in zip((spec, *more), given):
            one.checkpoint = str(Path(path).expanduser().absolute()) if path else one.checkpoint
    config = resolve(module.CONFIG, saved["config"], request.override)
    folder = (Path(request.expdir).absolute() if request.expdir
              else checkpoint.parent / f"evaluate_{checkpoint.stem}")
    setup_logging(folder, request.verbose)
    ctx = RunContext("evaluate", name, folder, spec, int(record["seed"]),
                     runs.device(request.device), config, checkpoint=checkpoint,
                     more_upstreams=tuple(more))
    runs.write_run_config(folder, ctx.run_record(), config, request.argv)
    return module.evaluate(ctx)
