"""Intervals and paired tests over several runs of one system: the folds of a condition (each with
one or more seeds), from their ``bootstrap_units.npz`` (downstream/intervals.py).

The statistic is the one the aggregate reports: the mean over folds of the metric (averaged over
the fold's seeds first). One resample draws, independently in every fold, that fold's speakers
(utterances where speakers are unknown) with replacement; all seeds of a fold and both systems of
a paired test see the same draw (the fold's position seeds it), so seed and system differences
are not resampled noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emobench.core.bootstrap import FEW_SPEAKERS, Units, interval_record, paired_test
from emobench.core.errors import UserError
from emobench.downstream.intervals import FILE, Settings, SplitUnits, draw, read_units

NOTE = ("percentile bootstrap of the fold-mean metric: speakers (else utterances) resampled "
        "within each fold's test split, the same draw for every seed of the fold")


@dataclass
class Pooled:
    """Per fold, its runs (seeds) on one split, each aligned to the fold's first run's ids."""

    folds: list[list[SplitUnits]]
    where: list[str]

    def units(self) -> list[Units]:
        return [runs[0].units() for runs in self.folds]

    def ids(self) -> list[list[str]]:
        return [runs[0].ids for runs in self.folds]


def load(groups: Sequence[Sequence[Path]], split: str = "test",
         ids: Sequence[Sequence[str]] | None = None) -> Pooled:
    """The units of every run folder (``groups``: per fold, its seeds' folders); ``ids``: align
    every fold to these utterance ids (a paired test's reference; a differing set is an error)."""
    folds, where = [], []
    for i, group in enumerate(groups):
        runs = []
        for folder in group:
            units = read_units(Path(folder) / FILE)
            if split not in units:
                raise UserError(f"{Path(folder) / FILE} has no {split} split "
                                f"(it has {', '.join(units) or 'none'})")
            order = ids[i] if ids is not None else (runs[0].ids if runs else units[split].ids)
            runs.append(units[split].aligned(order, str(folder)))
            if runs[0].truth_sha256 != runs[-1].truth_sha256:
                raise UserError(f"{folder}: the {split} labels differ from {group[0]}'s "
                                "(another label file?): runs can be compared only on the same "
                                "truth")
        folds.append(runs)
        where.append(str(group[0]))
    return Pooled(folds, where)


def fold_mean_values(pooled: Pooled, settings: Settings, units: list[Units] | None = None,
                     observed: bool = False) -> dict[str, np.ndarray]:
    """Every metric's fold mean on every resample (``observed``: on the full sample, B = 1),
    for the metrics every run has."""
    units = units or pooled.units()
    per_fold: list[dict[str, np.ndarray]] = []
    for i, (runs, u) in enumerate(zip(pooled.folds, units)):
        w = np.ones((1, len(u.index))) if observed else draw(u, settings, stream=i)
        values = [run.values(w) for run in runs]
        keys = set.intersection(*(set(v) for v in values))
        per_fold.append({k: np.mean([v[k] for v in values], axis=0) for k in keys})
    keys = set.intersection(*(set(v) for v in per_fold))
    first = pooled.folds[0][0]
    return {k: np.mean([v[k] for v in per_fold], axis=0)
            for k in [*first.rows, *first.combiners] if k in keys}


def _unit(units: list[Units]) -> tuple[str, int]:
    unit = "speaker" if all(u.unit == "speaker" for u in units) else "utterance"
    return unit, sum(u.clusters for u in units)


def intervals(groups: Sequence[Sequence[Path]], settings: Settings = Settings(),
              splits: Sequence[str] = ("test",)) -> dict[str, dict[str, Any]]:
    """aggregate.json's ``ci``: ``{split: {metric: interval}}`` of the fold-mean metrics."""
    out: dict[str, dict[str, Any]] = {}
    for split in splits:
        pooled = load(groups, split)
        units = pooled.units()
        unit, clusters = _unit(units)
        note = NOTE + ("" if unit == "speaker" else
                       "; some folds have no speakers: utterances resampled there")
        fewest = min(u.clusters for u in units)
        if unit == "speaker" and fewest < FEW_SPEAKERS:
            note += (f"; as few as {fewest} speakers in a fold: with few clusters the interval "
                     "is approximate")
        out[split] = {k: {**interval_record(v, unit, settings.resamples, settings.seed,
                                            settings.level, clusters), "note": note}
                      for k, v in fold_mean_values(pooled, settings, units).items()}
    return out


def compare(a: Pooled, b: Pooled, settings: Settings = Settings()) -> dict[str, dict[str, Any]]:
    """Per metric (those both have): A's and B's fold-mean value and the paired bootstrap test
    of A - B, on the same resamples (A's speakers)."""
    if len(a.folds) != len(b.folds):
        raise UserError(f"{len(a.folds)} folds ({a.where[0]}) vs {len(b.folds)} "
                        f"({b.where[0]}): runs can be compared only on the same test sets")
    for i, (fa, fb) in enumerate(zip(a.folds, b.folds)):
        if fa[0].truth_sha256 != fb[0].truth_sha256:
            raise UserError(f"{a.where[i]} and {b.where[i]} have different test labels "
                            "(another label file?): runs can be compared only on the same truth")
    units = a.units()
    value_a = fold_mean_values(a, settings, units, observed=True)
    value_b = fold_mean_values(b, settings, units, observed=True)
    draws_a = fold_mean_values(a, settings, units)
    draws_b = fold_mean_values(b, settings, units)
    unit, clusters = _unit(units)
    out = {}
    for key in [k for k in draws_a if k in draws_b]:
        va, vb = float(value_a[key][0]), float(value_b[key][0])
        out[key] = {"a": va, "b": vb, **paired_test(draws_a[key], draws_b[key], va - vb,
                                                    settings.level),
                    "unit": unit, "clusters": clusters, "resamples": settings.resamples,
                    "seed": settings.seed}
    return out


def attach(summary: dict[str, Any], groups: Sequence[Sequence[Path]],
           settings: Settings = Settings()) -> dict[str, Any]:
    """Add ``ci`` (and ``main.ci``) and ``provenance`` to an aggregate of the runs in
    ``groups``. Runs without a units file (scored before intervals existed) get no interval: the
    aggregate says so instead of failing."""
    import json

    from emobench.core.experiment import LOG
    from emobench.core.provenance import of_runs

    blocks = []
    for folder in (f for group in groups for f in group):
        try:
            found = json.loads((Path(folder) / "scores.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if "provenance" in found:
            blocks.append(found["provenance"])
        if "higher_is_better" in found.get("main_metric", {}):
            summary["main"]["higher_is_better"] = found["main_metric"]["higher_is_better"]
    summary["provenance"] = of_runs(blocks, task=summary.get("task"),
                                    corpus=summary.get("corpus"),
                                    condition=summary.get("condition"))
    summary["run_folders"] = [[str(Path(f).absolute()) for f in group] for group in groups]
    split = summary["main"]["split"]
    try:
        summary["ci"] = intervals(groups, settings, (split,))
    except UserError as exc:
        LOG.warning("no bootstrap interval for the aggregate: %s", exc)
        summary.setdefault("notes", {})["ci"] = f"none: {exc}"
        return summary
    if summary["main"]["name"] in summary["ci"][split]:
        summary["main"]["ci"] = summary["ci"][split][summary["main"]["name"]]
    return summary


def attach_seeds(summary: dict[str, Any], folders: Sequence[Path],
                 settings: Settings = Settings()) -> dict[str, Any]:
    """seeds.json's ``ci``: the intervals of the seed-mean metrics of every split the runs
    scored (one group: all seeds resampled on the same draw); none, with the reason, for runs
    without a units file."""
    from emobench.core.experiment import LOG

    try:
        splits = list(read_units(Path(folders[0]) / FILE))
        summary["ci"] = intervals([list(folders)], settings, splits)
    except UserError as exc:
        LOG.warning("no bootstrap interval for the seeds: %s", exc)
        summary.setdefault("notes", {})["ci"] = f"none: {exc}"
    return summary
