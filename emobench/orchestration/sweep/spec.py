"""The sweep file (``configs/sweeps/<name>.yaml``): what a table needs, typed and checked.

A sweep names upstreams, conditions (a task with its config file), folds, seeds, run-wide
overrides and the resources of each stage, for SLURM and for the local launcher::

    name: demo
    output: results/sweeps/demo          # <output>/<upstream>/<condition>/fold<k>[/seed<s>]
    upstreams: [fbank_no_cmvn, {name: egemaps, overrides: [model.standardize_features=true]}]
    # rows of other kinds (docs/sweeps.md; sweep/rows.py): {name: er, upstream: raw_cnn, ckpt: x},
    # early fusion "a,b" or {name: a+b, fuse: [a, b]}, and hybrids: [{name: h, from: {...}}]
    conditions:
      - iemocap                          # an EMO-SUPERB condition: configs/emotion/iemocap.yaml
      - {name: demo_arousal, config: configs/emotion/demo_arousal.yaml, demo: true}
    folds: all                           # or [1, 3]
    seeds: [1337]
    overrides: [train.epochs=3]          # -o for every run
    extract: {shards: 4}
    resources: {extract: {gpus: 1, cpus: 8, mem_gb: 32, time_min: 240}}
    slurm: {partition: gpu, array_parallelism: 64}
    local: {workers: 2}

>>> spec = parse({"name": "s", "upstreams": ["fbank"], "conditions": ["iemocap"]})
>>> spec.upstreams[0].name, spec.conditions[0].config, spec.seeds
('fbank', 'configs/emotion/iemocap.yaml', [1337])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from emobench.core.config import ConfigError, build, load_yaml


@dataclass
class UpstreamEntry:
    name: str  # the table row and run folder; also the upstream(s) unless `upstream` or `fuse`
    ckpt: str | None = None  # -k: a local checkpoint (default: s3prl downloads the published one)
    normalize: bool = False  # --upstream_feature_normalize
    overrides: list[str] = field(default_factory=list)  # -o for this upstream's runs
    upstream: str | None = None  # -u when the row's name is not the upstream ("a,b": fusion)
    fuse: list[str] = field(default_factory=list)  # early fusion of these entries (-u a,b -k x,y)


@dataclass
class HybridEntry:
    """A hybrid row (``-m fuse``): each target from a named entry, or per target the best on
    validation of ``auto`` entries; for every condition, fold and seed (YAML key ``from``)."""

    name: str
    sources: dict[str, str] = field(default_factory=dict)  # target -> upstream entry
    auto: list[str] = field(default_factory=list)


@dataclass
class ConditionEntry:
    name: str  # the run folder's name, unique in the sweep
    task: str = "emotion"
    config: str | None = None  # default for emotion: configs/emotion/<name>.yaml
    demo: bool = False  # --demo: the task's generated demo corpus
    overrides: list[str] = field(default_factory=list)  # -o for this condition's runs
    # this condition's data paths and settings, e.g. {label_dir: ..., audio_root: ...}: the
    # same as overrides data.<key>=<value> (given first, so overrides win)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Resources:
    gpus: int = 0
    cpus: int = 1
    mem_gb: float = 8.0
    time_min: int = 60


@dataclass
class StageResources:
    extract: Resources = field(default_factory=lambda: Resources(gpus=1, cpus=4, mem_gb=16,
                                                                 time_min=240))
    train: Resources = field(default_factory=lambda: Resources(gpus=0, cpus=2, mem_gb=8,
                                                               time_min=120))
    aggregate: Resources = field(default_factory=lambda: Resources(gpus=0, cpus=1, mem_gb=4,
                                                                   time_min=30))


@dataclass
class ExtractOptions:
    shards: int = 1  # extraction jobs per upstream x corpus (--shard i/n)


@dataclass
class SlurmOptions:
    partition: str | None = None
    array_parallelism: int = 64  # at most this many tasks of one array run at once
    account: str | None = None
    qos: str | None = None
    poll_seconds: float = 5.0
    additional: dict[str, Any] = field(default_factory=dict)  # more sbatch options


@dataclass
class LocalOptions:
    workers: int = 2  # parallel jobs (with gpus: one process per GPU)
    # one worker per GPU, each job seeing only its GPU (CUDA_VISIBLE_DEVICES): a list of GPU
    # indices, or "auto" for every GPU torch sees (none: `workers` processes)
    gpus: Literal["auto"] | list[int] | None = None
    poll_seconds: float = 0.2


@dataclass
class SweepSpec:
    name: str
    upstreams: list[UpstreamEntry]
    conditions: list[ConditionEntry]
    hybrids: list[HybridEntry] = field(default_factory=list)
    output: str | None = None  # default results/sweeps/<name>
    folds: Literal["all"] | list[int] = "all"
    seeds: list[int] = field(default_factory=lambda: [1337])
    overrides: list[str] = field(default_factory=list)
    cache_dir: str | None = None  # data.cache_dir of every run (default: the task's)
    device: str | None = None  # --device of every job (default: cuda when visible)
    retries: int = 1  # a failed or killed job is resubmitted this many times (resuming)
    extract: ExtractOptions = field(default_factory=ExtractOptions)
    resources: StageResources = field(default_factory=StageResources)
    slurm: SlurmOptions = field(default_factory=SlurmOptions)
    local: LocalOptions = field(default_factory=LocalOptions)

    @property
    def output_dir(self) -> Path:
        return Path(self.output or f"results/sweeps/{self.name}")


def _entries(data: dict[str, Any], key: str, first: str, where: str) -> None:
    """``- name`` shorthands become ``{first: name}`` mappings."""
    items = data.get(key)
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: '{key}' must be a non-empty list")
    data[key] = [{first: item} if isinstance(item, str) else item for item in items]


def parse(data: dict[str, Any], where: str = "sweep") -> SweepSpec:
    """A checked :class:`SweepSpec` from the file's mapping."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    data = dict(data)
    _entries(data, "upstreams", "name", where)
    _entries(data, "conditions", "name", where)
    if isinstance(data.get("seeds"), int):
        data["seeds"] = [data["seeds"]]
    data["hybrids"] = [_hybrid(h) for h in data.get("hybrids") or []]
    spec = build(SweepSpec, data)
    for condition in spec.conditions:
        condition.overrides = [f"data.{k}={v}" for k, v in condition.data.items()] \
            + list(condition.overrides)
        if condition.config is None:
            if condition.task != "emotion":
                raise ConfigError(f"{where}: condition {condition.name!r} (task "
                                  f"{condition.task}) needs a config file")
            condition.config = f"configs/emotion/{condition.name}.yaml"
    _check_rows(spec, where)
    for key, names in (("upstreams", [u.name for u in spec.upstreams + spec.hybrids]),
                       ("conditions", [c.name for c in spec.conditions])):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"{where}: {key} {twice} appear twice (one table cell each)")
    if spec.extract.shards < 1 or spec.retries < 0 or spec.local.workers < 1:
        raise ConfigError(f"{where}: extract.shards and local.workers must be >= 1, "
                          "retries >= 0")
    if not spec.seeds or len(set(spec.seeds)) != len(spec.seeds):
        raise ConfigError(f"{where}: seeds must be a non-empty list of distinct integers")
    return spec


