"""The rows of a sweep's table: what each upstream entry runs, and the hybrid rows.

An upstream entry is one row. Its input is one upstream or several (early fusion, ``-u a,b
-k x,y``), each a :class:`Component`: the upstream's canonical name, its checkpoint and whether
its features are normalised. Three ways to write an entry::

    - wavlm                                             # the row is the upstream (wavlm_large)
    - {name: raw_er, upstream: raw_cnn, ckpt: er.ckpt}   # a row named apart from its upstream
    - fbank_no_cmvn,egemaps                              # early fusion: row fbank_no_cmvn+egemaps
    - {name: raw_er+zff_er, fuse: [raw_er, zff_er]}     # early fusion of entries of the sweep
    - {name: mix, upstream: "raw_cnn,fbank_no_cmvn", ckpt: "er.ckpt,"}   # -u and -k as typed

Extraction is grouped by component, not by row: every row that reads ``raw_cnn`` with the same
checkpoint (alone or in a fusion) waits for the same extraction jobs, which are named after the
first single-upstream row with that component (else after the upstream).

>>> from emobench.orchestration.sweep.spec import UpstreamEntry
>>> found = resolve([UpstreamEntry("fbank_no_cmvn"), UpstreamEntry("er", upstream="raw_cnn",
...                  ckpt="er.ckpt"), UpstreamEntry("both", fuse=["er", "fbank_no_cmvn"])],
...                 canonical=str)
>>> found["both"].args()
['-u', 'raw_cnn,fbank_no_cmvn', '-k', 'er.ckpt,']
>>> found["both"].kind, [extraction_label(c, found) for c in found["both"].components]
('early fusion', ['er', 'fbank_no_cmvn'])
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, Callable

from emobench.core.config import ConfigError
from emobench.orchestration.sweep.spec import HybridEntry, UpstreamEntry

HYBRID = "hybrid"
EARLY_FUSION = "early fusion"
SINGLE = "upstream"


@dataclass(frozen=True)
class Component:
    """One upstream of a row's input: what its feature cache entry depends on."""

    upstream: str
    ckpt: str | None = None
    normalize: bool = False

    def args(self) -> list[str]:
        return ["-u", self.upstream, *(["-k", self.ckpt] if self.ckpt else []),
                *(["--upstream_feature_normalize"] if self.normalize else [])]


@dataclass
class Row:
    entry: UpstreamEntry
    components: list[Component]
    name: str  # the table row and run folder
    @property
    def kind(self) -> str:
        return EARLY_FUSION if len(self.components) > 1 else SINGLE

    def args(self) -> list[str]:
        """``-u``, ``-k`` and the normalisation flag of the row's training commands."""
        if len(self.components) == 1:
            return self.components[0].args()
        ckpts = [c.ckpt or "" for c in self.components]
        return ["-u", ",".join(c.upstream for c in self.components),
                *(["-k", ",".join(ckpts)] if any(ckpts) else []),
                *(["--upstream_feature_normalize"] if self.components[0].normalize else [])]

    def identity(self) -> dict[str, Any]:
        """What the run's hash knows of the row (a single upstream named by its row: the
        entry's fields as before rows had components, so earlier sweeps' runs stay finished)."""
        e = self.entry
        found = {"name": self.name, "ckpt": e.ckpt, "normalize": e.normalize,
                 "overrides": list(e.overrides)}
        if e.upstream or e.fuse or self.kind != SINGLE:
            found["components"] = [asdict(c) for c in self.components]
        return found

    def note(self) -> str | None:
        if self.kind == SINGLE:
            return None
        return "early fusion of " + " + ".join(c.upstream for c in self.components)


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",")]


