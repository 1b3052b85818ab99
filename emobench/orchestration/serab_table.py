"""SERAB's benchmark table: per-corpus test accuracy of probe runs and the three means.

Every ``scores.json`` of a probe run (task ``probe``, not a cross-corpus cell) under a results
folder is one cell: row = the upstream with its feature options, column = the corpus. The
means over the corpora follow SERAB (Scheidwasser-Clow et al., 2022): UM, the unweighted mean;
WM, the mean weighted by each corpus's test-set size; GM, the geometric mean. A corpus with no
result is shown as missing and left out of a row's means, with a note naming it: the means of
such a row are over fewer corpora and not comparable with a complete row's.
"""

from __future__ import annotations

import csv
import io as text_io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from emobench.core import io
from emobench.core.errors import UserError

# SERAB's nine corpora, in the paper's order (the recipes' names, corpora/registry.py)
SERAB_CORPORA = ("aesdd", "cafe", "crema_d", "emodb", "emovo", "iemocap4", "ravdess", "savee",
                 "shemo")
MISSING = "–"


def unweighted_mean(values: Sequence[float]) -> float:
    """UM: the plain mean.

    >>> unweighted_mean([0.5, 0.75, 1.0])
    0.75
    """
    return sum(values) / len(values)


def weighted_mean(values: Sequence[float], sizes: Sequence[int]) -> float:
    """WM: the mean weighted by test-set size (= accuracy over all test utterances pooled).

    >>> weighted_mean([0.5, 1.0], [300, 100])
    0.625
    """
    if len(values) != len(sizes) or min(sizes) <= 0:
        raise ValueError("one positive test size per value")
    return sum(v * n for v, n in zip(values, sizes)) / sum(sizes)


def geometric_mean(values: Sequence[float]) -> float:
    """GM: the geometric mean (0 when any value is 0).

    >>> round(geometric_mean([0.25, 1.0]), 6)
    0.5
    >>> geometric_mean([0.0, 0.9])
    0.0
    """
    if min(values) < 0:
        raise ValueError("accuracies are >= 0")
    if min(values) == 0:
        return 0.0
    return math.exp(sum(math.log(v) for v in values) / len(values))


def benchmark_means(cells: dict[str, tuple[float, int]],
                    corpora: Sequence[str]) -> dict[str, Any]:
    """UM, WM and GM over the ``corpora`` present in ``cells`` (corpus -> (accuracy, test
    size)); the missing ones are listed and left out.

    >>> out = benchmark_means({"a": (0.5, 300), "b": (1.0, 100)}, ["a", "b", "c"])
    >>> out["UM"], out["WM"], round(out["GM"], 4), out["missing"]
    (0.75, 0.625, 0.7071, ['c'])
    """
    present = [c for c in corpora if c in cells]
    missing = [c for c in corpora if c not in cells]
    if not present:
        return {"UM": None, "WM": None, "GM": None, "corpora": [], "missing": missing}
    values = [cells[c][0] for c in present]
    sizes = [cells[c][1] for c in present]
    return {"UM": unweighted_mean(values), "WM": weighted_mean(values, sizes),
            "GM": geometric_mean(values), "corpora": present, "missing": missing}


@dataclass
class SerabTable:
    corpora: list[str]
    cells: dict[str, dict[str, tuple[float, int]]]  # row -> corpus -> (accuracy, test size)
    sources: dict[str, dict[str, str]] = field(default_factory=dict)  # row -> corpus -> file

    def means(self, row: str) -> dict[str, Any]:
        return benchmark_means(self.cells[row], self.corpora)


def row_name(scores: dict[str, Any]) -> str:
    """An upstream with its feature options, e.g. ``byol_s_512 (speaker-standardised)``.

    >>> row_name({"upstream": {"name": "x", "layer": 3},
    ...           "features": {"functionals": "mean_std", "speaker_standardize": True}})
    'x -l 3 mean_std (speaker-standardised)'
    """
    features = scores.get("features", {})
    name = scores["upstream"]["name"]
    if scores["upstream"].get("layer") is not None:
        name += f" -l {scores['upstream']['layer']}"
    if features.get("functionals", "mean") != "mean":
        name += f" {features['functionals']}"
    if features.get("speaker_standardize"):
        name += " (speaker-standardised)"
    return name


