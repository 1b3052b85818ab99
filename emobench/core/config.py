"""Layered, typed configuration: dataclass defaults <- YAML file <- ``-o`` overrides.

Every layer is checked against the dataclass tree: an unknown key is an error that names the
closest valid keys, and a value of the wrong type is an error naming its dotted path. Override
values are parsed with ``yaml.safe_load`` (never ``eval``).

>>> from dataclasses import dataclass
>>> @dataclass
... class Train:
...     lr: float = 1e-4
...     epochs: int = 10
...     name: "str | None" = None
>>> cfg = resolve(Train, {"epochs": 3}, "config.lr=0.01,,name=demo")
>>> cfg.lr, cfg.epochs, cfg.name
(0.01, 3, 'demo')
>>> resolve(Train, {}, "epoch=3")
Traceback (most recent call last):
...
emobench.core.config.ConfigError: unknown config key 'epoch'; did you mean: epochs?
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from emobench.core.errors import UserError
from emobench.core.registry import closest

T = TypeVar("T")


class RawText(str):
    """An override's text, kept as written for string fields (``-o data.corpus=no`` is "no")."""


class ConfigError(UserError, ValueError):
    """A configuration that cannot be used; the message names the key and the problem."""


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:  # includes python tags, which safe_load refuses
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def split_overrides(text: str | None) -> list[tuple[str, str]]:
    """Split ``"config.a.b=v,,c=w"`` into ``[("a.b", "v"), ("c", "w")]`` (text as written).

    >>> split_overrides("config.train.lr=1e-3,,data.corpus=no")
    [('train.lr', '1e-3'), ('data.corpus', 'no')]
    """
    pairs = []
    for item in (text or "").split(",,"):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key = key.strip()
        pairs.append((key[len("config."):] if key.startswith("config.") else key, raw.strip()))
    return pairs


