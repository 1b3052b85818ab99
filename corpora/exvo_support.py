"""Support / query split for the ExVo few-shot track (ICML ExVo 2022).

For every evaluation speaker, ``k`` labelled clips (the *support set*; ``k = 2`` in the
challenge) personalise a trained model, which then predicts the speaker's other labelled clips
(the *queries*); the score is the mean CCC over the ten emotion intensities on the queries.

File format
    A CSV file (UTF-8, ``\\n`` line ends) with the header ``Subject_ID,File_ID`` and one row per
    support clip::

        Subject_ID,File_ID
        Speaker_21,[10007]
        Speaker_21,[10133]

    ``File_ID`` is written exactly as in ``data_info.csv`` (brackets included) and
    ``Subject_ID`` is that clip's speaker there.  :func:`write_support` writes the speakers in
    sorted order and each speaker's File_IDs in sorted (string) order, so the same sets always
    give the same bytes.  :func:`read_support` checks the file against the ``data_info.csv``
    table and reports every problem at once with its CSV line (the header is line 1): wrong
    header, empty cells, unknown File_ID, a File_ID listed twice, a File_ID whose speaker in the
    table is not the row's Subject_ID, a clip outside the evaluation splits or without labels,
    and a speaker with no clip left to query.  A speaker absent from the file has no support
    set (and is not evaluated); :func:`make_support` leaves out the speakers with fewer than
    ``k + 1`` labelled clips.

Choice of the support clips (:func:`make_support`)
    Per speaker, from the sorted File_IDs of its labelled clips in the evaluation splits, ``k``
    are drawn without replacement with ``numpy.random.default_rng([seed, h])``, ``h`` being the
    first four bytes (big-endian) of the SHA-256 of the speaker's name (UTF-8).  The choice thus
    depends only on the seed, the speaker and its File_IDs: not on the row order of
    ``data_info.csv`` nor on the other speakers.
"""

from __future__ import annotations

import csv
import hashlib
import io as _io
import logging
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench.corpora.exvo_labels import SPLITS, ExVoTable, read_data_info
from emobench.core import io
from emobench.core.errors import LabelFileError, UserError

HEADER = ("Subject_ID", "File_ID")
EVAL_SPLITS = ("val", "test")
LOG = logging.getLogger("emobench")  # emobench.core.experiment.LOG, without importing torch


@dataclass(frozen=True)
class SupportSets:
    """Support File_IDs per speaker; speakers sorted, each speaker's File_IDs sorted."""

    support: dict[str, tuple[str, ...]]
    _ids: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        support = {str(spk): tuple(sorted(str(f) for f in ids))
                   for spk, ids in sorted(self.support.items())}
        object.__setattr__(self, "support", support)
        object.__setattr__(self, "_ids", frozenset(f for ids in support.values() for f in ids))

    def is_support(self, file_id: str) -> bool:
        return file_id in self._ids

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(self.support)

    def __len__(self) -> int:
        """The number of speakers with a support set."""
        return len(self.support)


def _check_splits(splits: Iterable[str]) -> tuple[str, ...]:
    splits = tuple(splits)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        raise ValueError(f"splits must be a non-empty subset of {SPLITS}, got {splits}")
    return splits


def _speaker_key(speaker: str) -> int:
    """A stable 32-bit integer from the speaker's name (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.sha256(speaker.encode("utf-8")).digest()[:4], "big")


def _eval_rows(table: ExVoTable, splits: tuple[str, ...]) -> dict[str, list[int]]:
    """Speaker -> row indices of its labelled rows in ``splits`` (file order)."""
    rows: dict[str, list[int]] = {}
    keep = np.isin(table.splits.astype(str), splits) & table.labelled
    for i in np.flatnonzero(keep):
        rows.setdefault(table.speakers[i], []).append(int(i))
    return rows


def make_support(table: ExVoTable, k: int = 2, seed: int = 0,
                 splits: Iterable[str] = EVAL_SPLITS) -> tuple[SupportSets, list[str]]:
    """Draw ``k`` support clips per speaker (module docstring); (sets, skipped speakers).

    A speaker with fewer than ``k + 1`` labelled clips in ``splits`` would have no query left:
    it gets no support set and its name is returned in the sorted list of skipped speakers.
    """
    k, seed = operator.index(k), operator.index(seed)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    splits = _check_splits(splits)
    support, skipped = {}, []
    for speaker, rows in sorted(_eval_rows(table, splits).items()):
        ids = sorted(table.file_ids[i] for i in rows)
        if len(ids) < k + 1:
            skipped.append(speaker)
            continue
        rng = np.random.default_rng([seed, _speaker_key(speaker)])
        chosen = rng.choice(len(ids), size=k, replace=False)
        support[speaker] = tuple(sorted(ids[j] for j in chosen))
    return SupportSets(support), skipped


def write_support(path: str | Path, sets: SupportSets) -> Path:
    """Write ``sets`` as a support file (module docstring), atomically; return the path."""
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for speaker, ids in sets.support.items():
        writer.writerows((speaker, file_id) for file_id in ids)
    return io.write_text(path, buffer.getvalue())


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank record, the header included."""
    if not path.is_file():
        raise LabelFileError(path, ["support file does not exist (or is not a file)"])
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            rows, start = [], 1
            for cells in reader:
                if any(c.strip() for c in cells):
                    rows.append((start, [c.strip() for c in cells]))
                start = reader.line_num + 1
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelFileError(path, [f"not a readable CSV ({str(exc).strip()})"]) from None
    return rows