def collect(root: str | Path, corpora: Sequence[str] = SERAB_CORPORA) -> SerabTable:
    """Every probe scores.json under ``root``; two results for one row and corpus are an error."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"results folder {root} does not exist")
    table = SerabTable(list(corpora), {}, {})
    for path in sorted(root.rglob("scores.json")):
        try:
            scores = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{path}: not a readable scores.json ({exc})") from None
        if scores.get("task") != "probe" or "cross_corpus" in scores:
            continue
        row, corpus = row_name(scores), scores["corpus"]
        if corpus not in table.corpora:
            table.corpora.append(corpus)  # a corpus beyond SERAB's nine: its own column
        earlier = table.sources.setdefault(row, {}).get(corpus)
        if earlier is not None:
            raise UserError(f"two results for {row} on {corpus}: {earlier} and {path}; keep "
                            "one (or give -p a folder holding one run per cell)")
        table.sources[row][corpus] = str(path)
        table.cells.setdefault(row, {})[corpus] = (float(scores["metrics"]["test"]["accuracy"]),
                                                   int(scores["counts"]["test"]))
    if not table.cells:
        raise UserError(f"{root}: no probe scores.json (-d probe runs) found")
    return table


def _pct(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:.1f}"


def records(table: SerabTable) -> list[list[str]]:
    """Header and one row per upstream: accuracies in %, then UM, WM, GM."""
    lines = [["upstream", *table.corpora, "UM", "WM", "GM"]]
    for row in table.cells:
        means = table.means(row)
        lines.append([row, *(_pct(table.cells[row][c][0]) if c in table.cells[row] else MISSING
                             for c in table.corpora),
                      *(_pct(means[k]) for k in ("UM", "WM", "GM"))])
    return lines


def notes(table: SerabTable) -> list[str]:
    out = []
    for row in table.cells:
        missing = table.means(row)["missing"]
        if missing:
            kept = len(table.corpora) - len(missing)
            out.append(f"{row}: no result for {', '.join(missing)}; UM/WM/GM are over the "
                       f"{kept} {'corpus' if kept == 1 else 'corpora'} with a result only")
    return out


def markdown(table: SerabTable) -> str:
    lines = records(table)
    text = ["| " + " | ".join(lines[0]) + " |", "|" + "---|" * len(lines[0])]
    text += ["| " + " | ".join(line) + " |" for line in lines[1:]]
    extra = [f"- {n}" for n in notes(table)]
    return "\n".join(["Test accuracy (%), selected on validation; UM unweighted, WM test-size "
                      "weighted, GM geometric mean over the corpora present.", "", *text,
                      *([""] + extra if extra else [])]) + "\n"


def to_csv(table: SerabTable) -> str:
    buffer = text_io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records(table))
    return buffer.getvalue()


def latex(table: SerabTable) -> str:
    def esc(text: str) -> str:
        return text.replace("_", r"\_").replace("%", r"\%").replace("–", "--")

    lines = records(table)
    body = [" & ".join(esc(x) for x in line) + r" \\" for line in lines]
    out = [r"\begin{tabular}{l" + "r" * (len(lines[0]) - 1) + "}", r"\toprule", body[0],
           r"\midrule", *body[1:], r"\bottomrule", r"\end{tabular}"]
    out += [f"% {esc(n)}" for n in notes(table)]
    return "\n".join(out) + "\n"


def write(root: str | Path, out: str | Path) -> list[Path]:
    """``serab.md``, ``serab.csv``, ``serab.tex`` and ``serab.json`` of the probe runs under
    ``root``, in ``out``."""
    table = collect(root)
    out = Path(out)
    summary = {row: {"accuracy": {c: v[0] for c, v in table.cells[row].items()},
                     "test_size": {c: v[1] for c, v in table.cells[row].items()},
                     "sources": table.sources[row], **table.means(row)} for row in table.cells}
    return [io.write_text(out / "serab.md", markdown(table)),
            io.write_text(out / "serab.csv", to_csv(table)),
            io.write_text(out / "serab.tex", latex(table)),
            io.write_json(out / "serab.json", {"corpora": table.corpora, "rows": summary,
                                               "notes": notes(table)})]