def resolve(entries: list[UpstreamEntry], canonical: Callable[[str], str]) -> dict[str, Row]:
    """Every entry's row, by the name it has in the sweep file; the row of a plain entry (its
    name is the upstream or a comma list of them) is named by the canonical name(s), joined
    by ``+``."""
    rows: dict[str, Row] = {}
    for entry in entries:
        if entry.fuse:
            continue
        names = _split(entry.upstream or entry.name)
        ckpts = _split(entry.ckpt) if entry.ckpt is not None and len(names) > 1 \
            else [entry.ckpt] * len(names)
        if len(ckpts) != len(names) or not all(names):
            raise ConfigError(f"upstream entry {entry.name!r}: {len(names)} upstreams "
                              f"{names} but {len(ckpts)} checkpoints in ckpt {entry.ckpt!r} "
                              "(a matching comma list; an empty item for none)")
        components = [Component(canonical(n), c or None, entry.normalize)
                      for n, c in zip(names, ckpts)]
        plain = entry.upstream is None  # the name is the upstream(s): canonical, joined by +
        rows[entry.name] = Row(entry, components, "+".join(c.upstream for c in components)
                               if plain else entry.name)
    for entry in entries:
        if entry.fuse:
            components = [c for name in entry.fuse for c in rows[name].components]
            if len({c.normalize for c in components}) > 1:
                raise ConfigError(f"upstream entry {entry.name!r}: the fused entries differ in "
                                  "'normalize' (one flag serves every upstream of a run)")
            rows[entry.name] = Row(entry, components, entry.name)
    return {e.name: rows[e.name] for e in entries}  # in the sweep file's order


def extraction_label(component: Component, rows: dict[str, Row]) -> str:
    """The name of a component's extraction jobs: the first single-upstream row reading it,
    else the upstream (with a short hash of its checkpoint, a ``_normalized`` suffix)."""
    for row in rows.values():
        if row.components == [component]:
            return row.name
    return (component.upstream + (f"@{hashlib.sha256(component.ckpt.encode()).hexdigest()[:8]}" if component.ckpt else "")
            + ("_normalized" if component.normalize else ""))


def hybrid_command(hybrid: HybridEntry, expdirs: dict[str, str], run_dir: str) -> list[str]:
    """The ``-m fuse`` command of one hybrid run from its sources' run folders (by entry)."""
    for folder in expdirs.values():
        if "," in folder or "=" in folder:
            raise ConfigError(f"hybrid {hybrid.name!r}: the run folder {folder} holds ',' or "
                              "'=', which -m fuse --from cannot take: choose another output")
    if hybrid.sources:
        given = ",".join(f"{t}={expdirs[e]}" for t, e in hybrid.sources.items())
        return ["-m", "fuse", "--from", given, "-p", run_dir]
    return ["-m", "fuse", "--from", "auto", "-e", ",".join(expdirs[e] for e in hybrid.auto),
            "-p", run_dir]


def hybrid_note(hybrid: HybridEntry, names: dict[str, str]) -> str:
    """In words, for the table: ``emotion, age from raw_er; country from raw_cr``."""
    if hybrid.auto:
        return "per target the best on validation of " + ", ".join(names[e] for e in hybrid.auto)
    by_source: dict[str, list[str]] = {}
    for target, entry in hybrid.sources.items():
        by_source.setdefault(names[entry], []).append(target)
    return "; ".join(f"{', '.join(t)} from {s}" for s, t in by_source.items())


def check_hybrid(hybrid: HybridEntry, config: Any, module: Any, condition: str) -> None:
    """The condition's task can be fused and an explicit hybrid names each of its targets."""
    from emobench.downstream.multitask.config import MultitaskConfig

    if not issubclass(module.CONFIG, MultitaskConfig):
        raise ConfigError(f"hybrid {hybrid.name!r}: condition {condition!r} is not a multitask "
                          "or exvo_mtl task (-m fuse combines those)")
    if hybrid.sources:
        targets = {t.name for t in config.targets}
        if set(hybrid.sources) != targets:
            raise ConfigError(f"hybrid {hybrid.name!r}: 'from' names the targets "
                              f"{sorted(hybrid.sources)}, condition {condition!r} has "
                              f"{sorted(targets)} (one source for each)")