def read_support(path: str | Path, table: ExVoTable,
                 splits: Iterable[str] = EVAL_SPLITS) -> SupportSets:
    """Read and validate a support file against ``table``; every problem is reported at once."""
    path = Path(path)
    splits = _check_splits(splits)
    rows = _read_rows(path)
    if not rows or rows[0][0] != 1 or tuple(rows[0][1]) != HEADER:
        got = ",".join(rows[0][1]) if rows and rows[0][0] == 1 else ""
        raise LabelFileError(path, [f"line 1: the header must be {','.join(HEADER)!r}, "
                                    f"got {got!r}"])
    index = {fid: i for i, fid in enumerate(table.file_ids)}
    eval_rows = _eval_rows(table, splits)
    problems: list[str] = []
    lines_of: dict[str, list[int]] = {}  # File_ID -> lines
    valid: dict[str, dict[str, int]] = {}  # speaker -> {File_ID: first line}
    for line, cells in rows[1:]:
        if len(cells) != len(HEADER):
            problems.append(f"line {line}: expected {len(HEADER)} cells (Subject_ID,File_ID), "
                            f"got {len(cells)}")
            continue
        speaker, file_id = cells
        if not speaker:
            problems.append(f"line {line}: empty Subject_ID")
        if not file_id:
            problems.append(f"line {line}: empty File_ID")
            continue
        lines_of.setdefault(file_id, []).append(line)
        if file_id not in index:
            problems.append(f"line {line}: unknown File_ID {file_id!r} (not in {table.source})")
            continue
        i = index[file_id]
        if not speaker:
            continue
        ok = True
        if table.speakers[i] != speaker:
            problems.append(f"line {line}: File_ID {file_id!r} belongs to speaker "
                            f"{table.speakers[i]!r} in {table.source.name}, not {speaker!r}")
            ok = False
        if table.splits[i] not in splits:
            problems.append(f"line {line}: File_ID {file_id!r} is in the "
                            f"{table.splits[i].capitalize()} split; support clips come from "
                            f"{', '.join(s.capitalize() for s in splits)}")
            ok = False
        elif not table.labelled[i]:
            problems.append(f"line {line}: File_ID {file_id!r} has no labels (a support clip "
                            "must be labelled)")
            ok = False
        if ok:
            valid.setdefault(speaker, {}).setdefault(file_id, line)
    for file_id, lines in lines_of.items():
        if len(lines) > 1:
            problems.append(f"lines {', '.join(map(str, lines))}: File_ID {file_id!r} is listed "
                            f"{len(lines)} times")
    for speaker, ids in valid.items():
        if len(ids) >= len(eval_rows.get(speaker, ())):
            problems.append(f"lines {', '.join(map(str, sorted(ids.values())))}: every labelled "
                            f"clip of speaker {speaker!r} is in the support set; none is left "
                            "to query")
    if len(rows) == 1:
        problems.append("no support clips listed (only the header)")
    if problems:
        raise LabelFileError(path, problems)
    return SupportSets({speaker: tuple(ids) for speaker, ids in valid.items()})


def queries(table: ExVoTable, sets: SupportSets, speaker: str,
            splits: Iterable[str] = EVAL_SPLITS) -> np.ndarray:
    """Row indices (file order) of the speaker's labelled clips in ``splits`` not in its support."""
    if speaker not in sets.support:
        raise KeyError(f"speaker {speaker!r} has no support set")
    splits = _check_splits(splits)
    rows = _eval_rows(table, splits).get(speaker, [])
    return np.array([i for i in rows if not sets.is_support(table.file_ids[i])], dtype=np.int64)


def prepare(source: Path, target: Path, k: int = 2, seed: int = 0,
            audio_root: str | None = None) -> list[Path]:
    """Recipe: draw the support sets of ``source`` (a data_info.csv) and write them to ``target``.

    ``target`` is the CSV file to write; an existing directory, or a path not ending in
    ``.csv``, gets ``<target>/support_k<k>_seed<seed>.csv``.  The audio is not needed (its
    root, by default ``<source dir>/wav``, only resolves the paths).
    """
    source, target = Path(source), Path(target)
    table = read_data_info(source, audio_root or source.parent / "wav", check_audio=False)
    sets, skipped = make_support(table, k=k, seed=seed)
    if not sets.support:
        raise UserError(f"{source}: no Val/Test speaker has the {k + 1} labelled clips that "
                        f"k={k} support clips and at least one query need")
    if target.is_dir() or target.suffix.lower() != ".csv":
        target = target / f"support_k{k}_seed{seed}.csv"
    written = write_support(target, sets)
    LOG.info("%s: %d support clips (k=%d, seed=%d) for %d speakers", written,
             sum(map(len, sets.support.values())), k, seed, len(sets.support))
    if skipped:
        LOG.warning("%d speaker(s) skipped, fewer than %d labelled clips: %s", len(skipped), k + 1,
                    ", ".join(skipped))
    return [written]