def _hybrid(item: Any) -> Any:
    """YAML's ``from:`` is the entry's ``sources``."""
    if isinstance(item, dict) and "from" in item:
        item = {**{k: v for k, v in item.items() if k != "from"}, "sources": item["from"]}
    return item


def _check_rows(spec: SweepSpec, where: str) -> None:
    """Fused and hybrid rows name entries of the sweep that exist and fit."""
    entries = {u.name: u for u in spec.upstreams}
    for entry in spec.upstreams:
        if entry.fuse:
            if entry.upstream or entry.ckpt or entry.normalize:
                raise ConfigError(f"{where}: upstream {entry.name!r}: 'fuse' takes upstream, "
                                  "ckpt and normalize from the fused entries; give none here")
            if len(entry.fuse) < 2:
                raise ConfigError(f"{where}: upstream {entry.name!r}: fuse needs two entries "
                                  "or more")
            for name in entry.fuse:
                other = entries.get(name)
                if other is None or other.fuse or "," in (other.upstream or other.name):
                    raise ConfigError(f"{where}: upstream {entry.name!r}: fuse names "
                                      f"{name!r}, which is not a single-upstream entry of "
                                      "the sweep")
    for hybrid in spec.hybrids:
        if bool(hybrid.sources) == bool(hybrid.auto):
            raise ConfigError(f"{where}: hybrid {hybrid.name!r} needs either 'from' "
                              "(target: upstream entry) or 'auto' (upstream entries)")
        named = list(hybrid.sources.values()) + list(hybrid.auto)
        if not all(isinstance(n, str) for n in named):
            raise ConfigError(f"{where}: hybrid {hybrid.name!r}: 'from' maps targets to "
                              "upstream entry names, 'auto' lists them")
        unknown = [n for n in named if n not in entries]
        if unknown:
            raise ConfigError(f"{where}: hybrid {hybrid.name!r} names {unknown}, which are not "
                              f"upstream entries of the sweep ({sorted(entries)})")


def load(path: str | Path) -> SweepSpec:
    """Read and check a sweep file (YAML, safe_load); errors name the file and the key."""
    try:
        return parse(load_yaml(path), where=str(path))
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if str(path) in message else f"{path}: {message}") from None
