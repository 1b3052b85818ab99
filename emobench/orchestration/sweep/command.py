"""``run_downstream.py -m sweep -c configs/sweeps/<name>.yaml --launcher local|slurm [--dry-run]``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from emobench.core import io
from emobench.core.errors import UserError
from emobench.orchestration.sweep import graph, preflight, spec as spec_module
from emobench.orchestration.sweep.engine import Engine
from emobench.orchestration.sweep.launchers import LAUNCHERS


def describe(plan: graph.Plan, launcher: str) -> str:
    """The job graph in words: stages, array sizes, dependencies and example commands."""
    nodes = plan.nodes
    extract, train = plan.stage("extract"), plan.stage("train")
    hybrids = [n for n in train if n.key.startswith("fuse/")]
    train = [n for n in train if n not in hybrids]
    lines = [f"sweep {plan.spec.name}: {len(plan.rows)} upstream rows"
             + (f" + {len(plan.spec.hybrids)} hybrid rows" if hybrids else "")
             + f" x {len(plan.spec.conditions)} conditions -> {len(plan.cells)} table cells, "
             f"{len(nodes)} jobs ({launcher}); output {plan.output}"]
    groups = Counter("/".join(n.key.split("/")[1:3]) for n in extract)
    lines.append(f"  1. extraction: {len(extract)} jobs = {len(groups)} upstream x corpus "
                 f"x {plan.spec.extract.shards} shard(s); each runs {_commands(extract)} "
                 "-m extract command(s) (one per condition and fold of the corpus)")
    lines.append(f"  2. training: {len(train)} jobs (upstream x condition x fold x seed), "
                 f"each after its upstream x corpus extraction (afterok); "
                 f"{len(groups)} arrays (one per upstream x corpus)")
    if hybrids:
        lines.append(f"  2b. hybrids: {len(hybrids)} -m fuse jobs (hybrid x condition x fold x "
                     "seed; training-stage jobs), each after the training runs it combines")
    lines.append(f"  3. aggregation: 1 job after all training jobs (whatever their outcome): "
                 f"{plan.output / 'report'}")
    r = plan.spec.resources
    for stage in ("extract", "train", "aggregate"):
        res = getattr(r, stage)
        lines.append(f"     {stage}: {res.gpus} GPU, {res.cpus} CPU, {res.mem_gb:g} GB, "
                     f"{res.time_min} min")
    for node in (extract[:1] + train[:1] + hybrids[:1]):
        lines.append(f"  e.g. {node.key}: run_downstream.py {' '.join(node.commands[0])}")
    return "\n".join(lines)


def _commands(nodes: list[graph.Node]) -> str:
    counts = sorted({len(n.commands) for n in nodes})
    return "-".join(str(c) for c in (counts[0], counts[-1])) if len(counts) > 1 \
        else str(counts[0] if counts else 0)


def cost_text(plan: graph.Plan, throughput: str | None = None) -> str:
    """The cost estimate of the plan (:mod:`emobench.orchestration.sweep.cost`) from measured throughput."""
    from emobench.corpora import conditions
    from emobench.orchestration.sweep import cost, work
    from emobench.orchestration.sweep.throughput import THROUGHPUT_FILE, load_throughput

    other = sorted({c.task for c in plan.spec.conditions if c.task != "emotion"})
    if other:
        return (f"- cost estimate: no cost model for task(s) {', '.join(other)} yet; the job "
                "graph above is complete")
    files = [THROUGHPUT_FILE, throughput] if throughput else []
    measured = load_throughput(*files)
    names = [c.name for c in plan.spec.conditions]
    if all(c.task == "emotion" and not c.demo and c.name in conditions.names()
           for c in plan.spec.conditions):
        extractions, trainings = work.full_emo_superb_work(
            plan.upstreams, names, folds=plan.spec.folds, seeds=len(plan.spec.seeds),
            standardization={c.name: _standardization(_config(plan, c))
                             for c in plan.spec.conditions},
            own_checkpoints=_own_checkpoints(plan))
    else:
        extractions, trainings = _measured_work(plan)
    texts = []
    gpus = [kind for kind in measured.devices if kind.startswith("cuda")]
    for device in gpus + [None]:  # GPU estimates first, where measured; then the reference
        texts.append(cost.render(cost.estimate(extractions, trainings, measured, device)))
    if not gpus:
        texts.append(
            "- GPU-hours: not measured (no GPU throughput in " + ", ".join(measured.sources)
            + "). On a GPU node run `python benchmarks/upstream_rtf.py --device cuda --out "
            "gpu.yaml` and `python benchmarks/train_cost.py --device cuda --out gpu.yaml`, "
            "then `--dry-run --throughput gpu.yaml`.")
    return "\n\n".join(texts)


def _config(plan: graph.Plan, condition):
    """The condition's resolved config (the sweep's and the condition's overrides)."""
    return graph.resolve_condition(condition, list(plan.spec.overrides)
                                   + list(condition.overrides))[3]


