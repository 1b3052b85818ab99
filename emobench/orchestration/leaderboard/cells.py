"""What a table cell says, so that it cannot mislead: mean ± std only where there is a spread,
the number of folds (× seeds) it is made of, ``partial`` when it has fewer than its condition
has (or fewer seeds than the others), the confidence interval and the significance mark when
the aggregate carries them (``main.ci``, ``main.significance``: both optional).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MISSING = "–"


def fmt(value: float | None, digits: int = 4) -> str:
    """``0.1235``, or ``–`` for a missing or NaN value.

    >>> fmt(0.12345), fmt(None), fmt(float("nan"))
    ('0.1235', '–', '–')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:.{digits}f}"


@dataclass(frozen=True)
class Cell:
    """One upstream x condition result, as the table shows it."""

    mean: float
    std: float
    runs: int  # folds (fold aggregates) or seeds (seed aggregates)
    unit: str = "folds"  # what ``runs`` counts: "folds" or "seeds"
    seeds: int = 1  # seeds averaged per fold (fold aggregates)
    expected_runs: int | None = None  # what a complete cell of the condition has
    expected_seeds: int | None = None
    best: float | None = None  # the seed best on validation (seed aggregates)
    ci: dict[str, Any] | None = None  # low, high, level, unit, resamples, seed
    mark: str | None = None  # significance mark (legend in the caption)

    @property
    def partial(self) -> bool:
        """Fewer folds (or seeds) than a complete cell has.

        >>> Cell(0.6, 0.1, 2, expected_runs=5).partial, Cell(0.6, 0.1, 5, expected_runs=5).partial
        (True, False)
        """
        return ((self.expected_runs is not None and self.runs < self.expected_runs)
                or (self.expected_seeds is not None and self.seeds < self.expected_seeds))

    def count(self) -> str:
        """``n=5``, ``n=5×3`` (folds × seeds), ``n=2/5`` when partial.

        >>> Cell(0.6, 0.1, 2, expected_runs=5).count(), Cell(0.6, 0.1, 5, seeds=3).count()
        ('n=2/5', 'n=5×3')
        """
        text = f"n={self.runs}"
        if self.expected_runs is not None and self.runs < self.expected_runs:
            text += f"/{self.expected_runs}"
        if self.seeds > 1 or (self.expected_seeds or 1) > 1:
            text += f"×{self.seeds}"
            if self.expected_seeds is not None and self.seeds < self.expected_seeds:
                text += f"/{self.expected_seeds}"
        return text

    def text(self, digits: int = 4) -> str:
        """The mean (with its mark), ``± std`` only over more than one run, the best seed's
        value in brackets, the interval, the count, and ``partial``.

        >>> Cell(0.6111, 0.0, 1).text()
        '0.6111 n=1'
        >>> Cell(0.6111, 0.05, 2, expected_runs=5).text()
        '0.6111 ± 0.0500 n=2/5 partial'
        >>> Cell(0.5, 0.02, 5, mark="*", ci={"low": 0.45, "high": 0.55}).text()
        '0.5000* ± 0.0200 [0.4500, 0.5500] n=5'
        """
        out = fmt(self.mean, digits) + (self.mark or "")
        if self.runs > 1:
            out += f" ± {fmt(self.std, digits)}"
        if self.best is not None:
            out += f" ({fmt(self.best, digits)})"
        if self.ci:
            out += f" [{fmt(self.ci.get('low'), digits)}, {fmt(self.ci.get('high'), digits)}]"
        out += " " + self.count()
        return out + (" partial" if self.partial else "")

    def as_dict(self) -> dict[str, Any]:
        """The cell's fields for table.json (beside ``mean``, ``std``, ``runs``)."""
        out: dict[str, Any] = {"unit": self.unit, "seeds_per_fold": self.seeds,
                               "expected_runs": self.expected_runs,
                               "expected_seeds": self.expected_seeds,
                               "partial": self.partial, "text": self.text()}
        if self.ci:
            out["ci"] = self.ci
        if self.mark:
            out["mark"] = self.mark
        return out


def from_aggregate(a: dict[str, Any]) -> Cell:
    """The cell of an ``aggregate.json`` (expected counts are set by the table)."""
    main = a["main"]
    folds = a.get("folds")
    seeds = a.get("seeds") or [None]
    significance = main.get("significance") or {}
    return Cell(main["mean"], main["std"], len(folds) if folds else len(seeds),
                "folds" if folds else "seeds", len(seeds) if folds else 1,
                best=main.get("best"), ci=main.get("ci") or None,
                mark=significance.get("mark") or None)


def ci_note(cells: list[Cell]) -> str | None:
    """The caption's line on the intervals, from the first cell that has one.

    >>> print(ci_note([Cell(0.5, 0.0, 1, ci={"level": 0.95, "unit": "speaker",
    ...                                     "resamples": 1000})]))  # doctest: +NORMALIZE_WHITESPACE
    [low, high]: 95% bootstrap confidence interval of the test score
    (resampling speakers, 1000 resamples)
    """
    for cell in cells:
        if cell.ci:
            level = cell.ci.get("level")
            unit = cell.ci.get("unit", "utterance")
            share = f"{level * 100:g}% " if isinstance(level, (int, float)) else ""
            return (f"[low, high]: {share}bootstrap confidence interval of the test score "
                    f"(resampling {unit}s, {cell.ci.get('resamples', '?')} resamples)")
    return None
