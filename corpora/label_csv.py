"""Label CSV files read the way ``pandas.read_csv`` reads them, without importing pandas.

Importing pandas costs about 0.6 s of CPU, a large share of a warm training run, so the
emotion task's label reader (:mod:`emobench.corpora.emotion_labels`) uses this module. It
follows pandas' defaults (compared with pandas in tests/test_label_csv.py):

- UTF-8, a leading byte-order mark dropped; lines end with ``\\n``, ``\\r\\n`` or ``\\r``;
  quoting as Python's :mod:`csv` (``"a,b"``, ``""`` for a quote); fields are not stripped;
- a line of nothing but spaces and tabs is skipped (outside a quoted field);
- the first line is the header: an empty name becomes ``Unnamed: <i>`` and a repeated name
  ``<name>.1``, ``<name>.2``, ... (names already in the header are skipped, named columns are
  renamed before unnamed ones);
- a row with fewer fields is padded with missing values; a row with more fields is an error
  ("Expected 7 fields in line 5, saw 8", lines counted as pandas counts them: records plus
  skipped lines);
- an empty field is missing (``""``, as is a missing field); no text ("NA", "nan") is.

Numbers follow pandas too: a number is an ASCII decimal (``0.5``, ``.5``, ``5.``, ``1e-3``,
``-0``) or ``inf``/``infinity`` in any case, with an optional sign and surrounding ASCII white
space; ``nan``, ``1_000``, non-ASCII digits and hexadecimal are not numbers. The value of a
number is Python's ``float`` of its text, which is the value pandas gives (compared bit for bit
on every 6-decimal value in [0, 1] and more). A column whose non-empty fields are all
``true``/``false`` (any case) holds booleans, 1.0 and 0.0, as in pandas.

Three cases where pandas changes the data are read as written instead: a first data row
with more fields than the header (pandas makes its first field a row index and shifts the
row) is an error like any longer row; the first comma of a line that follows a blank line
ended by a lone ``\\r`` is kept (pandas drops it); a column's text is never converted
(pandas turned a headerless first column of digits, ``007``, into numbers, ``7``).
"""

from __future__ import annotations

import csv
import gc
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_SPACE = "[ \\t\\n\\r\\x0b\\x0c]*"
NUMBER = re.compile(f"{_SPACE}[+-]?(?:(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                    f"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?){_SPACE}")
INTEGER = re.compile(f"{_SPACE}[+-]?[0-9]+{_SPACE}")
# every character a number may contain: a column of these whose fields all pass float() holds
# numbers only (float() accepts no other spelling made of them)
_NUMBER_TEXT = re.compile("[0-9+\\-.eEiInNfFtTyY \\t\\n\\r\\x0b\\x0c]*")
_BOOLEANS = {"true": 1.0, "false": 0.0}


class CsvError(ValueError):
    """The file is not a readable CSV; the message gives the reason (and the line)."""


def _ends_inside_quotes(text: str) -> bool:
    """Whether a record's text ends inside a quoted field (its closing quote is missing).

    >>> _ends_inside_quotes('a,"b,c\\n'), _ends_inside_quotes('a,"b""c",d\\n')
    (True, False)
    """
    state = "start"  # start of a field, plain, quoted, quote (a quote inside a quoted field)
    for ch in text:
        if state == "quoted":
            state = "quote" if ch == '"' else "quoted"
        elif ch in ",\r\n":
            state = "start"
        elif ch == '"' and state in ("start", "quote"):
            state = "quoted"
        else:
            state = "plain"
    return state == "quoted"


