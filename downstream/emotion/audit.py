"""Leakage audit of an EMO-SUPERB label folder: is every fold a clean train/dev/test partition?

For each ``labels_consensus_<fold>.csv`` the audit reports the rows per split, speakers and
partition units (sessions, dyads: ``unit_regex`` of a ``partitions/<corpus>.yaml`` condition)
found in more than one split, identical audio content (sha256 of the file bytes) under names in
different splits, row counts against the partition file's ``expected_rows``, classes without a
training positive, and the class-balanced weights of the fold. A speaker, unit or content
overlap makes the fold *leaky*. Everything returned is plain JSON-able data; :func:`summary`
renders it for a terminal.
"""

from __future__ import annotations

import re
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from emobench.corpora import partitions
from emobench.corpora.emotion_labels import SPLITS, LabelTable, read_labels
from emobench.downstream.emotion.loss import class_balanced_weights
from emobench.core.config import ConfigError
from emobench.core.experiment import LOG
from emobench.core.io import sha256_file

LEAK_KINDS = ("speaker_overlap", "unit_overlap", "content_overlap")


def partition_spec(name: str) -> dict[str, Any]:
    """``"<corpus>/<condition>"`` -> that condition of ``partitions/<corpus>.yaml``, with the
    corpus-level ``unit_regex`` and ``dyad_regex`` (if any) under the condition's own keys.
    ``dyad_regex`` names a unit checked by the audit only (e.g. NNIME's sessions, whose folds are
    speaker groups)."""
    corpus, sep, condition = str(name).partition("/")
    available = sorted(p.stem for p in partitions.PARTITIONS.glob("*.yaml"))
    if not sep or not corpus or not condition:
        raise ConfigError(f"data.partition={name!r} must be <corpus>/<condition>, "
                          f"e.g. emodb/SERAB (partition files: {available})")
    if corpus not in available:
        raise ConfigError(f"data.partition={name!r}: no partition file "
                          f"partitions/{corpus}.yaml (partition files: {available})")
    spec = partitions.load(corpus) or {}
    conditions = spec.get("conditions") or {}
    if condition not in conditions:
        raise ConfigError(f"data.partition={name!r}: partitions/{corpus}.yaml has no condition "
                          f"{condition!r} (conditions: {sorted(conditions)})")
    top = {key: spec[key] for key in ("unit_regex", "dyad_regex") if spec.get(key)}
    return {**top, **conditions[condition]}


def fold_names(label_dir: str | Path) -> list[int | str]:
    """The folds of a condition folder, from its ``labels_consensus_<fold>.csv`` names."""
    found = []
    for path in Path(label_dir).glob("labels_consensus_*.csv"):
        fold = re.fullmatch(r"labels_consensus_(.+)\.csv", path.name).group(1)
        found.append(int(fold) if fold.isdigit() else fold)
    return sorted(found, key=lambda f: (isinstance(f, str), f if isinstance(f, str) else int(f)))


