"""What ExVo-Generate scoring reads besides the reference corpus: the generated clips and the
optional human ratings (docs/exvo_generate.md).

Generated clips: ``<root>/<emotion>/<any name>``, one subfolder per targeted emotion, named like
one of the classifier's emotions (any case: ``amusement/`` is Amusement). Every other entry is
an error, except hidden names (``.DS_Store``), which are skipped and recorded. Every file of an
emotion folder is a clip, read through soundfile (wav, flac, ogg, mp3, ...); its header is read
before any feature is extracted, so an unreadable file is named before anything runs. An emotion
needs at least two clips (a covariance); the challenge asks for 100.

Ratings (``--ratings``), a CSV with a header::

    file,Awe,Excitement,Amusement,Awkwardness,Fear,Horror,Distress,Triumph,Sadness,Surprise
    Amusement/0007.wav,0.05,0.41,0.93,0.10,0.0,0.0,0.02,0.12,0.0,0.20

one row per rated clip: ``file`` is its path relative to the generated root (its folder is the
targeted emotion), then one column per emotion (any order, matched in any case; other columns
are ignored and recorded) with the clip's average human intensity rating of that emotion, normed
to [0, 1]. Every problem (a missing column, an empty or non-numeric value, a value outside
[0, 1], a file that is not one of the generated clips, a clip rated twice) is reported at once
with its CSV line (the header is line 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from emobench.core.audio import AudioError, num_frames, resolve_in_root
from emobench.core.errors import LabelFileError, UserError
from emobench.core.registry import closest
from emobench.downstream.exvo.generation_metrics import MIN_CLIPS

FILE_COLUMN = "file"


@dataclass(frozen=True)
class Generated:
    """The generated clips by targeted emotion (sorted by name), and the hidden entries skipped."""

    root: Path
    clips: dict[str, list[Path]]
    skipped: list[str] = field(default_factory=list)

    def emotion_of(self) -> dict[Path, str]:
        return {path: name for name, paths in self.clips.items() for path in paths}


def _emotion_name(folder: str, emotions: Sequence[str]) -> str | None:
    by_lower = {e.lower(): e for e in emotions}
    return by_lower.get(folder.lower())


def scan_generated(root: str | Path, emotions: Sequence[str]) -> Generated:
    """The clips under ``root``; every problem is reported at once with its path."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise UserError(f"--generated {root}: not a folder (expected one subfolder per targeted "
                        f"emotion: {', '.join(emotions)})")
    problems: list[str] = []
    clips: dict[str, list[Path]] = {}
    skipped: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            skipped.append(entry.name)
            continue
        if not entry.is_dir():
            problems.append(f"{entry}: a file at the top level; clips go into a subfolder named "
                            "after their targeted emotion")
            continue
        name = _emotion_name(entry.name, emotions)
        if name is None:
            near = closest(entry.name, emotions)
            hint = f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(emotions)}"
            problems.append(f"{entry}: {entry.name!r} is not one of the classifier's emotions "
                            f"({hint})")
            continue
        if name in clips:
            problems.append(f"{entry}: a second folder for {name}")
            continue
        clips[name] = []
        for path in sorted(entry.iterdir()):
            if path.name.startswith("."):
                skipped.append(f"{entry.name}/{path.name}")
            elif not path.is_file():
                problems.append(f"{path}: not a file (emotion folders hold audio files only)")
            else:
                try:
                    frames, _ = num_frames(path)
                except AudioError as exc:
                    problems.append(str(exc))
                    continue
                if frames == 0:
                    problems.append(f"{path}: audio has zero length")
                clips[name].append(path)
        if len(clips[name]) < MIN_CLIPS:
            problems.append(f"{entry}: {len(clips[name])} clip(s); a covariance (FID) needs at "
                            f"least {MIN_CLIPS} (the challenge asks for 100 per emotion)")
    if not clips and not problems:
        problems.append(f"{root}: no emotion subfolder (expected one of: {', '.join(emotions)})")
    if problems:
        raise LabelFileError(root, problems)
    return Generated(root, clips, skipped)


@dataclass(frozen=True)
class Ratings:
    """Per targeted emotion the ``(n, E)`` ratings of its rated clips (columns in the order of
    the classifier's emotions), the CSV and the columns it ignored."""

    source: Path
    by_emotion: dict[str, np.ndarray]
    ignored_columns: list[str]


def read_ratings(path: str | Path, generated: Generated, emotions: Sequence[str]) -> Ratings:
    """The ratings CSV (module docstring); every problem is reported at once with its line."""
    path = Path(path).absolute()
    if not path.is_file():
        raise UserError(f"--ratings {path}: file does not exist")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"--ratings {path}: not a readable CSV ({exc})") from None
    by_lower = {c.strip().lower(): c for c in frame.columns}
    wanted = [FILE_COLUMN, *emotions]
    missing = [c for c in wanted if c.lower() not in by_lower]
    if missing:
        raise LabelFileError(path, [f"missing column {c!r}" + (
            f" (closest: {', '.join(near)})" if (near := closest(c, frame.columns)) else "")
            for c in missing])
    columns = [by_lower[c.lower()] for c in emotions]
    ignored = [c for c in frame.columns if c not in columns and c != by_lower[FILE_COLUMN]]
    emotion_of = {p.resolve(): name for p, name in generated.emotion_of().items()}
    problems: list[str] = []
    rows: dict[str, list[np.ndarray]] = {}
    seen: dict[Path, int] = {}
    for i, record in enumerate(frame.itertuples(index=False)):
        line = i + 2
        values = dict(zip(frame.columns, record))
        name = values[by_lower[FILE_COLUMN]].strip()
        try:
            clip = resolve_in_root(generated.root, name) if name else None
        except AudioError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        if clip is None or clip not in emotion_of:
            problems.append(f"line {line}: {name!r} is not one of the generated clips under "
                            f"{generated.root}")
            continue
        if clip in seen:
            problems.append(f"line {line}: {name!r} is rated twice (first on line {seen[clip]}); "
                            "give one row of average ratings per clip")
            continue
        seen[clip] = line
        row, bad = np.full(len(columns), np.nan), []
        for j, column in enumerate(columns):
            try:
                row[j] = float(values[column])
            except ValueError:
                bad.append(f"{column}={values[column]!r} is not a number")
                continue
            if not 0.0 <= row[j] <= 1.0:
                bad.append(f"{column}={values[column]} is outside [0, 1] (norm the average "
                           "ratings to 0-1)")
        if bad:
            problems.append(f"line {line} ({name}): " + "; ".join(bad))
            continue
        rows.setdefault(emotion_of[clip], []).append(row)
    if not rows and not problems:
        problems.append("no rated clip")
    if problems:
        raise LabelFileError(path, problems)
    return Ratings(path, {name: np.stack(r) for name, r in rows.items()}, ignored)
