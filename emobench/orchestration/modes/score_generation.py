"""``-m score_generation --generated DIR [--ratings CSV]``: ExVo-Generate scores of generated
vocal bursts (FID per emotion, the train-vs-validation FID matrix, HEEP and S_GEN;
docs/exvo_generate.md).

The feature space: ``-e EXPERIMENT`` (a trained ``-d exvo_mtl`` / ``-d multitask`` folder or its
checkpoint: the trained network's shared representation, against that experiment's corpus), or
``-u UPSTREAM -d exvo_mtl|multitask`` with the corpus from ``-c`` / ``-o`` / ``--demo`` (the
upstream's pooled features). Results: ``generation_scores.json`` (schema
core/schemas/generation_scores.schema.json), ``config.yaml`` and ``log.log`` in ``-p`` / ``-n``,
by default ``<experiment>/score_generation`` or ``results/downstream/score_generation_<upstream>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emobench.core.config import resolve
from emobench.core.context import RunContext, UpstreamSpec
from emobench.core.errors import UserError
from emobench.core.experiment import setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def run(request: Request) -> dict[str, Any]:
    from emobench.downstream.exvo.generation import score

    if not request.generated:
        raise UserError("-m score_generation needs --generated DIR (one subfolder of audio "
                        "clips per targeted emotion)")
    checkpoint = None
    if request.past_exp:
        checkpoint, saved = runs.run_checkpoint(request.past_exp)
        name, module = runs.task(saved["run"]["task"])
        spec = UpstreamSpec(**saved["run"]["upstream"])
        if request.upstream_ckpt:  # the same upstream weights at another path
            spec.checkpoint = str(Path(request.upstream_ckpt).expanduser().absolute())
        config = resolve(module.CONFIG, saved["config"], request.override)
        seed = int(saved["run"]["seed"])
        folder = (runs.expdir(request, "") if request.expdir or request.expname
                  else checkpoint.parent / "score_generation")
    else:
        if not request.upstream:
            raise UserError("-m score_generation needs -e EXPERIMENT (a trained exvo_mtl or "
                            "multitask model) or -u UPSTREAM with -d exvo_mtl|multitask")
        upstream = runs.canonical_upstream(request)
        name, module = runs.task(request.downstream or "exvo_mtl")
        config = runs.resolve_config(request, name, module)
        spec, seed = runs.upstream_spec(request, upstream), request.seed
        folder = runs.expdir(request, f"score_generation_{upstream}"
                             + ("_demo" if request.demo else ""))
    setup_logging(folder, request.verbose)
    ctx = RunContext("evaluate", name, folder, spec, seed, runs.device(request.device), config,
                     checkpoint=checkpoint)
    runs.write_run_config(folder, ctx.run_record(), config, request.argv)
    return score(ctx, request.generated, request.ratings)
