"""Table 3 of EMO-SUPERB: macro-F1 without and with relabelled labels, and the relative gain.

A "with" condition is an EMO-SUPERB condition whose ``data.condition`` is the original's name
plus ``_relabelled`` (the folder name ``-m relabel`` writes by default, e.g. ``Primary`` and
``Primary_relabelled``); every pair found among the aggregates under a results folder gives one
table: per row (upstream), the test macro-F1 without and with, and the relative gain
``(with - without) / without``. The average line gives the mean of each column over the rows
that have both cells and, as the paper's "Average" gain, the mean of the rows' relative gains
(the gain of the two mean scores is given too). A row with one cell only is listed as incomplete,
never averaged.

>>> t = relative_gain({"a": 0.30, "b": 0.20, "c": 0.5}, {"a": 0.33, "b": 0.20})
>>> [(r["row"], round(r["gain"], 4)) for r in t["rows"]]
[('a', 0.1), ('b', 0.0)]
>>> round(t["average"]["gain"], 4), round(t["average"]["gain_of_means"], 4), t["incomplete"]
(0.05, 0.06, ['c'])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emobench.core import io
from emobench.core.errors import UserError

SUFFIX = "_relabelled"


def relative_gain(without: dict[str, float], with_: dict[str, float]) -> dict[str, Any]:
    """Rows sorted by name; gains as fractions (0.0308 is +3.08 %)."""
    rows = []
    for row in sorted(set(without) & set(with_)):
        if without[row] <= 0:
            raise UserError(f"relative gain of {row!r}: its score without relabelling is "
                            f"{without[row]}, the gain is undefined")
        rows.append({"row": row, "without": without[row], "with": with_[row],
                     "gain": (with_[row] - without[row]) / without[row]})
    average = None
    if rows:
        wo = float(np.mean([r["without"] for r in rows]))
        w = float(np.mean([r["with"] for r in rows]))
        average = {"without": wo, "with": w, "gain": float(np.mean([r["gain"] for r in rows])),
                   "gain_of_means": (w - wo) / wo}
    return {"rows": rows, "average": average,
            "incomplete": sorted(set(without) ^ set(with_))}


def pairs(aggregates: list[dict[str, Any]]) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    """``corpus/condition`` -> (row -> score without, row -> score with)."""
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for a in aggregates:
        key = (a["corpus"], a["condition"] or "")
        cells.setdefault(key, {})[a.get("row") or a["upstream"]] = float(a["main"]["mean"])
    out = {}
    for (corpus, condition), relabelled in sorted(cells.items()):
        if condition.endswith(SUFFIX):
            base = condition[:-len(SUFFIX)]
            out[f"{corpus}/{base}"] = (cells.get((corpus, base), {}), relabelled)
    return out


def markdown(name: str, table: dict[str, Any]) -> str:
    lines = [f"### {name}: test macro-F1 without and with relabelled labels", "",
             "| upstream | w/o relabelled labels | w/ relabelled labels | relative gain |",
             "|---|---|---|---|"]
    for r in table["rows"]:
        lines.append(f"| {r['row']} | {r['without']:.3f} | {r['with']:.3f} | "
                     f"{100 * r['gain']:.2f}% |")
    if table["average"]:
        a = table["average"]
        lines.append(f"| Average | {a['without']:.3f} | {a['with']:.3f} | {100 * a['gain']:.2f}% "
                     f"(gain of the means {100 * a['gain_of_means']:.2f}%) |")
    if table["incomplete"]:
        lines += ["", f"Incomplete (one of the two cells missing): {', '.join(table['incomplete'])}"]
    return "\n".join(lines) + "\n"


def write(root: str | Path, out: str | Path) -> tuple[str, list[Path]]:
    """``relabel_gain.md`` / ``.json`` for every pair of conditions under ``root``."""
    from emobench.orchestration.tables import collect

    found = pairs(collect(root, "emotion"))
    if not found:
        raise UserError(f"no pair of conditions <name> and <name>{SUFFIX} among the "
                        f"aggregate.json files under {root} (train both with --folds, or run "
                        "the sweep configs/sweeps/relabel_podcast_p.yaml)")
    tables = {name: relative_gain(*sides) for name, sides in found.items()}
    text = "\n".join(markdown(name, t) for name, t in tables.items())
    out = Path(out)
    return text, [io.write_text(out / "relabel_gain.md", text),
                  io.write_json(out / "relabel_gain.json", tables)]
