"""``-m evaluate -e CHECKPOINT``: score a trained checkpoint (or an experiment folder's best)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emobench.core.context import RunContext
from emobench.core.errors import UserError
from emobench.core.experiment import setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request
from emobench.orchestration.restore import restore


def run(request: Request) -> dict[str, Any]:
    if not request.past_exp:
        raise UserError("-m evaluate needs -e CHECKPOINT (or an experiment folder)")
    if request.trainable or request.trainable_layers is not None:
        raise UserError("-f/--upstream_trainable applies to training: -m evaluate uses the "
                        "upstream as the checkpoint records it (fine-tuned weights included)")
    restored = restore(request.past_exp, request.upstream_ckpt, request.override)
    checkpoint, (spec, *more) = restored.checkpoint, restored.upstreams
    folder = (Path(request.expdir).absolute() if request.expdir
              else checkpoint.parent / f"evaluate_{checkpoint.stem}")
    setup_logging(folder, request.verbose)
    ctx = RunContext("evaluate", restored.task, folder, spec, restored.seed,
                     runs.device(request.device), restored.config, checkpoint=checkpoint,
                     more_upstreams=tuple(more))
    runs.write_run_config(folder, ctx.run_record(), restored.config, request.argv)
    return restored.module.evaluate(ctx)
