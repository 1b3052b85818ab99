"""New EMO-SUPERB label files with the adjusted distributions, and what changed.

The output folder gets ``config.json`` (a byte copy) and every ``labels_consensus_<k>.csv`` of
the label folder. A row is rewritten when its ``FileName`` has an adjusted distribution and its
split is one of ``splits`` (default train and dev: the paper relabelled those; a test row keeps
its label, counted, so that "with" and "without" are scored on the same test labels). Only the
class cells of such a row change: they get the adjusted distribution after EMO-SUPERB's label
smoothing ``0.95 p + 0.05 (1 - p) / (C - 1)`` rounded to 6 decimals
(:func:`emobench.corpora.emotion_labels.smooth`; ``smoothing: none`` writes it unsmoothed),
written with ``%.6g``. Every other line of every file is copied byte for byte.

The diff report, per fold: rows relabelled (per split), rows whose majority class (argmax)
changed, and the mean absolute change of every class over the relabelled rows.
"""

from __future__ import annotations

import csv
import io as _io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emobench.core import io
from emobench.core.errors import LabelFileError
from emobench.corpora.emotion_labels import read_corpus_config, smooth
from emobench.corpora.relabel.repair import Tally


@dataclass
class Row:
    line: str  # the raw line, its line ending included
    fields: list[str]
    quoted: bool


def _split(line: str) -> Row:
    body = line.rstrip("\r\n")
    if '"' not in body:
        return Row(line, body.split(","), False)
    return Row(line, next(csv.reader([body])), True)


def _join(row: Row, fields: list[str]) -> str:
    ending = row.line[len(row.line.rstrip("\r\n")):]
    if not row.quoted:
        return ",".join(fields) + ending
    buffer = _io.StringIO()
    csv.writer(buffer, lineterminator=ending).writerow(fields)
    return buffer.getvalue()


def target(p: np.ndarray, smoothing: str) -> np.ndarray:
    """The label-file row of an adjusted distribution ``p``.

    >>> target(np.array([0.0, 0.25, 0.75]), "emo_superb").tolist()
    [0.025, 0.25625, 0.71875]
    """
    return smooth(p) if smoothing == "emo_superb" else np.round(p, 6)


def merge_file(path: Path, classes: list[str], split_names: dict[str, str],
               adjusted: dict[str, np.ndarray], splits: list[str], smoothing: str,
               tally: Tally, reference: dict[str, np.ndarray],
               reference_tolerance: float) -> tuple[str, dict[str, Any], set[str]]:
    """The merged text of one label file, its diff report and the ids it holds."""
    text = path.read_bytes().decode("utf-8")
    lines = _io.StringIO(text, newline="").readlines()  # endings kept as they are
    if not lines:
        raise LabelFileError(path, ["empty label file"])
    header = _split(lines[0]).fields
    name_col = header.index("FileName") if "FileName" in header else 0
    missing = [c for c in classes + ["Split_Set"] if c not in header]
    if missing:
        raise LabelFileError(path, [f"columns {missing} are missing from the header {header}"])
    class_cols = [header.index(c) for c in classes]
    split_col = header.index("Split_Set")
    split_of = {v: k for k, v in split_names.items()}
    out, seen = [lines[0]], set()
    old_rows, new_rows, changed_by_split = [], [], {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            out.append(line)
            continue
        row = _split(line)
        if len(row.fields) != len(header):
            raise LabelFileError(path, [f"line {number}: {len(row.fields)} fields, the header "
                                        f"has {len(header)}"])
        uid = row.fields[name_col]
        seen.add(uid)
        if uid not in adjusted:
            out.append(line)
            continue
        split = split_of.get(row.fields[split_col], row.fields[split_col])
        if split not in splits:
            tally.add(f"kept_in_split:{split}", f"{path.name}: {uid}")
            out.append(line)
            continue
        try:
            old = np.array([float(row.fields[j]) for j in class_cols])
        except ValueError:
            raise LabelFileError(path, [f"line {number}: class values of {uid!r} are not "
                                        f"numbers: {[row.fields[j] for j in class_cols]}"]) from None
        new = target(adjusted[uid], smoothing)
        if uid in reference and np.abs(target(reference[uid], smoothing) - old).max() \
                > reference_tolerance:
            tally.add("label_differs_from_reference", f"{path.name} line {number}: {uid}")
        fields = list(row.fields)
        for j, value in zip(class_cols, new):
            fields[j] = f"{value:.6g}"
        out.append(_join(row, fields))
        old_rows.append(old)
        new_rows.append(new)
        changed_by_split[split] = changed_by_split.get(split, 0) + 1
    return "".join(out), diff(old_rows, new_rows, classes, changed_by_split), seen


def diff(old_rows: list[np.ndarray], new_rows: list[np.ndarray], classes: list[str],
         by_split: dict[str, int]) -> dict[str, Any]:
    """What the relabelling changed in one file.

    >>> d = diff([np.array([0.9, 0.1])], [np.array([0.4, 0.6])], ["a", "b"], {"train": 1})
    >>> d["majority_changed"], d["mean_abs_change"]
    (1, {'a': 0.5, 'b': 0.5})
    """
    if not old_rows:
        return {"relabelled": 0, "by_split": {}, "majority_changed": 0,
                "mean_abs_change": {c: 0.0 for c in classes}}
    old, new = np.stack(old_rows), np.stack(new_rows)
    change = np.abs(new - old).mean(axis=0)
    return {"relabelled": len(old_rows), "by_split": dict(sorted(by_split.items())),
            "majority_changed": int((old.argmax(axis=1) != new.argmax(axis=1)).sum()),
            "mean_abs_change": {c: round(float(v), 6) for c, v in zip(classes, change)}}


def merge_folder(label_dir: Path, output_dir: Path, adjusted: dict[str, np.ndarray],
                 splits: list[str], smoothing: str, tally: Tally,
                 reference: dict[str, np.ndarray], reference_tolerance: float
                 ) -> dict[str, Any]:
    """Write the relabelled copy of ``label_dir``; the diff report of every fold."""
    label_dir, output_dir = Path(label_dir), Path(output_dir)
    corpus = read_corpus_config(label_dir)
    if output_dir.resolve() == label_dir.resolve():
        raise LabelFileError(output_dir, ["the output folder is the label folder itself; the "
                                          "original label files are never overwritten"])
    files = sorted(label_dir.glob("labels_consensus_*.csv"))
    if not files:
        raise LabelFileError(label_dir, ["no labels_consensus_<fold>.csv in the label folder"])
    texts, report, seen = {}, {}, set()
    for path in files:
        text, stats, ids = merge_file(path, corpus.classes, corpus.split_names, adjusted,
                                      splits, smoothing, tally, reference, reference_tolerance)
        texts[path.name], report[path.stem], seen = text, stats, seen | ids
    for uid in sorted(set(adjusted) - seen):
        tally.add("not_in_label_files", uid)
    io.write_bytes(output_dir / "config.json", (label_dir / "config.json").read_bytes())
    for name, text in texts.items():
        io.write_bytes(output_dir / name, text.encode("utf-8"))
    return report
