"""The multitask config checked before anything is read or trained: every target's kind, loss,
metrics and columns, the selection score's items, the output format. Errors name the key."""

from __future__ import annotations

import re

from emobench.core.config import ConfigError
from emobench.core.registry import UnknownNameError, closest
from emobench.downstream import common
from emobench.downstream.multitask.config import MultitaskConfig, TargetConfig
from emobench.downstream.multitask.kinds import KINDS, LOSSES, Kind
from emobench.downstream.multitask.metrics import COMBINERS, METRICS
from emobench.downstream.multitask.outputs import OUTPUTS
from emobench.downstream.trainer import Schedule

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def kind_of(target: TargetConfig) -> Kind:
    return KINDS.get(target.kind)


def columns_of(target: TargetConfig) -> tuple[str, ...]:
    return tuple(target.columns) if target.columns else (target.name,)


def loss_of(target: TargetConfig) -> str:
    return LOSSES.canonical(target.loss) if target.loss else kind_of(target).losses[0]


def metrics_of(target: TargetConfig) -> list[str]:
    chosen = target.metrics if target.metrics is not None else kind_of(target).default_metrics
    return [METRICS.canonical(m) for m in chosen]


def metric_key(target: TargetConfig, metric: str) -> str:
    prefix = f"{target.name}_" if target.metric_prefix is None else target.metric_prefix
    return prefix + metric


def selection_items(cfg: MultitaskConfig) -> list[tuple[TargetConfig, str]]:
    """(target, metric) of every item of the selection score, in order."""
    if not cfg.selection.metrics:
        return [(t, metrics_of(t)[0]) for t in cfg.targets]
    by_name = {t.name: t for t in cfg.targets}
    items = []
    for i, item in enumerate(cfg.selection.metrics):
        where = f"selection.metrics[{i}] {item!r}"
        name, dot, metric = item.rpartition(".")
        if not dot or not name or not metric:
            raise ConfigError(f"{where}: write <target>.<metric>, e.g. "
                              f"{cfg.targets[0].name}.{metrics_of(cfg.targets[0])[0]}")
        if name not in by_name:
            near = closest(name, by_name)
            raise ConfigError(f"{where} names an unknown target {name!r} (targets: "
                              f"{', '.join(by_name)}" + (f"; did you mean {near[0]!r}?" if near
                                                         else "") + ")")
        if metric not in metrics_of(by_name[name]):
            raise ConfigError(f"{where}: target {name!r} has the metrics "
                              f"{metrics_of(by_name[name])} (add {metric!r} to its metrics)")
        items.append((by_name[name], metric))
    return items


