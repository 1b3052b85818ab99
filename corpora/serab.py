"""SERAB corpus recipes from one declarative spec per corpus (corpora/serab_corpora.py).

A :class:`CorpusSpec` says how a corpus names its files (regexes over the path relative to the
audio root, with named groups ``speaker`` and ``emotion``), what the emotion codes mean, which
files the distribution ships beside the utterances (excluded by an explicit rule and counted),
and SERAB's Table 1 counts. :func:`prepare` then

1. scans the audio root: every audio file must match a naming rule or an exclusion rule; files
   matching neither are listed in the error (nothing is skipped silently). AppleDouble files
   (``._*``, ``__MACOSX/``) and non-audio files (documents) are counted, not read;
2. checks the utterance and speaker counts against Table 1 (or the explicitly given
   ``expected_utterances`` / ``expected_speakers``) and refuses a wrong tree, giving expected
   and found, before anything is written;
3. assigns SERAB's seeded split (corpora/serab_split.py) by speaker (IEMOCAP: by session);
4. writes ``<target>/SERAB/config.json``, ``labels_consensus_1.csv`` (the emotion task's
   format: FileName relative to the audio root, one smoothed one-hot column per class, SpkrID,
   Gender, Split_Set) and ``serab_recipe.json`` (what was found, excluded, and the split).

Labels are the acted (IEMOCAP: majority-annotated) class smoothed like EMO-SUPERB's one-hot
votes, 0.95 / 0.05 / (C - 1), as the EmoDB recipe writes them. No audio is read.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emobench.corpora import serab_split
from emobench.corpora.emotion_labels import smooth
from emobench.core import io
from emobench.core.errors import UserError
from emobench.core.experiment import LOG

CONDITION = "SERAB"
SPLIT_NAMES = {"train": "Train", "dev": "Development", "test": "Test"}
MAX_LISTED = 20
SUMMARY = "serab_recipe.json"


@dataclass(frozen=True)
class Item:
    """One utterance: its path relative to the audio root and what its name says."""

    file: str
    speaker: str
    emotion: str  # the class name
    unit: str  # the split unit (the speaker; IEMOCAP: the session)
    gender: str = ""


@dataclass
class Scan:
    """What a scan found: utterances, files matching no rule, excluded and skipped files."""

    items: list[Item] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    excluded: dict[str, list[str]] = field(default_factory=dict)  # reason -> files
    skipped: Counter = field(default_factory=Counter)  # kind -> number of files
    problems: list[str] = field(default_factory=list)  # other errors (IEMOCAP label lines)


@dataclass(frozen=True)
class CorpusSpec:
    name: str  # recipe name without the serab_ prefix
    title: str
    naming: str  # the naming rule in words, for errors and docs
    patterns: tuple[str, ...]  # full-match regexes on the NFC '/'-path below the audio root
    emotions: dict[str, str]  # emotion code (group "emotion") -> class name
    classes: tuple[str, ...]  # class order of the label file
    utterances: int  # SERAB Table 1
    speakers: int  # SERAB Table 1
    fractions: tuple[float, float, float] = serab_split.SERAB_FRACTIONS
    audio_dir: str | None = None  # subfolder holding the audio, when the source has it
    extensions: tuple[str, ...] = (".wav",)
    excluded: dict[str, str] = field(default_factory=dict)  # regex on the path -> reason
    gender: Callable[[dict[str, str]], str] | None = None  # from the match groups
    unit: Callable[[dict[str, str]], str] | None = None  # split unit; default the speaker
    scan: Callable[["CorpusSpec", Path], Scan] | None = None  # custom scanner (IEMOCAP)
    label_source: str = "acted labels"
    count_note: str = ""  # appended to a count mismatch: known variants of the distribution


def nfc_path(path: Path, root: Path) -> str:
    """'/'-separated path of ``path`` below ``root``, in Unicode NFC (zips made on macOS store
    accented folder names such as CaFE's ``Colère`` decomposed)."""
    return unicodedata.normalize("NFC", path.relative_to(root).as_posix())


def is_apple_double(rel: str) -> bool:
    """macOS resource-fork copies that zips made on a Mac carry (``._x.wav``, ``__MACOSX/``).

    >>> is_apple_double("__MACOSX/f1/._dis-f1-b1.wav"), is_apple_double("f1/dis-f1-b1.wav")
    (True, False)
    """
    parts = rel.split("/")
    return "__MACOSX" in parts or parts[-1].startswith("._")


def walk(root: Path) -> list[Path]:
    """Every file below ``root``, sorted by path (symbolic links to folders not followed)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        found += [Path(folder) / name for name in sorted(files)]
    return sorted(found)


def scan_files(spec: CorpusSpec, root: Path) -> Scan:
    """Match every audio file below ``root`` against the spec's exclusion and naming rules."""
    scan = Scan()
    patterns = [re.compile(p) for p in spec.patterns]
    excluded = [(re.compile(p), reason) for p, reason in spec.excluded.items()]
    for path in walk(root):
        rel = nfc_path(path, root)  # matched in NFC; written as on disk (the audio's path)
        disk = path.relative_to(root).as_posix()
        if is_apple_double(rel):
            scan.skipped["macOS metadata (._*, __MACOSX/)"] += 1
            continue
        if path.suffix.lower() not in spec.extensions:
            scan.skipped[f"not audio ({', '.join(spec.extensions)})"] += 1
            continue
        reason = next((r for p, r in excluded if p.fullmatch(rel)), None)
        if reason is not None:
            scan.excluded.setdefault(reason, []).append(disk)
            continue
        match = next((m for m in (p.fullmatch(rel) for p in patterns) if m), None)
        if match is None:
            scan.unmatched.append(disk)
            continue
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        speaker = groups["speaker"]
        scan.items.append(Item(disk, speaker, spec.emotions[groups["emotion"]],
                               spec.unit(groups) if spec.unit else speaker,
                               spec.gender(groups) if spec.gender else ""))
    return scan


def listed(lines: list[str]) -> str:
    shown = "\n".join(f"  {line}" for line in lines[:MAX_LISTED])
    more = f"\n  ... {len(lines)} in all" if len(lines) > MAX_LISTED else ""
    return shown + more


def check(spec: CorpusSpec, root: Path, scan: Scan, expected: tuple[int, int],
          source_of_counts: str) -> None:
    """Refuse unmatched files, other problems and counts that differ from the expected ones."""
    if scan.unmatched:
        raise UserError(f"{root}: {len(scan.unmatched)} audio file(s) match no {spec.title} "
                        f"naming rule ({spec.naming}):\n{listed(scan.unmatched)}")
    if scan.problems:
        raise UserError(f"{root}: {spec.title}: {len(scan.problems)} problem(s):\n"
                        f"{listed(scan.problems)}")
    files = [item.file for item in scan.items]
    twice = sorted(f for f, n in Counter(files).items() if n > 1)
    if twice:
        raise UserError(f"{root}: {spec.title}: utterances listed twice:\n{listed(twice)}")
    found = (len(scan.items), len({item.speaker for item in scan.items}))
    if found != expected:
        excluded = sum(len(v) for v in scan.excluded.values())
        raise UserError(
            f"{root} is not the {spec.title} tree SERAB used: {source_of_counts} expects "
            f"{expected[0]} utterances of {expected[1]} speakers, found {found[0]} utterances "
            f"of {found[1]} speakers ({excluded} excluded by rule; naming rule: "
            f"{spec.naming}). {spec.count_note + ' ' if spec.count_note else ''}"
            "Nothing was written.")


def label_table(spec: CorpusSpec, items: list[Item], parts: dict[str, list[str]]) -> pd.DataFrame:
    classes = list(spec.classes)
    split_of = serab_split.split_of(parts)
    items = sorted(items, key=lambda item: item.file)
    onehot = np.eye(len(classes))[[classes.index(item.emotion) for item in items]]
    table = pd.DataFrame({"FileName": [item.file for item in items]})
    table = table.join(pd.DataFrame(smooth(onehot), columns=classes))
    table["SpkrID"] = [item.speaker for item in items]
    table["Gender"] = [item.gender for item in items]
    table["Split_Set"] = [SPLIT_NAMES[split_of[item.unit]] for item in items]
    return table


def prepare(spec: CorpusSpec, source: Path, target: Path, seed: int = serab_split.SERAB_SEED,
            expected_utterances: int | None = None,
            expected_speakers: int | None = None) -> list[Path]:
    """Check the tree under ``source`` and write ``<target>/SERAB/`` (see the module doc)."""
    source, target = Path(source), Path(target)
    if not source.is_dir():
        raise UserError(f"{spec.title} source {source} is not a folder")
    root = source / spec.audio_dir if spec.audio_dir and (source / spec.audio_dir).is_dir() \
        else source
    scan = (spec.scan or scan_files)(spec, root)
    given = expected_utterances is not None or expected_speakers is not None
    expected = (spec.utterances if expected_utterances is None else int(expected_utterances),
                spec.speakers if expected_speakers is None else int(expected_speakers))
    counts_from = "the given expected_utterances/expected_speakers" if given \
        else "SERAB's Table 1"
    check(spec, root, scan, expected, counts_from)
    if given:
        LOG.warning("%s: counts checked against %s (%d utterances, %d speakers), not against "
                    "SERAB's Table 1 (%d, %d)", spec.title, counts_from, *expected,
                    spec.utterances, spec.speakers)
    parts = serab_split.seeded_split({item.unit for item in scan.items}, spec.fractions, seed)
    table = label_table(spec, scan.items, parts)

    folder = target / CONDITION
    config = {"data_split_type": SPLIT_NAMES, "categorical": {"emo_type": list(spec.classes)},
              "dimensional": {"max_score": 1, "min_score": 0},
              "description": f"{spec.title} {CONDITION} - {len(spec.classes)} classes "
                             f"({spec.label_source})",
              "audio_root": str(root.resolve())}
    rows = table["Split_Set"].value_counts()
    summary = {
        "recipe": f"serab_{spec.name}", "corpus": spec.title, "audio_root": str(root.resolve()),
        "table1": {"utterances": spec.utterances, "speakers": spec.speakers},
        "checked_against": {"utterances": expected[0], "speakers": expected[1],
                            "from": counts_from},
        "found": {"utterances": len(table), "speakers": int(table["SpkrID"].nunique())},
        "classes": {c: int((table[list(spec.classes)].idxmax(axis=1) == c).sum())
                    for c in spec.classes},
        "excluded": {reason: {"count": len(files), "files": files}
                     for reason, files in scan.excluded.items()},
        "skipped": dict(scan.skipped),
        "split": {"rule": "sorted unit ids shuffled by numpy RandomState(seed); cut at "
                          "int(cumulative fraction * n)", "seed": int(seed),
                  "fractions": list(spec.fractions), "units": parts,
                  "rows": {s: int(rows.get(SPLIT_NAMES[s], 0)) for s in SPLIT_NAMES}},
    }
    texts = {folder / "config.json": json.dumps(config, indent=4) + "\n",
             folder / "labels_consensus_1.csv": table.to_csv(index=False, float_format="%.6g"),
             folder / SUMMARY: json.dumps(summary, indent=2) + "\n"}
    written = [io.write_text(path, text) for path, text in texts.items()]  # all checked first
    LOG.info("%s: %d utterances of %d speakers; rows per split %s; excluded %s; skipped %s",
             spec.title, len(table), summary["found"]["speakers"], summary["split"]["rows"],
             {r: len(f) for r, f in scan.excluded.items()}, dict(scan.skipped))
    return written
