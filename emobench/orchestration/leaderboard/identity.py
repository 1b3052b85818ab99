"""Which checkpoint a table row was made with: its runs' ``scores.json`` name the checkpoint
file, its sha256 and the shapes the loaded upstream measured; a row is never identified by the
upstream's name alone.

A checkpoint is flagged ``tiny`` when the measured shapes (hidden states, dimension) differ from
the published model's (the registry's facts): a test-size random checkpoint given with ``-k`` is
then never shown as the 317 M model it is named after. Runs written before the shapes were
recorded fall back on the number of layer weights. ``mixed``: the runs of one cell do not share
one checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

RUN_PATTERNS = ("scores.json", "fold*/scores.json", "fold*/seed*/scores.json", "seed*/scores.json")


@dataclass(frozen=True)
class Checkpoint:
    """The checkpoint identity of one cell (or one row: the union of its cells)."""

    sha256: str | None  # "+"-joined for early fusion; None: no run found
    path: str | None
    flags: tuple[str, ...] = ()
    params_m: float | None = None  # measured on the loaded upstream, when recorded

    @property
    def short(self) -> str:
        """The first 12 hex digits of every part (``+``-joined), or ``unknown``.

        >>> Checkpoint("ab" * 32, None).short, Checkpoint(None, None).short
        ('abababababab', 'unknown')
        """
        if not self.sha256:
            return "unknown"
        return "+".join(part[:12] if part else "none" for part in self.sha256.split("+"))

    def label(self) -> str:
        """``abababababab (tiny)``: the short hash and the flags.

        >>> Checkpoint("ab" * 32, None, ("tiny",)).label()
        'abababababab (tiny)'
        >>> Checkpoint(None, None, ("unknown",)).label()
        'unknown'
        """
        flags = [f for f in self.flags if f != "unknown" or self.sha256]
        return self.short + (f" ({', '.join(flags)})" if flags else "")

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "short": self.short, "path": self.path,
                "flags": list(self.flags), "params_m": self.params_m}


def run_files(aggregate_path: str | Path) -> list[Path]:
    """The ``scores.json`` of the runs of a cell: its folder's fold/seed runs (``--folds``,
    ``--seeds`` and sweeps lay them out so), not the evaluations under ``evaluate_*``."""
    folder = Path(aggregate_path).parent
    found = {p for pattern in RUN_PATTERNS[1:] for p in folder.glob(pattern)}
    return sorted(found)


def read_runs(aggregate_path: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """``(run folder, scores)`` of every readable run of a cell (unreadable ones are skipped:
    the aggregate, not this, is the cell's value)."""
    out = []
    for path in run_files(aggregate_path):
        try:
            out.append((path.parent, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return out


def _published(name: str) -> Any:
    from emobench.upstream import upstream_info

    try:
        return upstream_info(name)
    except Exception:  # a name from another toolkit version, a named row: nothing to compare
        return None


def _tiny(record: dict[str, Any], layers: int | None) -> bool:
    """The measured shapes differ from the published model's (see the module)."""
    info = _published(record.get("name", ""))
    if info is None:
        return False
    measured = record.get("measured") or {}
    if "hidden_states" in measured or "dim" in measured:
        return (measured.get("hidden_states", info.hidden_states) != info.hidden_states
                or measured.get("dim", info.dim) != info.dim)
    return layers is not None and layers != info.hidden_states


def _records(scores: dict[str, Any]) -> list[dict[str, Any]]:
    return list(scores.get("upstreams") or [scores.get("upstream") or {}])


def of_runs(runs: Iterable[tuple[Path, dict[str, Any]]],
            layer_counts: Iterable[int | None] = ()) -> Checkpoint:
    """The identity shared by ``runs`` (scores dicts); ``layer_counts``: per run, the number
    of layer weights (for runs that recorded no measured shapes)."""
    runs = list(runs)
    counts = list(layer_counts) or [None] * len(runs)
    if not runs:
        return Checkpoint(None, None, ("unknown",))
    identities, flags, params = set(), [], []
    for (_, scores), layers in zip(runs, counts):
        records = _records(scores)
        identities.add(("+".join(r.get("checkpoint_sha256") or "" for r in records),
                        "+".join(str(r.get("checkpoint") or "") for r in records)))
        if any(_tiny(r, layers if len(records) == 1 else None) for r in records):
            flags.append("tiny")
        measured = [(r.get("measured") or {}).get("params_m") for r in records]
        params.append(None if None in measured else float(sum(measured)))
    (sha, path), *others = sorted(identities)
    found = []
    if others:
        found.append("mixed")
    if flags:
        found.append("tiny")
    if not sha.strip("+"):
        found.append("unknown")
    size = params[0] if len(set(params)) == 1 else None
    return Checkpoint(sha or None, path or None, tuple(found), size)


def of_row(cells: Iterable[Checkpoint]) -> Checkpoint:
    """A row's identity: its cells' when they agree, else the first with ``mixed``."""
    cells = list(cells)
    if not cells:
        return Checkpoint(None, None, ("unknown",))
    shas = {c.sha256 for c in cells}
    flags = tuple(dict.fromkeys(f for c in cells for f in c.flags))
    if len(shas) > 1 and "mixed" not in flags:
        flags += ("mixed",)
    return Checkpoint(cells[0].sha256, cells[0].path, flags, cells[0].params_m)
