"""Name -> object registries with lazy imports and helpful errors.

An entry is registered with a ``"package.module:attribute"`` string, so that importing the
registry imports nothing else: one broken optional dependency breaks only its own entry.

>>> reg = Registry("upstream")
>>> reg.register("fbank", "math:floor", aliases=("FBANK",))
>>> reg.get("FBANK")(2.5)
2
>>> reg.get("fbnak")
Traceback (most recent call last):
...
emobench.core.registry.UnknownNameError: unknown upstream 'fbnak'; did you mean: fbank?
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from emobench.core.errors import UserError


class UnknownNameError(UserError, KeyError):
    """A name that is not registered; the message names the closest valid ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The registered names closest to ``name`` (case-insensitive)."""
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def unknown(kind: str, name: str, candidates: Iterable[str]) -> UnknownNameError:
    candidates = sorted(set(candidates))
    near = closest(name, candidates)
    hint = f"did you mean: {', '.join(near)}?" if near else f"valid names: {', '.join(candidates)}"
    return UnknownNameError(f"unknown {kind} {name!r}; {hint}")


def load_target(target: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split(".") if attribute else ():
        obj = getattr(obj, part)
    return obj


@dataclass
class Entry:
    name: str
    target: str | Callable[..., Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        return load_target(self.target) if isinstance(self.target, str) else self.target


class Registry:
    """Unique canonical names, optional aliases, lazy targets."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, target: str | Callable[..., Any], *,
                 aliases: Iterable[str] = (), **meta: Any) -> None:
        for key in (name, *aliases):
            if key in self._entries or key in self._aliases:
                raise ValueError(f"{self.kind} name {key!r} is registered twice")
        self._entries[name] = Entry(name, target, meta)
        for alias in aliases:
            self._aliases[alias] = name

    def canonical(self, name: str) -> str:
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise unknown(self.kind, name, [*self._entries, *self._aliases])

    def entry(self, name: str) -> Entry:
        return self._entries[self.canonical(name)]

    def get(self, name: str) -> Any:
        return self.entry(name).load()

    def names(self) -> list[str]:
        return list(self._entries)

    def aliases_of(self, name: str) -> list[str]:
        return [a for a, n in self._aliases.items() if n == name]

    def __contains__(self, name: str) -> bool:
        return name in self._entries or name in self._aliases