def _split_counts(names: Iterable[str | None], splits: np.ndarray) -> dict[str, dict[str, int]]:
    """{key: {split: rows}} for keys found in more than one split (None keys are skipped)."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    for key, split in zip(names, splits):
        if key is not None:
            rows[key][split] += 1
    return {k: {s: n for s, n in v.items() if n} for k, v in sorted(rows.items())
            if sum(1 for n in v.values() if n) > 1}


def _where(rows: dict[str, int]) -> str:
    return " and ".join(f"{split} ({n} rows)" for split, n in rows.items())


def _expected(partition: dict[str, Any] | None, fold: int | str) -> dict[str, int] | None:
    table = (partition or {}).get("expected_rows") or {}
    for key in (fold, str(fold), int(fold) if str(fold).isdigit() else None):
        if key in table:
            return {s: int(n) for s, n in table[key].items()}
    return None


def _problem(kind: str, message: str) -> dict[str, str]:
    return {"kind": kind, "message": message}


def audit_fold(table: LabelTable, fold: int | str, partition: dict[str, Any] | None = None,
               hash_audio: bool = True, hashes: dict[Path, str] | None = None) -> dict[str, Any]:
    """The audit of one read fold; ``hashes`` (path -> sha256) is filled and reused."""
    hashes = {} if hashes is None else hashes
    at = f"fold {fold}"
    problems: list[dict[str, str]] = []
    counts = {s: int((table.splits == s).sum()) for s in SPLITS}

    speakers = _split_counts(table.speakers, table.splits)
    for spk, rows in speakers.items():
        problems.append(_problem("speaker_overlap", f"{at}: speaker {spk!r} is in "
                                 f"{_where(rows)}"))

    units = unmatched = None
    for key in ("unit_regex", "dyad_regex"):
        if not (partition and partition.get(key)):
            continue
        regex = partition[key]
        of = [partitions.unit_of({"unit_regex": regex}, n, s)
              for n, s in zip(table.file_names, table.speakers)]
        found = _split_counts(of, table.splits)
        units = {**(units or {}), **{(u if key == "unit_regex" else f"dyad {u}"): rows
                                     for u, rows in found.items()}}
        for unit, rows in found.items():
            problems.append(_problem("unit_overlap", f"{at}: unit {unit!r} ({key} "
                                     f"{regex!r}) is in {_where(rows)}"))
        missed = [n for n, u in zip(table.file_names, of) if u is None]
        unmatched = (unmatched or []) + missed
        if missed:
            problems.append(_problem("unit_unmatched", f"{at}: {len(missed)} file(s) match no "
                                     f"{key} {regex!r}, e.g. {missed[0]!r}; their unit is not "
                                     "checked"))

    content = None
    if hash_audio:
        groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for name, path, split in zip(table.file_names, table.paths, table.splits):
            if path not in hashes:
                hashes[path] = sha256_file(path)
            groups[hashes[path]].append((name, str(split)))
        content = []
        for digest, files in sorted(groups.items()):
            pairs = [[{"file": a, "split": sa}, {"file": b, "split": sb}]
                     for (a, sa), (b, sb) in combinations(files, 2) if sa != sb]
            if pairs:
                content.append({"sha256": digest, "pairs": pairs})
                listed = ", ".join(f"{p[0]['file']} ({p[0]['split']}) = {p[1]['file']} "
                                   f"({p[1]['split']})" for p in pairs[:3])
                more = f" and {len(pairs) - 3} more pairs" if len(pairs) > 3 else ""
                problems.append(_problem("content_overlap", f"{at}: identical audio in "
                                         f"different splits: {listed}{more} "
                                         f"(sha256 {digest[:12]})"))

    expected = _expected(partition, fold)
    mismatches = {}
    if expected is not None:
        mismatches = {s: {"expected": expected.get(s), "found": counts[s]} for s in SPLITS
                      if expected.get(s) != counts[s]}
        for split, m in mismatches.items():
            problems.append(_problem("expected_rows", f"{at}: {split} has {m['found']} rows, the "
                                     f"partition file expects {m['expected']}"))

    train = table.labels[table.splits == "train"]
    positives = (train > 1.0 / len(table.classes)).sum(axis=0)
    empty = [c for c, n in zip(table.classes, positives) if n == 0]
    for c in empty:
        problems.append(_problem("no_train_positive", f"{at}: class {c!r} has no training "
                                 f"positive (y > 1/C): its weight is 0"))
    try:
        weights = [float(w) for w in class_balanced_weights(train)]
    except ValueError as exc:
        weights = None
        problems.append(_problem("no_train_positive", f"{at}: {exc}"))

    leaky = any(p["kind"] in LEAK_KINDS for p in problems)
    return {
        "fold": fold, "source": str(table.source), "classes": list(table.classes),
        "counts": counts, "leaky": leaky,
        "speaker_overlap": speakers, "unit_overlap": units,
        "units_unmatched": None if unmatched is None else len(unmatched),
        "content_overlap": content, "expected_rows": expected, "count_mismatches": mismatches,
        "no_train_positive": empty,
        "class_weights": {"N": int(len(train)),
                          "positives": dict(zip(table.classes, map(int, positives))),
                          "weights": None if weights is None
                          else dict(zip(table.classes, weights))},
        "problems": problems,
    }


def audit(label_dir: str | Path, audio_root: str | Path | None,
          folds: Iterable[int | str] | None = None, partition: dict[str, Any] | None = None,
          hash_audio: bool = True, speakerless: bool = False) -> dict[str, Any]:
    """Audit every ``labels_consensus_<k>.csv`` of ``label_dir`` (or ``folds``).

    Malformed label files raise :class:`LabelFileError` as in training; speakers in two splits
    are read (not refused) so that they can be reported. Without ``audio_root`` the label files
    alone are audited: no audio file is opened and the identical-audio check is skipped.
    """
    label_dir = Path(label_dir)
    hash_audio = hash_audio and audio_root is not None
    folds = fold_names(label_dir) if folds is None else list(folds)
    if not folds:
        raise ConfigError(f"{label_dir} holds no labels_consensus_<fold>.csv")
    hashes: dict[Path, str] = {}
    reports = {}
    for fold in folds:
        table = read_labels(label_dir, fold, label_dir if audio_root is None else audio_root,
                            allow_speaker_overlap=True, check_audio=audio_root is not None,
                            speakerless=speakerless)
        reports[str(fold)] = audit_fold(table, fold, partition, hash_audio, hashes)
    problems = [p["message"] for r in reports.values() for p in r["problems"]]
    return {"label_dir": str(label_dir),
            "audio_root": None if audio_root is None else str(audio_root),
            "partition_checks": {"units": bool(partition and (partition.get("unit_regex")
                                                             or partition.get("dyad_regex"))),
                                 "expected_rows": bool(partition
                                                       and partition.get("expected_rows")),
                                 "content": hash_audio},
            "leaky": any(r["leaky"] for r in reports.values()), "problems": problems,
            "folds": reports}


def summary(report: dict[str, Any]) -> str:
    """A readable multi-line rendering of :func:`audit`'s report."""
    folds = report["folds"]
    state = "LEAKY" if report["leaky"] else "no leakage found"
    checks = report["partition_checks"]
    skipped = [what for what, on in (("units", checks["units"]), ("content", checks["content"]),
                                     ("expected rows", checks["expected_rows"])) if not on]
    lines = [f"audit of {report['label_dir']} ({len(folds)} fold(s)): {state}"
             + (f" [not checked: {', '.join(skipped)}]" if skipped else "")]
    if report.get("audio_root") is None:
        lines.append("audio checks skipped: no data.audio_root (label files only; the audio "
                     "files' existence, headers and identical content were not checked)")
    for fold in folds.values():
        counts = " / ".join(f"{fold['counts'][s]} {s}" for s in SPLITS)
        lines.append(f"fold {fold['fold']}: {counts}" + (" LEAKY" if fold["leaky"] else ""))
        cw = fold["class_weights"]
        if cw["weights"] is not None:
            weights = ", ".join(f"{c} {w:.4f}" for c, w in cw["weights"].items())
            lines.append(f"  class-balanced weights (N={cw['N']}): {weights}")
        for p in fold["problems"]:
            lines.append(f"  - {p['message']}")
    return "\n".join(lines)


def audit_for_training(table: LabelTable, data: Any, warnings: list[str]) -> dict[str, Any]:
    """Audit the fold being trained; refuse leakage unless ``data.allow_leakage`` (then warn).

    ``data`` is the emotion task's data config; every non-leak problem (except classes without
    a training positive, warned with the class weights) is appended to ``warnings``.
    """
    spec = partition_spec(data.partition) if data.partition else None
    report = audit_fold(table, data.fold, spec, hash_audio=True)
    leaks = [p["message"] for p in report["problems"] if p["kind"] in LEAK_KINDS]
    if leaks and not data.allow_leakage:
        raise ConfigError(f"{table.source}: fold {data.fold} leaks between splits:\n  "
                          + "\n  ".join(leaks) + "\nfix the partition (python run_downstream.py"
                          " -m audit audits every fold) or set data.allow_leakage=true to train "
                          "anyway (the results are then not speaker/session-independent)")
    for problem in report["problems"]:
        if problem["kind"] != "no_train_positive":
            warnings.append(problem["message"])
            LOG.warning(warnings[-1])
    return report
