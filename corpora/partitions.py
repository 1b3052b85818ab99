"""Partition rules kept as data in partitions/<corpus>.yaml: which unit goes to which split."""

from __future__ import annotations

from typing import Any

import yaml

from emobench.core.errors import UserError
from emobench.core.resources import data_dir

PARTITIONS = data_dir("partitions")


def load(corpus: str) -> dict[str, Any]:
    path = PARTITIONS / f"{corpus}.yaml"
    if not path.is_file():
        raise UserError(f"no partition file {path}")
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def fold_units(condition: dict[str, Any]) -> dict[int, dict[str, list[str]]]:
    """{fold: {train/dev/test: [units]}}; group folds put every other group in train."""
    groups = condition.get("groups")
    folds: dict[int, dict[str, list[str]]] = {}
    for fold, spec in condition["folds"].items():
        if groups is None:
            folds[int(fold)] = {s: [str(u) for u in spec[s]] for s in ("train", "dev", "test")}
            continue
        test, dev = spec["test"], spec["dev"]
        train = [g for g in groups if g not in (test, dev)]
        folds[int(fold)] = {"test": list(groups[test]), "dev": list(groups[dev]),
                            "train": [u for g in train for u in groups[g]]}
    for fold, splits in folds.items():
        seen = [u for units in splits.values() for u in units]
        if len(seen) != len(set(seen)):
            raise UserError(f"partition fold {fold}: a unit is in two splits: {splits}")
    return folds


def unit_of(spec: dict[str, Any], file_name: str, speaker: str | None = None) -> str | None:
    """The partition unit (session, dyad, speaker group member) of a file, by the partition
    file's ``unit_regex`` (a regex with a named group ``unit``, searched in the FileName);
    without one, the speaker; None when neither gives it.

    >>> unit_of({"unit_regex": r"Ses(?P<unit>\\d+)"}, "Ses03F_impro01_F000.wav")
    '03'
    >>> unit_of({}, "a.wav", "1001")
    '1001'
    """
    import re

    pattern = spec.get("unit_regex")
    if pattern:
        match = re.search(pattern, file_name)
        return match.group("unit") if match else None
    return speaker


def fold_frames(base, rule: dict[str, Any], where: str, unit_name: str = "speakers",
                split_names: dict[str, str] | None = None) -> dict[int, Any]:
    """``{fold: base with its Split_Set}`` for every fold of a partition ``rule``, assigning
    rows by their ``SpkrID`` unit; refuses a unit in no split and fold row counts that differ
    from the rule's ``expected_rows``. ``where`` names the partition in the errors."""
    names = split_names or {"train": "Train", "dev": "Development", "test": "Test"}
    expected = rule.get("expected_rows", {})
    frames = {}
    for fold, units in fold_units(rule).items():
        split_of = {u: names[s] for s, us in units.items() for u in us}
        frame = base.assign(Split_Set=base["SpkrID"].map(split_of))
        missing = sorted(set(frame.loc[frame["Split_Set"].isna(), "SpkrID"]))
        if missing:
            raise UserError(f"{where} fold {fold}: {unit_name} {missing} are in no split")
        counts = frame["Split_Set"].value_counts()
        got = {s: int(counts.get(names[s], 0)) for s in names}
        if fold in expected and got != expected[fold]:
            raise UserError(f"{where} fold {fold}: {got} rows per split, the partition file "
                            f"expects {expected[fold]}")
        frames[fold] = frame
    return frames
