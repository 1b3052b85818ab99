"""``-m cross -e EXPERIMENT -c CROSS_FILE``: score a trained emotion or probe model on another
corpus through a declared class mapping (downstream/cross_corpus.py, docs/serab.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emobench.core.config import absolute_paths, build, load_yaml, resolve
from emobench.core.context import RunContext, upstreams_of
from emobench.core.errors import UserError
from emobench.core.experiment import setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def run(request: Request) -> dict[str, Any]:
    from emobench.downstream.cross_corpus import CROSS, CrossConfig, target_names

    if not request.past_exp or not request.config:
        raise UserError("-m cross needs -e EXPERIMENT (a trained emotion or probe run) and -c "
                        "CROSS_FILE (target corpus and class mapping, e.g. "
                        "configs/cross/emodb_to_emogator.yaml)")
    file = Path(runs.config_file(request.config)).absolute()
    layers = load_yaml(file)
    build(CrossConfig, layers, str(file))
    cross = absolute_paths(resolve(CrossConfig, layers, request.override), Path.cwd())
    checkpoint, saved = runs.run_checkpoint(request.past_exp)
    record = saved["run"]
    name, module = runs.task(record["task"])
    if name not in CROSS:
        raise UserError(f"{checkpoint}: cross-corpus evaluation is implemented for the tasks "
                        f"{', '.join(CROSS.names())}, not {name}")
    evaluate = CROSS.get(name)
    if cross.target.label_dir is None:
        raise UserError(f"{file}: target.label_dir is not set (or -o target.label_dir=PATH)")
    config = resolve(module.CONFIG, saved["config"])
    spec, *more = upstreams_of(record)
    folder = (Path(request.expdir).absolute() if request.expdir else
              checkpoint.parent / "cross" / "_".join(target_names(cross)))
    setup_logging(folder, request.verbose)
    ctx = RunContext("evaluate", name, folder, spec, int(record["seed"]),
                     runs.device(request.device), config, checkpoint=checkpoint,
                     more_upstreams=tuple(more))
    runs.write_run_config(folder, ctx.run_record(), config, request.argv)
    return evaluate(ctx, cross, file)
