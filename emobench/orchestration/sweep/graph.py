"""A sweep as a job graph: extraction (upstream x corpus x shard) -> training (row x
condition x fold x seed, each after the extraction of its upstream(s)) -> hybrids (``-m fuse``
per hybrid row x condition x fold x seed, after the trainings they combine) -> one aggregation
job (tables, figures). Rows and their upstreams: :mod:`emobench.orchestration.sweep.rows`.

Every job is a list of ``run_downstream.py`` command lines (the same ones a user would type), so
a sweep's runs are exactly the runs one would make one by one. A training run's identity is the
hash of its resolved config, task, upstream and seed: a run folder holding ``scores.json`` and a
``sweep_run.json`` with that hash and status ``done`` is finished and skipped on a rerun; any
other change of the sweep file or of a config file gives another hash and the run is redone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from emobench.core.config import to_dict
from emobench.core.errors import UserError
from emobench.orchestration.sweep import rows
from emobench.orchestration.sweep.spec import ConditionEntry, HybridEntry, Resources, SweepSpec

Stage = Literal["extract", "train", "aggregate"]
RUN_MARKER = "sweep_run.json"


@dataclass
class Node:
    """One job: its command lines, what it waits for and what it needs."""

    key: str
    stage: Stage
    commands: list[list[str]]
    resources: Resources
    deps: list[str] = field(default_factory=list)
    after: Literal["ok", "any"] = "ok"  # run when deps succeeded / when they are all over
    expdir: str | None = None  # train: the run folder
    config_hash: str | None = None  # train: identity of the run; extract: of its commands

    def payload(self, workdir: Path, sweep_dir: Path) -> dict[str, Any]:
        """What the job process receives (JSON)."""
        return {"key": self.key, "stage": self.stage, "commands": self.commands,
                "expdir": self.expdir, "config_hash": self.config_hash,
                "workdir": str(workdir), "sweep_dir": str(sweep_dir)}


@dataclass
class Cell:
    """One table cell: an upstream on a condition, over its folds and seeds."""

    upstream: str
    condition: str
    task: str
    corpus: str
    label: str | None  # the condition's data.condition (the table column with corpus)
    runs: list[dict[str, Any]]  # {"fold": k | None, "seed": s, "expdir": ..., "key": ...}
    folder: str  # <output>/<upstream>/<condition>
    kind: str = rows.SINGLE  # or rows.EARLY_FUSION, rows.HYBRID (the table marks them)
    note: str | None = None  # what a fused or hybrid row is made of, in words


@dataclass
class Plan:
    spec: SweepSpec
    workdir: Path
    nodes: dict[str, Node]
    cells: list[Cell]
    rows: list[rows.Row] = field(default_factory=list)  # the upstream entries' rows

    @property
    def upstreams(self) -> list[str]:
        """Every upstream the rows read (canonical names, once each)."""
        return list(dict.fromkeys(c.upstream for r in self.rows for c in r.components))

    @property
    def output(self) -> Path:
        return self.spec.output_dir if self.spec.output_dir.is_absolute() \
            else self.workdir / self.spec.output_dir

    @property
    def sweep_dir(self) -> Path:
        """Job files, logs, done markers and the status of the sweep's jobs."""
        return self.output / ".sweep"

    def stage(self, stage: Stage) -> list[Node]:
        return [n for n in self.nodes.values() if n.stage == stage]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.spec.name, "output": str(self.output),
                "nodes": {k: asdict(n) for k, n in self.nodes.items()},
                "cells": [asdict(c) for c in self.cells]}


def digest(obj: Any) -> str:
    """Hash of a JSON-serialisable object (key order independent).

    >>> digest({"a": 1, "b": [2]}) == digest({"b": [2], "a": 1})
    True
    """
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def resolve_condition(condition: ConditionEntry, overrides: list[str]):
    """The task, its module and the condition's resolved config (as the command line does)."""
    from emobench.downstream import TASKS
    from emobench.orchestration.request import Request
    from emobench.orchestration.runs import resolve_config

    task = TASKS.canonical(condition.task)
    module = TASKS.get(task)
    request = Request(config=condition.config, demo=condition.demo,
                      override=",,".join(overrides) or None)
    return task, module, request, resolve_config(request, task, module)


