"""Checked fields of the sweep's YAML files (throughput, corpora): each error names the file
and the dotted key."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from emobench.core.errors import UserError
from emobench.core.resources import data_dir

REPO_ROOT = data_dir("configs").parent


class SweepFileError(UserError, ValueError):
    """A throughput or corpora file that cannot be used; the message names the file and key."""


def canonical_upstream(name: str) -> str:
    """The registry's canonical name of an upstream (aliases and paper names accepted).

    >>> canonical_upstream("WavLM"), canonical_upstream("apc")
    ('wavlm_large', 'apc_960hr')
    """
    from emobench.upstream.registry import UPSTREAMS

    return UPSTREAMS.canonical(name)


def fail(source: str, key: str, problem: str) -> SweepFileError:
    return SweepFileError(f"{source}: {key}: {problem}")


def mapping(value: Any, source: str, key: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise fail(source, key, f"expected a mapping, got {type(value).__name__} {value!r}")
    return value


def known_keys(entry: Mapping, valid: Sequence[str], source: str, where: str) -> None:
    """Refuse the first key of ``entry`` (at ``where``) that is not in ``valid``."""
    unknown = sorted(set(entry) - set(valid))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise fail(source, key, f"unknown key (valid: {', '.join(valid)})")


def number(value: Any, source: str, key: str, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise fail(source, key, f"expected a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise fail(source, key, f"expected a {'positive' if positive else 'non-negative'} "
                                 f"number, got {value!r}")
    return float(value)


def text(value: Any, source: str, key: str) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value) == "":
        raise fail(source, key, f"expected a non-empty text, got {value!r}")
    return str(value)


def upstream_key(name: Any, source: str, key: str) -> str:
    from emobench.core.registry import UnknownNameError

    try:
        return canonical_upstream(str(name))
    except UnknownNameError as exc:
        raise fail(source, f"{key}.{name}", str(exc)) from None


def display(path: str | Path) -> str:
    """A path as given, or relative to the repository when it lies inside it."""
    resolved = Path(path).resolve()
    return (str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT)
            else str(path))


def read_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise SweepFileError(f"{path}: no such file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SweepFileError(f"{path}: not valid YAML ({exc})") from None


def optional(value: Any, source: str, key: str, kind: type) -> Any:
    if value is None:
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail(source, key, f"expected a non-negative integer or null, got {value!r}")
        return value
    return number(value, source, key)


