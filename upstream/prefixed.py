"""A registry that also knows ``<prefix>:<argument>`` names (``hf:facebook/wav2vec2-base``,
``hf:/models/my_wavlm``): a family registers the prefix with a resolver that turns the argument
into the canonical name and its :class:`UpstreamInfo`; the family module builds it as usual.

>>> reg = PrefixedRegistry("upstream")
>>> reg.register_prefix("up", "math", "emobench.upstream.prefixed:echo")
>>> reg.canonical("up:x"), reg.entry("up:x").meta["info"], "up:y" in reg, "down:y" in reg
('up:x', 'x', True, False)
"""

from __future__ import annotations

from typing import Any

from emobench.core.registry import Entry, Registry, load_target


def echo(argument: str) -> tuple[str, Any]:
    """A resolver for the doctest: ``up:x`` -> (``up:x``, ``x``)."""
    return f"up:{argument}", argument


class PrefixedRegistry(Registry):
    """:class:`Registry` plus prefixed names resolved by ``"module:function"`` resolvers."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self._prefixes: dict[str, tuple[str, str]] = {}
        self._resolved: dict[str, Entry] = {}

    def register_prefix(self, prefix: str, target: str, resolver: str) -> None:
        self._prefixes[prefix] = (target, resolver)

    def prefixes(self) -> list[str]:
        return list(self._prefixes)

    def _prefixed(self, name: str) -> Entry | None:
        prefix, sep, argument = name.partition(":")
        if not sep or prefix not in self._prefixes:
            return None
        if name not in self._resolved:
            target, resolver = self._prefixes[prefix]
            canonical, info = load_target(resolver)(argument)
            entry = Entry(canonical, target, {"info": info})
            self._resolved[name] = self._resolved[canonical] = entry
        return self._resolved[name]

    def canonical(self, name: str) -> str:
        entry = self._prefixed(name)
        return entry.name if entry is not None else super().canonical(name)

    def entry(self, name: str) -> Entry:
        entry = self._prefixed(name)
        return entry if entry is not None else super().entry(name)

    def __contains__(self, name: str) -> bool:
        return name.partition(":")[0] in self._prefixes or super().__contains__(name)
