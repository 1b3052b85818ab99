"""label_csv against pandas on random label files and random text, and its numbers bit for bit.

The random files (a valid fold, then maybe a few random changes) go through both readers
(tests/helpers_pandas_labels.py); the random text (commas, quotes, line ends, spaces, tabs)
through ``label_csv.read_csv`` and ``pandas.read_csv`` alone. The numbers: pandas' values of a
million and more decimal strings (every 6-decimal value in [0, 1], smoothed soft labels, 17-digit
and half-way cases) are exactly ``float()``'s, so reading a label with ``float`` changes no bit.
"""

from __future__ import annotations

import csv
import io
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emobench.corpora import label_csv
from emobench.corpora.emotion_labels import LabelFileError, read_labels, smooth
from helpers_labels import CLASSES, write_corpus
from helpers_pandas_labels import assert_same


# --------------------------------------------------------------------------- random files

_NAMES = ["", " a.wav", "x y.wav", "e,f.wav", 'q"t.wav', "s1.wav"]
_VALUES = ["0", "1", "0.5", "0.333333", "0.483333", "0.016667", "1.0", ".5", "5e-1", " 0.5", "",
           "abc", "nan", "inf", "-0.1", "1.5", "True", "false", "1_0", "-0", " ", "1e"]
_SPEAKERS = ["s1", "s2", "", " ", " s1"]
_SPLITS = ["Train", "Development", "Test", "Validation", "", " Train"]
_BLANKS = ["", " ", "\t", "  \t"]


def _field(rng: np.random.Generator, text: str) -> str:
    needs_quotes = any(c in text for c in ',"\r\n')
    if needs_quotes or rng.random() < 0.1:
        return '"' + text.replace('"', '""') + '"'
    return text


def _spelling(rng: np.random.Generator, p: float) -> str:
    """A soft label as some writer may spell it."""
    forms = [f"{p:.6f}", f"{p:.6g}", repr(p), f"{p:.17g}", f" {p:.6f}", f"{p:.6f}\t",
             f"{p:.6e}", f"{p:.4f}".lstrip("0")]
    return forms[rng.integers(len(forms))]


def _random_file(rng: np.random.Generator) -> str:
    """A valid fold (random soft labels, spellings, quoting, line ends, blank lines, column
    order), then with some probability a few random changes (bad values, names, splits,
    speakers, ragged rows, header changes, an unclosed quote)."""
    pick = lambda pool: pool[rng.integers(len(pool))]  # noqa: E731
    header = ["FileName", *CLASSES, "SpkrID", "Gender", "Split_Set"]
    if rng.random() < 0.3:
        header = [header[0], *rng.permutation(header[1:]).tolist()]
    if rng.random() < 0.1:
        header[0] = ""  # NNIME
    split_names = ["Train", "Development", "Test"]
    cells = []
    for i in range(rng.integers(3, 9)):
        split = split_names[i % 3]
        p = np.round(rng.dirichlet(np.ones(len(CLASSES))), 6)
        if rng.random() < 0.2:
            p = smooth(np.eye(len(CLASSES))[rng.integers(len(CLASSES))])
        cells.append({"FileName": f"{split}_{i}.wav", "SpkrID": f"spk_{split}", "Gender": "F",
                      "Split_Set": split}
                     | {c: _spelling(rng, float(v)) for c, v in zip(CLASSES, p)})
    broken = rng.random() < 0.6
    for _ in range(rng.integers(1, 4) if broken else 0):
        row = cells[rng.integers(len(cells))]
        change = rng.integers(6)
        if change == 0:
            row[pick(CLASSES)] = pick(_VALUES)
        elif change == 1:
            row["FileName"] = pick(_NAMES + [c["FileName"] for c in cells])
        elif change == 2:
            row["SpkrID"] = pick(_SPEAKERS)
        elif change == 3:
            row["Split_Set"] = pick(_SPLITS)
        elif change == 4:
            header.append(pick(["Anger", "", "Surprise", "EmoAct", "Anger.1"]))
        else:
            header.remove(pick(header[1:]))
    rows = []
    for row in cells:
        fields = [_field(rng, row.get(c or ("FileName" if j == 0 else c), "0"))
                  for j, c in enumerate(header)]
        if broken and rows and rng.random() < 0.03:
            fields.append("extra")
        elif broken and rng.random() < 0.05:
            fields = fields[:rng.integers(1, len(fields))]
        rows.append(",".join(fields))
        if rng.random() < 0.1:
            rows.append(pick(_BLANKS))
    end = pick(["\n", "\r\n", "\r"])
    if end == "\r":  # pandas drops a comma after a blank line ended by a bare \r (test below)
        rows = [row for row in rows if row.strip(" \t")]
    text = end.join([",".join(_field(rng, h) for h in header), *rows])
    if rng.random() < 0.8:
        text += end
    if rng.random() < 0.1:
        text = "\ufeff" + text
    if broken and rng.random() < 0.03:
        text += '"unclosed,1'
    return text