def _folds(spec: SweepSpec, condition: ConditionEntry, module, config) -> list[int | None]:
    if not hasattr(module, "folds"):
        return [None]
    try:
        available = module.folds(config)
    except UserError as exc:  # data not prepared here (e.g. a dry run on a laptop)
        from emobench.corpora import conditions

        if condition.name not in conditions.names():
            raise UserError(f"condition {condition.name!r}: cannot list its folds: {exc}") \
                from None
        available = list(range(1, conditions.condition(condition.name).folds + 1))
    if spec.folds == "all":
        return list(available)
    unknown = [f for f in spec.folds if f not in available]
    if unknown:
        raise UserError(f"condition {condition.name!r} has no fold {unknown} (has {available})")
    return list(spec.folds)


def condition_names(config, condition: ConditionEntry) -> tuple[str, str | None]:
    """(corpus, condition label) of the results, as the task writes them."""
    data = config.data
    corpus = getattr(data, "corpus", None)
    label = getattr(data, "condition", None)
    label_dir = getattr(data, "label_dir", None)
    if label_dir:
        corpus = corpus or Path(label_dir).resolve().parent.name
        label = label or Path(label_dir).resolve().name
    return corpus or condition.name, label


def _condition_args(task: str, condition: ConditionEntry, overrides: list[str],
                    device: str | None) -> list[str]:
    args = ["-d", task]
    if condition.config:
        args += ["-c", condition.config]
    if condition.demo:
        args.append("--demo")
    if device:
        args += ["--device", device]
    for override in overrides:
        args += ["-o", override]
    return args


def build(spec: SweepSpec, workdir: str | Path = ".") -> Plan:
    """The sweep's job graph (resolving every condition's config, building demo corpora)."""
    from emobench.upstream import UPSTREAMS

    workdir = Path(workdir).resolve()
    output = spec.output_dir if spec.output_dir.is_absolute() else workdir / spec.output_dir
    found = rows.resolve(spec.upstreams, UPSTREAMS.canonical)  # UPSTREAMS.canonical per upstream
    nodes: dict[str, Node] = {}
    cells: list[Cell] = []
    groups: dict[tuple[str, str], list[list[str]]] = {}  # (component, corpus) -> extract commands
    needs: dict[str, list[tuple[str, str]]] = {}  # training node -> its extraction groups
    base = list(spec.overrides) + ([f"data.cache_dir={spec.cache_dir}"] if spec.cache_dir else [])
    resolved: dict[tuple[str, tuple[str, ...]], Any] = {}  # upstreams share a fold's config

    def config_of(condition: ConditionEntry, overrides: list[str]):
        key = (condition.name, tuple(overrides))
        if key not in resolved:
            resolved[key] = resolve_condition(condition, overrides)[3]
        return resolved[key]

    for condition in spec.conditions:
        overrides = base + list(condition.overrides)
        task, module, _, config = resolve_condition(condition, overrides)
        folds = _folds(spec, condition, module, config)
        corpus, label = condition_names(config, condition)
        for row in found.values():
            entry = row.entry
            upstream_overrides = overrides + list(entry.overrides)
            folder = output / row.name / condition.name
            cell = Cell(row.name, condition.name, task, corpus, label, [], str(folder),
                        row.kind, row.note())
            for fold in folds:
                fold_overrides = upstream_overrides + ([f"data.fold={fold}"]
                                                       if fold is not None else [])
                tail = _condition_args(task, condition, fold_overrides, spec.device)
                common = row.args() + tail
                group_keys = []
                for component in row.components:
                    group = (rows.extraction_label(component, found), corpus)
                    commands = groups.setdefault(group, [])
                    command = ["-m", "extract", *component.args(), *tail]
                    if command not in commands:  # fused rows reuse their parts' extraction
                        commands.append(command)
                    group_keys.append(group)
                fold_config = config_of(condition, fold_overrides)
                for seed in spec.seeds:
                    run_dir = folder / (f"fold{fold}" if fold is not None else "")
                    if len(spec.seeds) > 1:
                        run_dir = run_dir / f"seed{seed}"
                    key = "/".join(["train", row.name, condition.name]
                                   + ([f"fold{fold}"] if fold is not None else [])
                                   + [f"seed{seed}"])
                    identity = {"task": task, "upstream": row.identity(), "seed": seed,
                                "config": to_dict(fold_config)}
                    nodes[key] = Node(key, "train",
                                      [["-m", "train", *common, "--seed", str(seed),
                                        "-p", str(run_dir)]],
                                      spec.resources.train, expdir=str(run_dir),
                                      config_hash=digest(identity))
                    needs[key] = group_keys
                    cell.runs.append({"fold": fold, "seed": seed, "expdir": str(run_dir),
                                      "key": key})
            cells.append(cell)
        for hybrid in spec.hybrids:
            rows.check_hybrid(hybrid, config, module, condition.name)
            cells.append(_hybrid_cell(spec, hybrid, found, nodes, output, condition.name,
                                      (task, corpus, label, folds)))
    n = spec.extract.shards
    shards: dict[tuple[str, str], list[str]] = {}
    for (upstream, corpus), commands in groups.items():
        for i in range(1, n + 1):
            key = f"extract/{upstream}/{corpus}/{i}of{n}"
            sharded = [[*c, "--shard", f"{i}/{n}"] for c in commands]
            nodes[key] = Node(key, "extract", sharded, spec.resources.extract,
                              config_hash=digest(sharded))
            shards.setdefault((upstream, corpus), []).append(key)
    for train_key, group_keys in needs.items():
        nodes[train_key].deps = [k for g in dict.fromkeys(group_keys) for k in shards[g]]
    train_keys = [k for k, v in nodes.items() if v.stage == "train"]
    nodes["aggregate"] = Node("aggregate", "aggregate", [], spec.resources.aggregate,
                              deps=train_keys, after="any")
    return Plan(spec, workdir, dict(sorted(nodes.items(), key=_order)), cells,
                list(found.values()))