def yaml_value(raw: str) -> Any:
    """An override's value as YAML (``1e-4`` is a number, as a user means it)."""
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override value {raw!r} is not valid YAML ({exc})") from None
    if isinstance(value, str) and any(c in value for c in "eE."):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def parse_overrides(text: str | None) -> list[tuple[str, Any]]:
    """Overrides with YAML-typed values.

    >>> parse_overrides("config.train.lr=1e-3,,data.fold=2,,model.layers=[1, 2]")
    [('train.lr', 0.001), ('data.fold', 2), ('model.layers', [1, 2])]
    """
    return [(key, yaml_value(raw)) for key, raw in split_overrides(text)]


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {tp}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return [_convert(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, RawText):
            return str(value)
        if isinstance(value, (dict, list, bool, float)) or value is None:
            raise ConfigError(f"{where}: expected a string, got {value!r} (quote it)")
        return str(value)
    raise ConfigError(f"{where}: unsupported config type {tp}")


def build(cls: type[T], data: dict[str, Any] | None, where: str = "") -> T:
    """Instantiate dataclass ``cls`` from a nested mapping, checking keys and types."""
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    fields = _field_types(cls)
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in fields:
            raise _unknown_key(cls, path, where)
        kwargs[key] = _convert(value, fields[key], path)
    return cls(**kwargs)


def _all_paths(cls: type, prefix: str = "") -> list[str]:
    paths = []
    for name, tp in _field_types(cls).items():
        path = f"{prefix}{name}"
        paths.append(path)
        if dataclasses.is_dataclass(tp):
            paths.extend(_all_paths(tp, path + "."))
    return paths


def _unknown_key(root: type, path: str, where: str) -> ConfigError:
    near = closest(path, _all_paths(root, f"{where}." if where else ""))
    hint = f"; did you mean: {', '.join(near)}?" if near else ""
    return ConfigError(f"unknown config key {path!r}{hint}")


def _element(items: Any, key: str, path: str) -> dict[str, Any]:
    """The item of a list of named mappings that ``key`` names (its ``name``, or an index)."""
    if not isinstance(items, list):
        raise ConfigError(f"config key {path!r}: there is no list to pick {key!r} from")
    named = [i for i, item in enumerate(items)
             if isinstance(item, dict) and item.get("name") == key]
    if named:
        return items[named[0]]
    if key.isdigit() and int(key) < len(items) and isinstance(items[int(key)], dict):
        return items[int(key)]
    names = [item.get("name") for item in items if isinstance(item, dict)]
    raise ConfigError(f"config key {path!r}: no item named {key!r} (items: {names})")


def _set(tree: dict[str, Any], cls: type, path: str, value: Any) -> None:
    """Set the dotted ``path`` in ``tree``; in a list of dataclasses (e.g. ``targets``) the part
    after the list's key picks the item by its ``name`` or index (``targets.age.weight``)."""
    node, node_cls = tree, cls
    parts = path.split(".")
    depth = 0
    while depth < len(parts):
        part = parts[depth]
        fields = _field_types(node_cls)
        if part not in fields:
            parent = ".".join(parts[:depth])
            near = ([f"{parent}.{n}" for n in closest(part, fields)] if node_cls is not cls
                    else closest(path, _all_paths(cls)))
            hint = f"; did you mean: {', '.join(near)}?" if near else ""
            raise ConfigError(f"unknown config key {path!r}{hint}")
        if depth == len(parts) - 1:
            node[part] = _leaf_value(value, fields[part])
            return
        node_cls = fields[part]
        args = typing.get_args(node_cls)
        if typing.get_origin(node_cls) is list and args and dataclasses.is_dataclass(args[0]):
            if depth + 2 > len(parts) - 1:
                raise ConfigError(f"config key {path!r}: name an item and its key, e.g. "
                                  f"{part}.<name>.<key>")
            node, node_cls = _element(node.get(part), parts[depth + 1], path), args[0]
            depth += 2
            continue
        if not dataclasses.is_dataclass(node_cls):
            raise ConfigError(f"config key {'.'.join(parts[:depth + 1])!r} has no sub-keys")
        node = node.setdefault(part, {})
        depth += 1


def _leaf_value(raw: str, tp: Any) -> Any:
    """Text for string fields (``no`` stays "no"), YAML for everything else."""
    options = typing.get_args(tp) if typing.get_origin(tp) in (Union, types.UnionType) else (tp,)
    if str in options and raw not in ("null", "~", "Null", "NULL"):
        try:
            structured = isinstance(yaml.safe_load(raw), (list, dict))
        except yaml.YAMLError:
            structured = False
        return yaml_value(raw) if structured else RawText(raw)
    return yaml_value(raw)


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; ``update`` wins."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve(cls: type[T], file_layer: dict[str, Any] | None = None,
            overrides: str | None = None) -> T:
    """Defaults of ``cls`` <- ``file_layer`` <- dotted ``overrides``; checked and typed.
    ``file_layer`` is not changed (an override of a list item changes a copy)."""
    tree = merge(to_dict(cls()), copy.deepcopy(file_layer or {}))
    build(cls, file_layer or {})  # report unknown keys of the file layer by their own path
    for path, raw in split_overrides(overrides):
        _set(tree, cls, path, raw)
    return build(cls, tree)


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass tree as plain dicts/lists (YAML- and JSON-serialisable)."""
    return dataclasses.asdict(obj)


def dump_yaml(obj: Any) -> str:
    data = to_dict(obj) if dataclasses.is_dataclass(obj) else obj
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def path_field(default: str | None = None, **kwargs: Any) -> Any:
    """A config field holding a file or folder path: :func:`absolute_paths` resolves it.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Data:
    ...     root: "str | None" = path_field()
    ...     name: str = "x"
    >>> absolute_paths(Data(root="corpus/wav", name="y"), Path("/data")).root
    '/data/corpus/wav'
    """
    return dataclasses.field(default=default, metadata={"path": True}, **kwargs)


def absolute_paths(obj: T, base: Path) -> T:
    """``obj`` with every :func:`path_field` made absolute against ``base`` (``~`` expanded).

    Stored configs and checkpoints then name the same files whatever the working directory of a
    later ``-m evaluate`` or ``-m report``.
    """
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            changes[f.name] = absolute_paths(value, base)
        elif f.metadata.get("path") and isinstance(value, str) and value:
            path = Path(value).expanduser()
            changes[f.name] = str(path if path.is_absolute() else (base / path).absolute())
    return dataclasses.replace(obj, **changes) if changes else obj
