"""``-m train``: one run, a resumed run (``-e``/``-a``), every fold (``--folds``) or seed (``--seeds``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emobench.core import io
from emobench.core.context import RunContext
from emobench.core.errors import UserError
from emobench.core.experiment import LOG, setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def run(request: Request) -> dict[str, Any]:
    if request.folds:
        return train_folds(request)
    if request.seeds != 1:
        if request.seeds < 1:
            raise UserError("--seeds must be >= 1")
        return train_seeds(request)
    return train_one(request)


def train_one(request: Request) -> dict[str, Any]:
    """One training run into its experiment folder; ``-e``/``-a`` resume an interrupted one."""
    if request.past_exp:
        past = Path(request.past_exp)
        ctx = runs.resume_context(request, past if past.is_dir() else past.parent)
        return runs.task(ctx.task)[1].train(ctx)
    upstream = runs.canonical_upstream(request)
    name, module = runs.task(request.downstream)
    folder = runs.expdir(request, runs.default_name(request, name, upstream))
    if request.auto_resume and (folder / "last.ckpt").is_file():
        return module.train(runs.resume_context(request, folder))

    first, *more = runs.upstream_specs(request, name, module)
    runs.check_available((first, *more))
    config = runs.resolve_config(request, name, module)
    module.check(config)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    setup_logging(None)
    runs.clear_previous(folder)
    setup_logging(folder, request.verbose)
    try:
        ctx = RunContext("train", name, folder, first, request.seed,
                         runs.device(request.device), config, more_upstreams=tuple(more))
        runs.write_run_config(folder, ctx.run_record(), config, request.argv)
        LOG.info("experiment folder %s; command: run_downstream.py %s", folder,
                 " ".join(request.argv))
        with runs.discarded_if_unavailable(folder, created):
            return module.train(ctx)
    except UserError:
        runs.discard_failed(folder, created)
        raise


def _finished(folder: Path, what: str, request: Request) -> dict[str, Any] | None:
    if request.auto_resume and (folder / "scores.json").is_file():
        LOG.info("%s: reusing the finished run in %s", what, folder)
        return json.loads((folder / "scores.json").read_text(encoding="utf-8"))
    return None


def train_seeds(request: Request) -> dict[str, Any]:
    """Train ``--seeds N`` runs into ``<expdir>/seed<k>/`` and summarise them in seeds.json.

    With ``-a`` a finished seed (scores.json present) is reused and an interrupted one resumed.
    """
    from emobench.core import seeds
    from emobench.downstream import pooled

    if request.past_exp:
        raise UserError("--seeds cannot be combined with -e; use -a with the same -n/-p")
    upstream = runs.canonical_upstream(request)
    name, module = runs.task(request.downstream)
    base = runs.expdir(request, runs.default_name(request, name, upstream))
    runs.refuse_single_run(base, request, f"--seeds {request.seeds}")
    results = {}
    for seed in range(request.seed, request.seed + request.seeds):
        folder = base / f"seed{seed}"
        results[seed] = _finished(folder, f"seed {seed}", request) or train_one(
            request.but(seed=seed, seeds=1, expdir=str(folder)))
    selection = (module.selection_of(runs.resolve_config(request, name, module))
                 if hasattr(module, "selection_of") else module.SELECTION)
    summary = {"task": name, "expdir": str(base), **seeds.summarize(results, selection)}
    summary["best_expdir"] = str(base / f"seed{summary['best_seed']}")
    pooled.attach_seeds(summary, [base / f"seed{s}" for s in sorted(results)])  # ci (stats)
    io.write_json(base / "seeds.json", summary)
    io.write_text(base / "seeds.md", seeds.table(summary))
    LOG.info("%d seeds -> %s\n%s", request.seeds, base / "seeds.json", seeds.table(summary))
    return summary


def _chosen_folds(request: Request, available: list[int]) -> list[int]:
    if request.folds == "all":
        return available
    try:
        chosen = sorted({int(f) for f in request.folds.split(",")})
    except ValueError:
        raise UserError(f"--folds {request.folds!r}: 'all' or a list like 1,3") from None
    unknown = [f for f in chosen if f not in available]
    if unknown:
        raise UserError(f"--folds {request.folds}: no fold {unknown}; the condition has "
                        f"{available}")
    return chosen


def train_folds(request: Request) -> dict[str, Any]:
    """Train folds into ``<expdir>/fold<k>/`` and write the condition's ``aggregate.json``.

    With ``-a`` a finished fold (scores.json present) is reused and an interrupted one resumed.
    """
    from emobench.core import aggregate
    from emobench.downstream import pooled

    if request.past_exp or request.seeds != 1:
        raise UserError("--folds cannot be combined with -e or --seeds; use -a to resume")
    upstream = runs.canonical_upstream(request)
    name, module = runs.task(request.downstream)
    if not hasattr(module, "folds"):
        raise UserError(f"task {name} has no folds")
    available = module.folds(runs.resolve_config(request, name, module))
    chosen = _chosen_folds(request, available)
    base = runs.expdir(request, runs.default_name(request, name, upstream))
    runs.refuse_single_run(base, request, f"--folds {request.folds}")
    results, weights = {}, {}
    for fold in chosen:
        folder = base / f"fold{fold}"
        one = request.add_override(f"data.fold={fold}").but(folds=None, expdir=str(folder))
        results[fold] = _finished(folder, f"fold {fold}", request) or train_one(one)
        layer_file = folder / "layer_weights.json"
        if layer_file.is_file():
            weights[fold] = json.loads(layer_file.read_text(encoding="utf-8"))["weights"]
    summary = aggregate.folds(results, weights if len(weights) == len(results) else None)
    summary["folds_available"] = list(available)  # the report marks a cell of fewer partial
    pooled.attach(summary, [[base / f"fold{fold}"] for fold in chosen])  # ci, provenance
    io.write_json(base / "aggregate.json", summary)
    main = summary["main"]
    LOG.info("%s %s/%s, %d folds: test %s %.4f +- %.4f (per fold %s) -> %s", summary["upstream"],
             summary["corpus"], summary["condition"], len(chosen), main["name"], main["mean"],
             main["std"], [round(v, 4) for v in main["per_fold"]], base / "aggregate.json")
    return summary
