"""The two CSV files of EMO-SUPERB's released relabelling, read and checked.

Both have the layout of EMO-SUPERB's ``chatGPT/input_*.csv`` and ``output_*.csv``: the first
column holds the utterance's ``FileName`` (its header cell is empty in the release; ``FileName``
or ``id`` are accepted too), then one column per class, then a text column::

    ,angry,sad,disgust,contempt,fear,neutral,surprise,happy,words     <- raw annotations
    ,angry,sad,disgust,contempt,fear,neutral,surprise,happy,reason    <- relabelled output

In the annotations the class values are the reference distribution (vote fractions, not
smoothed) and ``words`` the typed descriptions, comma-separated. Problems are reported all at
once with the file and the CSV line (:class:`~emobench.core.errors.LabelFileError`). In an
output file a class value that is not a finite number is not an error here: that item is
invalid, counted and replaced by its reference distribution (:mod:`.repair`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench.core.errors import LabelFileError

ID_HEADERS = ("", "FileName", "id")


@dataclass
class Table:
    """Rows of one file: ids, class values (N, C; NaN where not a number) and the text column."""

    path: Path
    classes: list[str]
    ids: list[str]
    values: np.ndarray
    text: list[str]
    lines: list[int] = field(default_factory=list)  # CSV line of every row (header: 1)

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.ids)}


def _number(cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        return math.nan
    return value


def read_table(path: str | Path, text_column: str, classes: list[str] | None = None) -> Table:
    """Read ``path``; ``classes`` (the label folder's order) must match its class columns."""
    path = Path(path)
    if not path.is_file():
        raise LabelFileError(path, ["file does not exist"])
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LabelFileError(path, [f"not a readable UTF-8 CSV ({exc})"]) from None
    if not rows:
        raise LabelFileError(path, ["empty file (expected a header line)"])
    header = [h.strip() for h in rows[0]]
    problems = []
    if len(header) < 4 or header[0] not in ID_HEADERS or header[-1] != text_column:
        raise LabelFileError(path, [f"header {rows[0]} is not <id>, <classes...>, {text_column} "
                                    f"(the first cell empty or one of {list(ID_HEADERS[1:])})"])
    columns = header[1:-1]
    if len(set(columns)) != len(columns):
        problems.append(f"class columns appear twice: {columns}")
    if classes is not None and sorted(columns) != sorted(classes):
        problems.append(f"class columns {columns} are not the label folder's classes {classes}")
    if problems:
        raise LabelFileError(path, problems)
    order = [columns.index(c) for c in (classes or columns)]
    ids, values, text, lines, seen = [], [], [], [], {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(header):
            problems.append(f"line {number}: {len(row)} fields, the header has {len(header)}")
            continue
        name = row[0].strip()
        if not name:
            problems.append(f"line {number}: empty id")
            continue
        if name in seen:
            problems.append(f"lines {seen[name]}, {number}: duplicate id {name!r}")
            continue
        seen[name] = number
        cells = row[1:-1]
        ids.append(name)
        values.append([_number(cells[j]) for j in order])
        text.append(row[-1])
        lines.append(number)
    if problems:
        raise LabelFileError(path, problems)
    return Table(path, list(classes or columns), ids,
                 np.array(values, dtype=np.float64).reshape(len(ids), len(order)), text, lines)


def read_annotations(path: str | Path, classes: list[str] | None = None,
                     sum_tolerance: float = 1e-3) -> Table:
    """The raw annotations: every reference distribution finite, in [0, 1], summing to 1."""
    table = read_table(path, "words", classes)
    problems = []
    for i, row in enumerate(table.values):
        where = f"line {table.lines[i]} ({table.ids[i]})"
        if not np.isfinite(row).all():
            problems.append(f"{where}: reference distribution has a value that is not a "
                            f"number (NaN or empty): {row.tolist()}")
        elif (row < 0).any() or (row > 1).any():
            problems.append(f"{where}: reference values must lie in [0, 1]: {row.tolist()}")
        elif abs(row.sum() - 1.0) > sum_tolerance:
            problems.append(f"{where}: reference distribution sums to {row.sum():.6f}, not 1 "
                            f"(tolerance {sum_tolerance})")
    if problems:
        raise LabelFileError(table.path, problems)
    return table


def read_output(path: str | Path, annotations: Table) -> Table:
    """A released output file: every id must be one of the annotations' ids (else an error)."""
    table = read_table(path, "reason", annotations.classes)
    known = annotations.index()
    unknown = [f"line {line}: id {name!r} is not in the annotations {annotations.path}"
               for name, line in zip(table.ids, table.lines) if name not in known]
    if unknown:
        raise LabelFileError(table.path, unknown)
    return table
