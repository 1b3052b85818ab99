"""The ``provenance`` block of every results JSON (scores.json, aggregate.json, table.json): what
a row is and how to trace it (MTEB-style): toolkit version and git commit, the upstream
checkpoints' sha256 (the cache's hashes, taken from the result's upstream records), the label
files' sha256, task, corpus, condition, fold, seed and the UTC date it was written.

>>> r = {"task": "emotion", "corpus": "c", "condition": "P", "fold": 1, "seed": 3,
...      "upstream": {"name": "u", "checkpoint_sha256": None}}
>>> b = of_scores(r, [], commit="abc")
>>> b["git_commit"], b["checkpoints"], b["label_files"], b["fold"]
('abc', [{'name': 'u', 'sha256': None}], {}, 1)
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import emobench
from emobench.core.io import sha256_file

_UNSET = object()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def toolkit(commit: Any = _UNSET) -> dict[str, Any]:
    """Version and git commit (None outside a checkout or without git: never an error)."""
    if commit is _UNSET:
        try:
            from emobench.core.experiment import git_commit

            commit = git_commit()
        except Exception:  # a results JSON is never lost to a missing git
            commit = None
    return {"toolkit_version": emobench.__version__, "git_commit": commit, "date_utc": utc_now()}


def label_hashes(paths: Iterable[str | Path]) -> dict[str, str]:
    """sha256 of every existing label file, by path (a path that is not a file is left out)."""
    return {str(Path(p)): sha256_file(Path(p)) for p in paths if p and Path(p).is_file()}


def checkpoints(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every upstream's (name, sha256): the fused upstreams when there are several."""
    records = result.get("upstreams") or [result["upstream"]]
    return [{"name": r.get("name"), "sha256": r.get("checkpoint_sha256")} for r in records]


def of_scores(result: dict[str, Any], label_files: Sequence[str | Path],
              commit: Any = _UNSET) -> dict[str, Any]:
    """The block of one run's scores.json (``result``: the scores.json dict being written)."""
    return {**toolkit(commit), "task": result["task"], "corpus": result["corpus"],
            "condition": result.get("condition"), "fold": result.get("fold"),
            "seed": result.get("seed"), "checkpoints": checkpoints(result),
            "label_files": label_hashes(label_files)}


def of_runs(blocks: Sequence[dict[str, Any]], **identity: Any) -> dict[str, Any]:
    """The block of an aggregate or a table over runs: their checkpoints and label files
    (union, each once), their folds and seeds, and this file's own toolkit and date.

    >>> a = {"checkpoints": [{"name": "u", "sha256": "x"}], "label_files": {"f": "1"},
    ...      "fold": 1, "seed": 1}
    >>> b = {**a, "fold": 2, "label_files": {"g": "2"}}
    >>> p = of_runs([a, b], task="emotion", commit="c")
    >>> p["folds"], p["seeds"], p["checkpoints"], sorted(p["label_files"])
    ([1, 2], [1], [{'name': 'u', 'sha256': 'x'}], ['f', 'g'])
    """
    commit = identity.pop("commit", _UNSET)
    found: list[dict[str, Any]] = []
    labels: dict[str, str] = {}
    for b in blocks:
        for c in b.get("checkpoints", []):
            if c not in found:
                found.append(c)
        labels.update(b.get("label_files", {}))
    folds = sorted({f for b in blocks for f in [b.get("fold"), *b.get("folds", [])]
                    if f is not None}, key=str)
    seeds = sorted({s for b in blocks for s in [b.get("seed"), *b.get("seeds", [])]
                    if s is not None})
    return {**toolkit(commit), **identity, "folds": folds, "seeds": seeds,
            "checkpoints": found, "label_files": labels, "merged": len(blocks)}