def _pandas_takes_an_index(path: Path) -> bool:
    try:
        return not isinstance(pd.read_csv(path, dtype=str).index, pd.RangeIndex)
    except (ValueError, UnicodeDecodeError):
        return False


def _random_files_agree(count: int, seed: int, tmp_path: Path) -> dict[str, int]:
    corpus = write_corpus(tmp_path, audio=False)
    rng = np.random.default_rng(seed)
    tally = {"table": 0, "error": 0}
    for _ in range(count):
        text = _random_file(rng)
        corpus.csv.write_text(text, encoding="utf-8", newline="")
        kwargs = {"check_audio": False, "speakerless": bool(rng.random() < 0.3),
                  "allow_speaker_overlap": bool(rng.random() < 0.5)}
        try:
            if _pandas_takes_an_index(corpus.csv):  # refused on purpose (test above)
                with pytest.raises(LabelFileError, match="not a readable CSV .Expected"):
                    read_labels(corpus.label_dir, 1, corpus.audio_root, **kwargs)
                continue
            result = assert_same(corpus.label_dir, 1, corpus.audio_root, **kwargs)
        except AssertionError:
            print(repr(text), kwargs)
            raise
        tally[result[0]] += 1
    return tally


def test_random_files_read_as_pandas_reads_them(tmp_path: Path) -> None:
    tally = _random_files_agree(400, 0, tmp_path)
    assert tally["table"] >= 20 and tally["error"] >= 200, tally


# --------------------------------------------------------------------------- numbers


def _pandas_values(texts: list[str]) -> np.ndarray:
    frame = pd.read_csv(io.StringIO("x\n" + "\n".join(texts) + "\n"), keep_default_na=False,
                        na_values=[""])
    return frame["x"].to_numpy(np.float64)


def _same_bits(texts: list[str]) -> None:
    ours = label_csv.numbers(texts)
    theirs = _pandas_values(texts)
    assert theirs.dtype == np.float64 and len(theirs) == len(texts)
    differ = np.flatnonzero(ours.view(np.int64) != theirs.view(np.int64))
    assert differ.size == 0, [texts[i] for i in differ[:10]]
    assert (ours.view(np.int64) == np.array([float(t) for t in texts]).view(np.int64)).all()


def test_every_six_decimal_label_parses_to_the_same_bits() -> None:
    """All 1,000,001 values 0.000000 ... 1.000000, and their %.6g spellings."""
    grid = np.arange(1_000_001)
    _same_bits([f"{i / 1e6:.6f}" for i in grid.tolist()])
    _same_bits([f"{i / 1e6:.6g}" for i in grid[::7].tolist()])