def header_names(cells: list[str]) -> list[str]:
    """pandas' column names for a header row: ``Unnamed: <i>`` for an empty cell, repeated
    names numbered (named columns first, skipping names the header already has).

    >>> header_names(["a", "a", "a.1", "", "b"])
    ['a', 'a.2', 'a.1', 'Unnamed: 3', 'b']
    >>> header_names(["", "Unnamed: 0"])
    ['Unnamed: 0.1', 'Unnamed: 0']
    """
    names = [cell if cell else f"Unnamed: {i}" for i, cell in enumerate(cells)]
    unnamed = [i for i, cell in enumerate(cells) if not cell]
    uses: dict[str, int] = {}
    for i in [i for i in range(len(names)) if cells[i]] + unnamed:
        base = name = names[i]
        count = uses.get(base, 0)
        while count:
            uses[base] = count + 1
            name = f"{base}.{count}"
            count = count + 1 if name in names else uses.get(name, 0)
        names[i] = name
        uses[name] = count + 1
    return names


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Building a million small lists starts Python's cyclic garbage collector again and again;
    it finds nothing to free here and would double the time of a 150,000-row file."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_csv(path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    """The header's column names and the columns (one field per row, ``""`` where empty or
    missing).

    Raises :class:`CsvError` for a file that is not UTF-8, has no header, a row with more
    fields than the header, or a quoted field that never closes (pandas' reasons)."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = len(re.split(b"\r\n|\r|\n", data[:exc.start]))
        raise CsvError(f"line {line}: {exc}") from None
    quotes = '"' in text
    physical: list[str] = []  # the file's lines, split only when quotes make them needed
    if quotes:
        physical = re.split("\r\n|\r|\n", text)
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[list[str]] = []
    lines: list[int] = []  # each record's line as pandas counts: records plus skipped lines
    skipped = start = last_start = 0
    with _collector_paused():
        try:
            for fields in reader:
                if not fields or len(fields) == 1 and fields[0] and not fields[0].strip(" \t") \
                        and not (quotes and '"' in physical[reader.line_num - 1]):
                    skipped += 1  # a line of nothing but spaces and tabs
                else:
                    records.append(fields)
                    lines.append(len(records) + skipped)
                    last_start = start
                start = reader.line_num
        except csv.Error as exc:
            raise CsvError(str(exc)) from None
        if not records:
            raise CsvError("No columns to parse from file")
        width = len(records[0])
        for k, fields in enumerate(records):  # the first problem in the file is reported
            if k == len(records) - 1 and quotes \
                    and _ends_inside_quotes("\n".join(physical[last_start:])):
                raise CsvError(f"EOF inside string starting at row {lines[k] - 1}")
            if len(fields) > width:
                raise CsvError(f"Expected {width} fields in line {lines[k]}, saw {len(fields)}")
            if len(fields) < width:
                fields.extend([""] * (width - len(fields)))
        columns = list(zip(*records[1:])) if len(records) > 1 else [()] * width
    return header_names(records[0]), columns


def _is_boolean(cells: Sequence[str]) -> bool:
    present = [c for c in cells if c]
    return bool(present) and all(c.isascii() and c.lower() in _BOOLEANS for c in present)


def numbers(cells: Sequence[str]) -> np.ndarray:
    """A column's values as float64: NaN where a field is empty or not a number; a column of
    whole numbers is read as integers, as pandas reads it (so ``-0`` is 0.0, not -0.0).

    >>> numbers(["0.5", " 1e-1", ".5", "inf", "nan", "1_0", "", "abc"]).tolist()
    [0.5, 0.1, 0.5, inf, nan, nan, nan, nan]
    >>> numbers(["True", "false", ""]).tolist(), numbers(["-0", "1"]).tolist()
    ([1.0, 0.0, nan], [0.0, 1.0])
    """
    values = None
    if "" not in cells and _NUMBER_TEXT.fullmatch("".join(cells)):
        try:
            values = np.array(list(map(float, cells)), dtype=np.float64)
        except ValueError:
            pass
    if values is None:
        if _is_boolean(cells):
            return np.array([_BOOLEANS[c.lower()] if c else np.nan for c in cells])
        values = np.array([float(c) if c and NUMBER.fullmatch(c) else np.nan
                           for c in cells], dtype=np.float64)
    if np.signbit(values).any() and "" not in cells \
            and all(INTEGER.fullmatch(c) for c in cells):
        values[values == 0] = 0.0
    return values


def _shown(cells: Sequence[str]) -> tuple[str, list[object]]:
    if _is_boolean(cells):
        return "bool", [c.lower() == "true" if c else np.nan for c in cells]
    if "" not in cells and all(INTEGER.fullmatch(c) for c in cells):
        return "int", [int(c) for c in cells]
    if all(not c or NUMBER.fullmatch(c) for c in cells):
        return "float", [float(c) if c else np.nan for c in cells]
    return "text", [c if c else np.nan for c in cells]


def shown_rows(columns: Sequence[Sequence[str]]) -> list[list[object]]:
    """The rows of some columns as pandas lists them: each column's type guessed as pandas
    does (whole numbers, numbers, booleans, else text; nan where empty), whole numbers shown as
    floats in rows that also have a number column.

    >>> shown_rows([["1", "0"], ["0", "1"]]), shown_rows([["1", "0"], ["0.5", ""]])
    ([[1, 0], [0, 1]], [[1.0, 0.5], [0.0, nan]])
    >>> shown_rows([["1", "0"], ["abc", "0.5"], ["True", ""]])
    [[1, 'abc', True], [0, '0.5', nan]]
    """
    typed = [_shown(cells) for cells in columns]
    if {kind for kind, _ in typed} == {"int", "float"}:
        typed = [("float", [float(v) for v in values]) if kind == "int" else (kind, values)
                 for kind, values in typed]
    return [list(row) for row in zip(*(values for _, values in typed))]