def _hybrid_cell(spec: SweepSpec, hybrid: HybridEntry, found: dict[str, rows.Row],
                 nodes: dict[str, Node], output: Path, condition: str,
                 where: tuple[str, str, str | None, list[int | None]]) -> Cell:
    """A hybrid row's cell: one ``-m fuse`` job per fold and seed (a training-stage job, after
    the training runs it combines), in ``<output>/<hybrid>/<condition>/...``."""
    task, corpus, label, folds = where
    names = {original: row.name for original, row in found.items()}
    used = list(dict.fromkeys(list(hybrid.sources.values()) + list(hybrid.auto)))
    folder = output / hybrid.name / condition
    cell = Cell(hybrid.name, condition, task, corpus, label, [], str(folder), rows.HYBRID,
                rows.hybrid_note(hybrid, names))
    for fold in folds:
        for seed in spec.seeds:
            part = ([f"fold{fold}"] if fold is not None else []) + [f"seed{seed}"]
            sources = {e: nodes["/".join(["train", names[e], condition, *part])] for e in used}
            run_dir = folder / (f"fold{fold}" if fold is not None else "")
            if len(spec.seeds) > 1:
                run_dir = run_dir / f"seed{seed}"
            key = "/".join(["fuse", hybrid.name, condition, *part])
            identity = {"hybrid": asdict(hybrid), "sources": {e: (s.expdir, s.config_hash)
                                                               for e, s in sources.items()}}
            command = rows.hybrid_command(hybrid, {e: s.expdir for e, s in sources.items()},
                                          str(run_dir))
            nodes[key] = Node(key, "train", [command], spec.resources.train,
                              deps=[s.key for s in sources.values()], expdir=str(run_dir),
                              config_hash=digest(identity))
            cell.runs.append({"fold": fold, "seed": seed, "expdir": str(run_dir), "key": key})
    return cell


def _order(item: tuple[str, Node]) -> tuple[int, str]:
    return (("extract", "train", "aggregate").index(item[1].stage), item[0])


def run_finished(expdir: str | Path, config_hash: str | None) -> bool:
    """A training run is finished when its folder has scores.json and a done marker whose
    config hash is ``config_hash``."""
    folder = Path(expdir)
    marker = folder / RUN_MARKER
    if not (folder / "scores.json").is_file() or not marker.is_file():
        return False
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return data.get("status") == "done" and data.get("config_hash") == config_hash


def extract_done_marker(sweep_dir: Path, key: str) -> Path:
    return sweep_dir / "done" / (key.replace("/", "__") + ".json")


def extraction_finished(sweep_dir: Path, node: Node) -> bool:
    marker = extract_done_marker(sweep_dir, node.key)
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("config_hash") \
            == node.config_hash
    except (OSError, ValueError):
        return False