def _registered(registry, name: str, where: str) -> None:
    try:
        registry.canonical(name)
    except UnknownNameError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_target(target: TargetConfig, where: str) -> None:
    if not target.name or not _NAME.fullmatch(target.name):
        raise ConfigError(f"{where}.name {target.name!r}: a name of letters, digits, '_' or '-' "
                          "is required")
    where = f"{where} ({target.name})"
    if not target.kind:
        raise ConfigError(f"{where}.kind is required: one of {', '.join(KINDS.names())}")
    _registered(KINDS, target.kind, f"{where}.kind")
    kind = kind_of(target)
    if target.loss is not None:
        _registered(LOSSES, target.loss, f"{where}.loss")
    if loss_of(target) not in kind.losses:
        raise ConfigError(f"{where}.loss {target.loss!r} does not fit kind {kind.name} "
                          f"(losses: {', '.join(kind.losses)})")
    for m in target.metrics or []:
        _registered(METRICS, m, f"{where}.metrics")
        if kind.name not in METRICS.entry(m).meta["kinds"]:
            raise ConfigError(f"{where}.metrics: {m!r} does not apply to kind {kind.name}")
    if not metrics_of(target):
        raise ConfigError(f"{where}.metrics: give at least one metric")
    columns = columns_of(target)
    single = kind.name in ("categorical", "regression")
    if (single and len(columns) != 1) or len(set(columns)) != len(columns):
        raise ConfigError(f"{where}.columns {list(columns)}: "
                          + ("one column" if single else "distinct columns"))
    if target.classes is not None and not kind.categorical:
        raise ConfigError(f"{where}.classes: only categorical kinds have classes")
    if target.classes is not None and len(set(target.classes)) != len(target.classes):
        raise ConfigError(f"{where}.classes name a class twice: {target.classes}")
    if target.no_label and not (kind.categorical and len(columns) == 1):
        raise ConfigError(f"{where}.no_label: only a categorical target read from one column "
                          "has values meaning 'no class'")
    if {v.lower() for v in target.no_label} & {c.lower() for c in target.classes or []}:
        raise ConfigError(f"{where}.no_label {target.no_label} names a declared class")
    if target.indices and target.classes is None:
        raise ConfigError(f"{where}.indices needs the declared classes")
    if target.range is not None and (kind.categorical or len(target.range) != 2
                                     or not target.range[0] < target.range[1]):
        raise ConfigError(f"{where}.range {target.range}: [low, high] with low < high, "
                          "numeric kinds only")
    if target.standardize and kind.name != "regression":
        raise ConfigError(f"{where}.standardize: only regression targets are standardised")
    if target.smoothing and not (kind.name == "soft_categorical" and len(columns) == 1
                                 and 0 < target.smoothing < 1):
        raise ConfigError(f"{where}.smoothing {target.smoothing}: in (0, 1), for a "
                          "soft_categorical target read from one label column")
    if target.weight < 0:
        raise ConfigError(f"{where}.weight must be >= 0")


def check_config(cfg: MultitaskConfig) -> None:
    """Refuse a config that cannot run, naming the key (before anything is read or written)."""
    common.require_paths(cfg.data, ("data_info", "audio_root"))
    if not cfg.targets:
        raise ConfigError("targets: declare at least one target (docs/tasks.md)")
    seen: dict[str, str] = {}
    for i, target in enumerate(cfg.targets):
        check_target(target, f"targets[{i}]")
        if target.name in seen:
            raise ConfigError(f"targets[{i}]: the name {target.name!r} is used twice")
        seen[target.name] = target.name
    keys = [metric_key(t, m) for t in cfg.targets for m in metrics_of(t)]
    twice = sorted({k for k in keys if keys.count(k) > 1} | ({cfg.selection.name} & set(keys)))
    if twice:
        raise ConfigError(f"metric keys {twice} are used twice (targets' metric_prefix, "
                          "selection.name)")
    _registered(COMBINERS, cfg.selection.combine, "selection.combine")
    items = selection_items(cfg)
    wanted = COMBINERS.entry(cfg.selection.combine).meta.get("arguments")
    if wanted is not None and tuple(m for _, m in items) != tuple(wanted):
        raise ConfigError(f"selection.combine={cfg.selection.combine} combines the metrics "
                          f"{list(wanted)} in this order; selection.metrics gives "
                          f"{[f'{t.name}.{m}' for t, m in items]}")
    _registered(OUTPUTS, cfg.output.format, "output.format")
    OUTPUTS.get(cfg.output.format).check(cfg)
    if cfg.train.batch_size < 1 or cfg.train.extract_batch_size < 1:
        raise ConfigError("train.batch_size and train.extract_batch_size must be >= 1")
    if cfg.model.head_hidden is not None and cfg.model.head_hidden < 1:
        raise ConfigError("model.head_hidden must be >= 1 (or null: one linear layer)")
    Schedule.of(cfg.train).check()


def require_test_rows(cfg: MultitaskConfig, table) -> None:
    """An output format that writes a challenge submission (``submission = True``) needs Test
    rows: without them the submission would be an empty file (docs/robustness.md)."""
    from emobench.core.errors import LabelFileError

    writer = OUTPUTS.get(cfg.output.format)
    if getattr(writer, "submission", False) and not (table.splits == "test").any():
        raise LabelFileError(table.source, [
            f"no {cfg.data.split_names.test} rows: output.format={cfg.output.format} writes a "
            f"submission for the {cfg.data.split_names.test} split, which would be empty "
            "(add the Test rows, or use output.format=generic)"])
