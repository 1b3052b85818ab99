"""SERAB's seeded speaker-independent split: which speaker (or session) goes to which split.

The rule, exactly as SERAB's dataset builders apply it (they copy TensorFlow Datasets' SAVEE
builder), for ``n`` distinct unit ids (speakers; IEMOCAP: sessions), fractions
``(p_train, p_dev, p_test)`` and a seed:

1. sort the unit ids as strings (Python's order: ``"03" < "10" < "F01" < "M01" < "f1"``);
2. shuffle that list in place with ``numpy.random.RandomState(seed).shuffle`` (seed 0 in SERAB);
3. train = the first ``int(p_train * n)`` ids, dev = the ids up to ``int((p_train + p_dev) * n)``
   (the sum taken in floating point, as written), test = the rest.

Deterministic given the seed and the set of ids (their order of appearance does not matter).
``RandomState`` is numpy's frozen legacy generator, so the permutation does not change with the
numpy version.

>>> emodb = ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
>>> seeded_split(emodb)
{'train': ['09', '15', '11', '16', '08', '13'], 'dev': ['14', '10'], 'test': ['03', '12']}
>>> boundaries(91, (0.7, 0.1, 0.2))  # CREMA-D: 63 / 9 / 19 actors
[0, 63, 72, 91]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from emobench.core.errors import UserError

SPLITS = ("train", "dev", "test")
SERAB_FRACTIONS = (0.6, 0.2, 0.2)
SERAB_SEED = 0


def boundaries(n: int, fractions: Sequence[float] = SERAB_FRACTIONS) -> list[int]:
    """Cut points ``[0, end_train, end_dev, n]`` of ``n`` shuffled units.

    >>> boundaries(10)
    [0, 6, 8, 10]
    >>> boundaries(4)  # SAVEE
    [0, 2, 3, 4]
    """
    if len(fractions) != len(SPLITS) or any(p <= 0 for p in fractions) \
            or abs(sum(fractions) - 1.0) > 1e-8:
        raise UserError(f"split fractions must be three positive numbers summing to 1 "
                        f"(train, dev, test), got {tuple(fractions)}")
    cuts, total = [0], 0.0
    for p in fractions[:-1]:
        total += p
        cuts.append(int(total * n))
    return cuts + [n]


def seeded_split(units: Iterable[str], fractions: Sequence[float] = SERAB_FRACTIONS,
                 seed: int = SERAB_SEED) -> dict[str, list[str]]:
    """``{"train": [...], "dev": [...], "test": [...]}``: the units of each split, in shuffled
    order; refuses a split that would be empty (too few units for the fractions)."""
    order = sorted({str(u) for u in units})
    np.random.RandomState(seed).shuffle(order)
    cuts = boundaries(len(order), fractions)
    parts = {split: order[cuts[k]:cuts[k + 1]] for k, split in enumerate(SPLITS)}
    empty = [split for split, part in parts.items() if not part]
    if empty:
        raise UserError(f"{len(order)} units cannot be split {tuple(fractions)}: split(s) "
                        f"{empty} would be empty")
    return parts


def split_of(parts: dict[str, list[str]]) -> dict[str, str]:
    """{unit: split} from :func:`seeded_split`'s result.

    >>> split_of({"train": ["a", "b"], "dev": ["c"], "test": ["d"]})["c"]
    'dev'
    """
    return {unit: split for split, units in parts.items() for unit in units}
