"""What a sweep needs before anything is submitted: every data path, label file, partition,
upstream checkpoint and launcher setting, all listed at once (``--dry-run`` prints them). A real
sweep refuses to start while a data path, label file, partition or the SLURM partition is
missing; a missing upstream checkpoint fails that row's jobs only (listed, the sweep runs the
rest: a partial table). docs/sweeps.md, docs/robustness.md."""

from __future__ import annotations

from pathlib import Path

from emobench.core.errors import UserError
from emobench.orchestration.sweep import graph

DATA_PATHS = ("label_dir", "audio_root", "data_info")


def _condition_problems(plan: graph.Plan, condition) -> list[str]:
    where = f"condition {condition.name}"
    try:
        _, _, _, config = graph.resolve_condition(
            condition, list(plan.spec.overrides) + list(condition.overrides))
    except UserError as exc:
        return [f"{where}: {exc}"]
    data, problems = config.data, []
    for key in (k for k in DATA_PATHS if hasattr(data, k)):
        value = getattr(data, key)
        if value is None:
            problems.append(f"{where}: data.{key} is not set (give it under the condition's "
                            f"`data:` in the sweep file, e.g. data: {{{key}: /path}})")
        elif not Path(value).exists():
            problems.append(f"{where}: data.{key}={value} does not exist")
    label_dir = getattr(data, "label_dir", None)
    if label_dir and Path(label_dir).is_dir():
        folds = sorted({r["fold"] for c in plan.cells if c.condition == condition.name
                        for r in c.runs if r.get("fold") is not None})
        for fold in folds:
            if not (Path(label_dir) / f"labels_consensus_{fold}.csv").is_file():
                problems.append(f"{where}: {label_dir}/labels_consensus_{fold}.csv (fold {fold}) "
                                "does not exist")
    if getattr(data, "partition", None):
        from emobench.downstream.emotion.audit import partition_spec

        try:
            partition_spec(data.partition)
        except UserError as exc:
            problems.append(f"{where}: {exc}")
    return problems


CHECKPOINT = "upstream "  # the lines of missing checkpoints start so (they do not block)


def missing(plan: graph.Plan, launcher: str) -> list[str]:
    """Everything the sweep needs that is not there, one line each (empty: ready)."""
    problems: list[str] = []
    for condition in plan.spec.conditions:
        if not condition.demo:
            problems += _condition_problems(plan, condition)
    for entry in plan.spec.upstreams:
        for ckpt in (c.strip() for c in (entry.ckpt or "").split(",")):
            if ckpt and not Path(ckpt).expanduser().is_file():
                problems.append(f"upstream {entry.name}: checkpoint {ckpt} does not exist")
    if launcher == "slurm" and not plan.spec.slurm.partition:
        problems.append("slurm.partition is null: set your cluster's partition (e.g. gpu)")
    return problems


def blocking(problems: list[str]) -> list[str]:
    """The problems that keep a real sweep from starting (all but missing checkpoints)."""
    return [p for p in problems if not p.startswith(CHECKPOINT)]


def report(problems: list[str]) -> str:
    if not problems:
        return "- preflight: every data path, label file, partition and checkpoint is present"
    return "\n".join([f"- preflight: {len(problems)} thing(s) missing:",
                      *(f"  - {p}" for p in problems)])