def _standardization(config):
    from emobench.orchestration.sweep import work

    return work.Standardization(config.data.standardize, config.data.standardize_scope)


def _own_checkpoints(plan: graph.Plan) -> set[str]:
    """Upstreams a row reads with its own checkpoint (not the published one)."""
    return {c.upstream for r in plan.rows for c in r.components if c.ckpt}


def _measured_work(plan: graph.Plan) -> tuple[list, list]:
    """Work items from the conditions' own label folders (e.g. demo corpora). The conditions of
    a corpus are assumed to hold the same utterances (their fold n: the same extraction spec)."""
    import pandas as pd

    from emobench.orchestration.sweep import corpus_hours, work

    extractions, trainings, durations = [], [], {}
    specs: dict[tuple[str, str], set] = {}  # (corpus, upstream) -> extraction specs
    own = _own_checkpoints(plan)
    for condition in plan.spec.conditions:
        if condition.task != "emotion":
            raise UserError(f"--dry-run: no cost model for task {condition.task} yet "
                            f"(condition {condition.name})")
        config = _config(plan, condition)
        data = config.data
        corpus = graph.condition_names(config, condition)[0]
        if corpus not in durations:
            durations[corpus] = corpus_hours.measure_audio(data.label_dir, data.audio_root,
                                                   data.max_seconds, corpus=corpus)
        cell_runs = [c for c in plan.cells if c.condition == condition.name]
        folds = sorted({r["fold"] for c in cell_runs for r in c.runs})
        for fold in folds:
            for upstream in plan.upstreams:
                specs.setdefault((corpus, upstream), set()).add(work.extraction_spec(
                    upstream, _standardization(config), fold, own_checkpoint=upstream in own))
            table = pd.read_csv(Path(data.label_dir) / f"labels_consensus_{fold}.csv")
            count = table["Split_Set"].value_counts()
            for row in plan.rows:
                trainings.append(work.TrainingWork(
                    row.name, condition.name, runs=len(plan.spec.seeds),
                    train_utterances=int(count.get("Train", 0)), epochs=config.train.epochs,
                    dev_utterances=int(count.get("Development", 0)),
                    test_utterances=int(count.get("Test", 0)),
                    batch_size=config.train.batch_size, fold=fold))
    for (corpus, upstream), found in specs.items():
        extractions.append(work.pass_work(upstream, durations[corpus], found,
                                          durations[corpus].cap_seconds,
                                          own_checkpoint=upstream in own))
    return extractions, trainings


def main(config: str | None, launcher: str, dry_run: bool = False,
         throughput: str | None = None, workdir: str | Path | None = None) -> int:
    if not config:
        raise UserError("-m sweep needs -c configs/sweeps/<name>.yaml")
    name = LAUNCHERS.canonical(launcher)
    spec = spec_module.load(config)
    plan = graph.build(spec, workdir or Path.cwd())
    print(describe(plan, name))
    problems = preflight.missing(plan, name)
    print(preflight.report(problems))
    if dry_run:
        print(cost_text(plan, throughput))
        return 0
    if preflight.blocking(problems):
        raise UserError(f"{config}: the sweep cannot start: {len(preflight.blocking(problems))} "
                        "thing(s) missing (listed above; nothing was submitted; --dry-run lists "
                        "them without running anything)")
    io.write_json(plan.sweep_dir / "plan.json", plan.to_json())
    engine = Engine(plan, LAUNCHERS.get(name)(spec, plan.sweep_dir, plan.workdir),
                    poll_seconds=(spec.slurm.poll_seconds if name == "slurm"
                                  else spec.local.poll_seconds))
    status = engine.run()
    print(summary(status))
    return 0 if not status["failed"] and not status["blocked"] else 1


def summary(status: dict) -> str:
    counts = ", ".join(f"{v} {k}" for k, v in sorted(status["counts"].items()))
    lines = [f"sweep {status['name']}: {counts}; report {status['report']}"]
    for key, logs in status["failed"].items():
        lines.append(f"  FAILED {key}: log {logs[-1] if logs else '?'}")
    if status["blocked"]:
        lines.append(f"  blocked by a failed extraction: {len(status['blocked'])} jobs")
    return "\n".join(lines)

