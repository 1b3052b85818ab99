"""Corpus durations (``configs/sweeps/corpora.yaml``) and measuring them from the audio files."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from emobench.core.resources import data_dir
from emobench.orchestration.sweep.fields import (SweepFileError, display, fail, known_keys, mapping,
                                                 optional, read_yaml, text)

CORPORA_FILE = data_dir("configs") / "sweeps" / "corpora.yaml"
CORPORA_FORMAT = "emobench-corpora/1"


@dataclass(frozen=True)
class CorpusDuration:
    """Size of one corpus's audio, with its source. ``None``: not known from our sources.

    ``capped_hours`` is the total with every utterance cut at ``cap_seconds`` (from the files,
    :func:`measure_audio`).
    """

    corpus: str
    utterances: int | None
    hours: float | None
    source: str
    max_utterance_seconds: float | None = None
    capped_hours: float | None = None
    cap_seconds: float | None = None

    def hours_for(self, max_seconds: float | None) -> tuple[float | None, bool]:
        """(audio hours that reach the upstream, whether the cap at ``max_seconds`` is applied).

        >>> CorpusDuration("a", 10, 5.0, "x", max_utterance_seconds=5.01).hours_for(10.0)
        (5.0, True)
        >>> CorpusDuration("b", 10, 12.0, "x", max_utterance_seconds=34.1).hours_for(10.0)
        (12.0, False)
        """
        if self.hours is None:
            return None, False
        if max_seconds is None:
            return self.hours, True
        if self.capped_hours is not None and self.cap_seconds == max_seconds:
            return self.capped_hours, True
        if self.max_utterance_seconds is not None and self.max_utterance_seconds <= max_seconds:
            return self.hours, True  # no utterance is longer than the cap
        return self.hours, False


CORPUS_KEYS = {"name", "utterances", "hours", "source", "max_utterance_seconds",
               "mean_utterance_seconds", "capped_hours", "cap_seconds"}


def load_corpora(path: str | Path | None = None) -> dict[str, CorpusDuration]:
    """Read and validate a corpora file (default: ``configs/sweeps/corpora.yaml``)."""
    data = read_yaml(path or CORPORA_FILE)
    source = display(path or CORPORA_FILE)
    data = mapping(data, source, "<top level>")
    if data.get("format", CORPORA_FORMAT) != CORPORA_FORMAT:
        raise fail(source, "format", f"expected {CORPORA_FORMAT!r}, got {data['format']!r}")
    if "corpora" not in data:
        raise fail(source, "corpora", "missing")
    result = {}
    for name, entry in mapping(data["corpora"], source, "corpora").items():
        where = f"corpora.{name}"
        entry = mapping(entry, source, where)
        known_keys(entry, sorted(CORPUS_KEYS), source, where)
        if "source" not in entry:
            raise fail(source, f"{where}.source", "missing (every number needs its source)")
        if ("capped_hours" in entry) != ("cap_seconds" in entry):
            raise fail(source, f"{where}.capped_hours",
                        "capped_hours and cap_seconds go together")
        for key in ("utterances", "hours"):
            if key not in entry:
                raise fail(source, f"{where}.{key}", "missing (write null when unknown)")
        result[str(name)] = CorpusDuration(
            str(name), optional(entry["utterances"], source, f"{where}.utterances", int),
            optional(entry["hours"], source, f"{where}.hours", float),
            text(entry["source"], source, f"{where}.source"),
            optional(entry.get("max_utterance_seconds"), source,
                      f"{where}.max_utterance_seconds", float),
            optional(entry.get("capped_hours"), source, f"{where}.capped_hours", float),
            optional(entry.get("cap_seconds"), source, f"{where}.cap_seconds", float))
    return result


def _file_names(table: Path) -> list[str]:
    with open(table, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise SweepFileError(f"{table}: empty label file")
        # EMO-SUPERB's released NNIME files leave the first header cell empty
        column = header.index("FileName") if "FileName" in header else (0 if header[0] == ""
                                                                         else None)
        if column is None:
            raise SweepFileError(f"{table}: no FileName column (header: {header})")
        return [row[column] for row in reader if row]


def measure_audio(label_dir: str | Path, audio_root: str | Path, max_seconds: float | None = 10.0,
                  corpus: str | None = None) -> CorpusDuration:
    """Durations of every audio file named by a label folder's ``labels_consensus_*.csv``
    (all folds, each file once), read from the file headers (soundfile), in total and cut at
    ``max_seconds`` per utterance. For corpora without a row in ``corpora.yaml`` (e.g. the demo
    corpus)."""
    from emobench.core.audio import num_frames, resolve_in_root

    label_dir = Path(label_dir)
    tables = sorted(label_dir.glob("labels_consensus_*.csv"))
    if not tables:
        raise SweepFileError(f"{label_dir}: no labels_consensus_<fold>.csv files")
    names = sorted({n for t in tables for n in _file_names(t)})
    total = capped = longest = 0.0
    for name in names:
        frames, rate = num_frames(resolve_in_root(audio_root, name))
        seconds = frames / rate
        total += seconds
        capped += seconds if max_seconds is None else min(seconds, max_seconds)
        longest = max(longest, seconds)
    return CorpusDuration(
        corpus or label_dir.parent.name, len(names), total / 3600,
        f"measured from the headers of {len(names)} files under {audio_root} "
        f"(labels: {label_dir})", longest, capped / 3600, max_seconds)


# --------------------------------------------------------------------------- work and estimate