def test_soft_labels_and_hard_cases_parse_to_the_same_bits() -> None:
    fractions = sorted({Fraction(k, n) for n in range(1, 61) for k in range(n + 1)})
    texts = [f"{float(f):.6f}" for f in fractions] + [repr(float(f)) for f in fractions]
    texts += ["0.333333", "0.483333", "0.016667", f"{1 / 7:.6f}", "0.142857", "0.95", "0.00625"]
    for c in range(2, 13):  # EMO-SUPERB smoothing of every vote fraction with up to 12 raters
        votes = np.array([[k / n] + [0.0] * (c - 1) for n in range(1, 13) for k in range(n + 1)])
        texts += [repr(v) for v in smooth(votes).ravel().tolist()]
    rng = np.random.default_rng(0)
    doubles = rng.random(50_000).tolist()
    texts += [repr(v) for v in doubles] + [f"{v:.17g}" for v in doubles]
    texts += [f"{v:.{rng.integers(1, 25)}f}" for v in doubles]
    # half-way points between neighbouring doubles, and just beside them (round-to-even cases)
    from decimal import Decimal, getcontext
    getcontext().prec = 80
    for v in doubles[:3000]:
        middle = (Decimal(v) + Decimal(float(np.nextafter(v, 2.0)))) / 2
        texts += [str(middle), str(middle + Decimal("1e-70")), str(middle - Decimal("1e-70"))]
    texts += ["9007199254740993", "2.2250738585072011e-308", "4.9e-324", "2.4703282292062328e-324",
              "1.7976931348623157e308", "1e-400", "0.30000000000000004", "1e400"]
    _same_bits(texts)


def test_number_spellings_are_pandas_numbers() -> None:
    """Which texts pandas reads as numbers (a column of that one text), and their value."""
    texts = ["0.5", ".5", "5.", "+.5", "-.5", "1e0", "1E-1", "1e", "e1", ".", "-", "0x1", "1_0",
             "١", "０.5", "nan", "NaN", "inf", "-inf", "+Infinity", "inF", "infinit", " 0.5",
             "0.5 ", "\t0.5", "\x0b0.5", "\x0c0.5", "\xa00.5", "0.5\xa0", "\u20030.5", "1",
             "01", "-0", "0.5.5", "1d0", "0 .5", "1.5e-3", "00.50", "True", " ", "#1"]
    for text in texts:
        frame = pd.read_csv(io.StringIO(f'x\n"{text}"\n'), keep_default_na=False,
                            na_values=[""])
        expected = pd.to_numeric(frame["x"], errors="coerce").to_numpy(np.float64)
        ours = label_csv.numbers([text])
        assert ours.view(np.int64).tolist() == expected.view(np.int64).tolist(), text


def test_random_text_splits_into_the_same_cells_as_in_pandas(tmp_path: Path) -> None:
    """label_csv.read_csv on random text of commas, quotes, line ends, spaces and tabs: the
    same column names and cells as pandas, or the same error; the two documented exceptions
    (a longer first row, a comma after a blank line ended by a lone carriage return) are
    counted, not compared."""
    rng = np.random.default_rng(0)
    pieces = [",", '"', "\n", "\r", " ", "\t", "a", "0", ".", "\r\n", "b,", '""']
    path = tmp_path / "x.csv"
    tally = {"same": 0, "longer first row": 0, "comma after a lone carriage return": 0}
    for _ in range(1500):
        text = "A,B,C\n" + "".join(pieces[i] for i in rng.integers(0, len(pieces),
                                                                    rng.integers(0, 40)))
        path.write_text(text, newline="")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            theirs = ("cells", list(frame.columns),
                      [tuple("" if v != v else v for v in frame[c])
                       for c in frame.columns])
        except (ValueError, pd.errors.ParserError) as exc:
            theirs = ("error", str(exc).replace("Error tokenizing data. C error: ", "").strip())
        try:
            ours = ("cells", *label_csv.read_csv(path))
            ours = (ours[0], ours[1], [tuple(column) for column in ours[2]])
        except label_csv.CsvError as exc:
            ours = ("error", str(exc))
        if ours == theirs:
            tally["same"] += 1
            continue
        records = [r for r in csv.reader(io.StringIO(text, newline=""))
                   if r and (len(r) > 1 or r[0].strip(" \t"))]
        if len(records) > 1 and len(records[1]) > len(records[0]):
            tally["longer first row"] += 1
        elif re.search(r"[\n\r][ \t]*\r(?!\n)[ \t\r]*,", text):
            tally["comma after a lone carriage return"] += 1
        else:
            assert ours == theirs, repr(text)
    assert tally["same"] > 1300, tally

