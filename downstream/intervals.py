"""Bootstrap intervals of a run's test scores (docs/statistics.md), and the file that keeps what
they need: ``bootstrap_units.npz``, per split the utterance ids, speakers and every metric's
per-utterance statistics (emobench.core.resampled_metrics), so that intervals over folds and
paired comparisons (``-m compare``, the report's significance marks) are computed later from the
folders alone, with the same resamples for every system.

Also the ``ceiling`` of a split (classes absent from its truth, the macro-F1 a perfect predictor
gets) and the log's warning about it.
"""

from __future__ import annotations

import hashlib
import io as _io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emobench.core import io
from emobench.core import resampled_metrics as rm
from emobench.core.bootstrap import (DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, Units,
                                     interval_record, resample_indices, weights)
from emobench.core.errors import UserError
from emobench.core.experiment import LOG
from emobench.downstream.multitask.metrics import COMBINERS

FILE = "bootstrap_units.npz"
FORMAT = "emobench-bootstrap-units-1"


@dataclass(frozen=True)
class Settings:
    """How intervals are drawn: the same defaults everywhere, so runs are resampled alike."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    level: float = DEFAULT_LEVEL


@dataclass
class SplitUnits:
    """One scored split: what the bootstrap resamples and every metric's statistics."""

    ids: list[str]
    speakers: list[str | None] | None
    rows: dict[str, tuple[str, np.ndarray]]  # metric key -> (resampled metric, (N, D) rows)
    combiners: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    truth_sha256: str = ""  # of the truths: two runs compared must share them

    def units(self) -> Units:
        return Units.of(self.speakers, len(self.ids))

    def values(self, w: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric (and combined score) on every resample of utterance weights ``w``."""
        out = {key: rm.resampled(name, rows, w) for key, (name, rows) in self.rows.items()}
        for key, (name, args) in self.combiners.items():
            if all(a in out for a in args):
                combine = COMBINERS.get(name)
                columns = np.stack([out[a] for a in args], axis=1)
                out[key] = np.array([np.nan if np.isnan(c).any() else combine(list(c))
                                     for c in columns])
        return out

    def aligned(self, ids: Sequence[str], where: str) -> "SplitUnits":
        """The same split with its rows in the order of ``ids`` (the same set, else an error)."""
        if len(set(self.ids)) != len(self.ids):
            raise UserError(f"{where}: duplicate utterance ids in the test split")
        if set(ids) != set(self.ids):
            only = sorted(set(self.ids) - set(ids))[:3], sorted(set(ids) - set(self.ids))[:3]
            raise UserError(f"{where}: the test utterances differ ({len(self.ids)} vs {len(ids)}; "
                            f"only here e.g. {only[0]}, only in the other e.g. {only[1]}): "
                            "runs can be compared only on the same test set")
        position = {n: i for i, n in enumerate(self.ids)}
        order = np.array([position[n] for n in ids], dtype=np.int64)
        speakers = None if self.speakers is None else [self.speakers[i] for i in order]
        return SplitUnits(list(ids), speakers, {k: (n, r[order]) for k, (n, r) in self.rows.items()},
                          dict(self.combiners), self.truth_sha256)


def truth_hash(ids: Sequence[str], *arrays: np.ndarray) -> str:
    """sha256 of the truths (rows of ``arrays``, one per id) in the order of the sorted ids, so
    the same labels in another row order hash alike.

    >>> truth_hash(["b", "a"], np.eye(2)) == truth_hash(["a", "b"], np.eye(2)[::-1])
    True
    """
    order = np.argsort(np.asarray(ids, dtype=str), kind="stable")
    digest = hashlib.sha256()
    for a in arrays:
        rows = np.round(np.asarray(a, np.float64), 9)[order]
        digest.update(np.ascontiguousarray(rows).tobytes())
    return digest.hexdigest()


def draw(units: Units, settings: Settings, stream: int | None = None) -> np.ndarray:
    """Utterance weights ``(B, N)``; ``stream``: the fold's position (own, reproducible draws)."""
    seed = settings.seed if stream is None else [settings.seed, stream]
    return weights(resample_indices(units.clusters, settings.resamples, seed), units.index)


def split_intervals(split: SplitUnits, settings: Settings = Settings()) -> dict[str, dict]:
    """``ci`` of every metric of one split (scores.json)."""
    units = split.units()
    values = split.values(draw(units, settings))
    return {k: {**interval_record(v, units, settings.resamples, settings.seed, settings.level),
                **({"note": units.note} if units.note else {})} for k, v in values.items()}


def write_units(path: Path, splits: dict[str, SplitUnits]) -> Path:
    meta: dict[str, Any] = {"format": FORMAT, "splits": {}}
    arrays: dict[str, np.ndarray] = {}
    for s, split in splits.items():
        meta["splits"][s] = {"metrics": {k: n for k, (n, _) in split.rows.items()},
                             "combiners": {k: {"combine": c, "of": a}
                                           for k, (c, a) in split.combiners.items()},
                             "speakers_known": split.speakers is not None,
                             "truth_sha256": split.truth_sha256}
        arrays[f"{s}.ids"] = np.asarray(split.ids, dtype=str)
        if split.speakers is not None:
            arrays[f"{s}.speakers"] = np.asarray(["" if x is None else str(x)
                                                  for x in split.speakers], dtype=str)
        for i, (_, rows) in enumerate(split.rows.values()):
            arrays[f"{s}.rows{i}"] = np.asarray(rows, dtype=np.float64)
    arrays["meta"] = np.asarray(json.dumps(meta))
    buffer = _io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return io.write_bytes(path, buffer.getvalue())


def read_units(path: Path) -> dict[str, SplitUnits]:
    """A ``bootstrap_units.npz``; a missing or malformed file is a UserError naming it."""
    if not path.is_file():
        raise UserError(f"{path} does not exist: runs scored before bootstrap intervals existed "
                        "write it when re-scored: -m evaluate -e <run>/dev-best.ckpt, then use "
                        "<run>/evaluate_dev-best")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
            out = {}
            for s, m in meta["splits"].items():
                speakers = None
                if m["speakers_known"]:
                    speakers = [x or None for x in data[f"{s}.speakers"].tolist()]
                rows = {k: (n, data[f"{s}.rows{i}"]) for i, (k, n) in enumerate(m["metrics"].items())}
                out[s] = SplitUnits([str(x) for x in data[f"{s}.ids"]], speakers, rows,
                                    {k: (c["combine"], list(c["of"]))
                                     for k, c in m["combiners"].items()}, m["truth_sha256"])
            return out
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise UserError(f"{path} is not a readable bootstrap units file ({exc})") from None


def ceiling(classes: Sequence[str], positives: np.ndarray, perfect: dict[str, float],
            split: str, where: str = "") -> dict[str, Any]:
    """The ``ceiling`` of a split: the classes no utterance has in its truth (``positives``: per
    class count) and what a perfect predictor scores (absent classes count as F1 = 0); the log
    warns when a class is absent."""
    absent = [c for c, n in zip(classes, positives) if n == 0]
    record = {"absent_classes": absent, "metrics": {k: float(v) for k, v in perfect.items()}}
    macro = [v for k, v in perfect.items() if k.endswith("macro_f1") and "argmax" not in k
             and "paper" not in k]
    if len(macro) == 1:
        record["perfect_macro_f1"] = float(macro[0])
    if absent:
        LOG.warning("%s%s: %d of %d classes absent from the truth (%s): a perfect predictor "
                    "scores %s", where, split, len(absent), len(classes), ", ".join(absent),
                    ", ".join(f"{k} {v:.4f}" for k, v in perfect.items()))
    return record
