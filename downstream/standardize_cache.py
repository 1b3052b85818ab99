"""Waveform standardisation statistics, fitted once and then read from the feature cache folder.

EMO-SUPERB standardises every waveform by the mean and std of all samples of the training set
(:func:`downstream.waveforms.fit_standardizer`), which decodes and resamples every training file.
With a ``cache_dir`` the two numbers are stored as
``<cache_dir>/standardizers/<key>.json``, keyed by the ordered content hashes (sha256) of the
files they were fitted on, the truncation (``max_seconds``), the sample rate and a format version:
the same files and preprocessing give the same key, so a warm run decodes no audio for them
(it hashes the files' bytes, 0.06 s CPU for EmoDB's 535 files). Any other file, order or
preprocessing gives another key. Written atomically; an unreadable or malformed file is refitted
and rewritten (and logged), never trusted.

:func:`training_standardizer` is the tasks' entry (multitask, ExVo few-shot, score_generation;
the emotion task goes through ``downstream.emotion.standardization``).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Sequence

from emobench.core import io
from emobench.core.experiment import LOG
from emobench.downstream.waveforms import Standardizer, WaveformDataset, fit_standardizer
from emobench.upstream.cache import audio_keys

VERSION = 1
SAMPLE_RATE = 16_000


def statistics_key(keys: Sequence[str], max_seconds: float | None) -> str:
    """The cache key of statistics fitted on files with these content hashes, in this order.

    >>> statistics_key(["ab", "cd"], 10.0) == statistics_key(["ab", "cd"], 10.0)
    True
    >>> statistics_key(["ab", "cd"], 10.0) == statistics_key(["cd", "ab"], 10.0)
    False
    """
    text = json.dumps({"audio": list(keys), "max_seconds": max_seconds,
                       "sample_rate": SAMPLE_RATE, "version": VERSION})
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def statistics_file(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / "standardizers" / f"{key}.json"


def _read(path: Path) -> Standardizer | None:
    try:
        saved = json.loads(path.read_text())
        mean, std = float(saved["mean"]), float(saved["std"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        LOG.warning("%s: unreadable standardisation statistics (%s): fitting them again", path,
                    exc)
        return None
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        LOG.warning("%s: invalid statistics (mean %r, std %r): fitting them again", path, mean,
                    std)
        return None
    return Standardizer(mean, std)


def cached_standardizer(dataset: WaveformDataset, cache_dir: str | Path | None
                        ) -> Standardizer:
    """:func:`fit_standardizer` of ``dataset``, read from / written to ``cache_dir`` when given."""
    if cache_dir is None:
        return fit_standardizer(dataset)
    keys = audio_keys(dataset.paths)
    path = statistics_file(cache_dir, statistics_key(keys, dataset.max_seconds))
    found = _read(path)
    if found is not None:
        LOG.info("waveform standardisation statistics of %d files read from %s", len(keys), path)
        return found
    fitted = fit_standardizer(dataset)
    io.write_json(path, {"mean": fitted.mean, "std": fitted.std, "files": len(keys),
                         "max_seconds": dataset.max_seconds, "version": VERSION})
    return fitted


def training_standardizer(standardize: bool, train_paths: Sequence[Path],
                          max_seconds: float | None, source: str | Path,
                          cache_dir: str | Path | None) -> Standardizer:
    """The waveform standardizer of a task's ``data`` settings: the identity when
    ``standardize`` is off, else the (cached) statistics of the training files."""
    if not standardize:
        return Standardizer()
    return cached_standardizer(WaveformDataset(train_paths, max_seconds, Standardizer(), False,
                                               source), cache_dir)
