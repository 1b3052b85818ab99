"""Cost model of a sweep: compute hours from measured throughput and corpus durations.

With the pooled feature cache (upstream/cache.py) a sweep's cost has two parts:

- **extraction**: the frozen upstream runs once per utterance and extraction spec. Compute hours
  = audio hours x passes x real-time factor (RTF, seconds of compute per second of audio). Under
  EMO-SUPERB's protocol the waveform is standardised by each fold's training set, so every fold
  is its own spec and extracts the whole corpus (train, dev and test) once: passes = folds. Only
  the first ``data.max_seconds`` (10 s) of an utterance reach the upstream, so the hours are
  capped at 10 s per utterance where the utterance durations are known; elsewhere the uncapped
  total is used (an upper bound) and the estimate says so.
- **training**: the head on cached per-layer means, never the upstream. Compute hours = runs x
  (epochs x (train utterances x train cost + dev utterances x eval cost + per-epoch checkpoint
  cost) + test utterances x eval cost), with costs measured by ``benchmarks/train_cost.py``.

Measurements live in a throughput file (``configs/sweeps/throughput.yaml``, or one written on
another machine by ``benchmarks/upstream_rtf.py --device cuda --out FILE``), per device kind
(``cpu-2core``, ``cuda-<GPU name>``), each with its provenance. Nothing is converted between
devices: an upstream without a measurement on the requested device is "not measured" there, and
its hours on the reference machine (the file's ``reference_device``) are shown instead.

>>> tp = Throughput.from_dict({"reference_device": "cpu-2core", "devices": {"cpu-2core": {
...     "machine": "test", "extraction": {"date": "2026-01-01", "command": "by hand",
...     "rtf": {"apc_960hr": 0.5}}}}})
>>> e = estimate([ExtractionWork("apc_960hr", "demo", 2.0, passes=3)], [], tp)
>>> e.rows[0].extraction_hours  # 2 h x 3 passes x RTF 0.5
3.0
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from emobench.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
THROUGHPUT_FILE = REPO_ROOT / "configs" / "sweeps" / "throughput.yaml"
CORPORA_FILE = REPO_ROOT / "configs" / "sweeps" / "corpora.yaml"
THROUGHPUT_FORMAT = "emobench-throughput/1"
CORPORA_FORMAT = "emobench-corpora/1"

# EMO-SUPERB's 16 rows, in the order of the paper's Table 2 (canonical s3prl names).
EMO_SUPERB_UPSTREAMS = (
    "xls_r_1b", "wavlm_large", "hubert_large_ll60k", "wav2vec2_large_lv60_cv_swbd_fsh",
    "data2vec_large_ll60k", "decoar2", "wav2vec2_large_960", "apc_960hr", "vq_apc_960hr",
    "tera_960hr", "wav2vec_large", "mockingjay_960hr", "npc_960hr", "vq_wav2vec", "modified_cpc",
    "fbank")

PAPER_GPU_HOURS = 3300.0
PAPER_HARDWARE = "Nvidia Tesla V100 32 GB"
PAPER_CITATION = (
    'EMO-SUPERB (Wu et al., 2024), Section 4.4 "Objective function and training details": '
    '"We use the Nvidia Tesla v100 GPUs with 32 GB memory for all results. The total of GPU '
    'hours is around 3,300 hours."')

NOT_MEASURED = "not measured"


class SweepFileError(UserError, ValueError):
    """A throughput or corpora file that cannot be used; the message names the file and key."""


# --------------------------------------------------------------------------- throughput


@dataclass(frozen=True)
class Provenance:
    """Where a set of measurements comes from."""

    date: str
    command: str
    machine: str = ""
    method: str = ""
    source: str = ""

    def describe(self) -> str:
        parts = [f"{self.date}: {self.command}"]
        parts += [p for p in (self.machine, self.method, self.source) if p]
        return "; ".join(parts)


@dataclass(frozen=True)
class TrainingCost:
    """Seconds of training on cached pooled features (``benchmarks/train_cost.py``)."""

    train_per_utt_epoch: float  # one training epoch / training utterances
    eval_per_utt: float  # one evaluation (loss and metrics) / evaluated utterances
    per_epoch: float = 0.0  # checkpoints written once per epoch

    def run_seconds(self, epochs: int, train: int, dev: int = 0, test: int = 0) -> float:
        """One training run: every epoch trains and evaluates dev, then test once.

        >>> TrainingCost(1e-3, 1e-4, 0.5).run_seconds(epochs=10, train=1000, dev=100, test=50)
        15.105
        """
        return round(epochs * (train * self.train_per_utt_epoch + dev * self.eval_per_utt
                               + self.per_epoch) + test * self.eval_per_utt, 9)


@dataclass(frozen=True)
class DeviceThroughput:
    """Measurements on one device kind."""

    kind: str
    machine: str
    rtf: Mapping[str, float] = field(default_factory=dict)  # canonical upstream -> RTF
    training: Mapping[str, Mapping[int, TrainingCost]] = field(default_factory=dict)
    extraction_provenance: Provenance | None = None
    training_provenance: Provenance | None = None


@dataclass(frozen=True)
class Throughput:
    """Measured throughput per device kind; ``reference_device`` is shown where the requested
    device has no measurement. ``sources`` lists the files it was read from."""

    devices: Mapping[str, DeviceThroughput]
    reference_device: str | None = None
    sources: tuple[str, ...] = ()

    def rtf(self, upstream: str, device: str) -> float | None:
        entry = self.devices.get(device)
        return None if entry is None else entry.rtf.get(canonical_upstream(upstream))

    def training_cost(self, upstream: str, device: str,
                      batch_size: int = 32) -> TrainingCost | None:
        entry = self.devices.get(device)
        if entry is None:
            return None
        return entry.training.get(canonical_upstream(upstream), {}).get(int(batch_size))

    def resolve_device(self, name: str | None) -> str:
        """A device kind of this file for ``name``: the kind itself, or for a plain ``cpu`` /
        ``cuda`` the only kind of that type (the reference device first for ``cpu``); otherwise
        ``name`` unchanged (nothing is measured on it). None: the reference device.

        >>> tp = Throughput({"cpu-2core": None, "cuda-H100": None}, "cpu-2core")
        >>> tp.resolve_device("cuda"), tp.resolve_device("cpu"), tp.resolve_device("cuda:1")
        ('cuda-H100', 'cpu-2core', 'cuda-H100')
        """
        if name is None:
            if self.reference_device is None:
                raise UserError("no device given and the throughput file names no "
                                "reference_device")
            return self.reference_device
        if name in self.devices:
            return name
        family = name.split(":")[0]
        if family in ("cpu", "cuda"):
            if family == "cpu" and (self.reference_device or "").startswith("cpu-"):
                return self.reference_device  # type: ignore[return-value]
            kinds = [k for k in self.devices if k.startswith(f"{family}-")]
            if len(kinds) == 1:
                return kinds[0]
        return name

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> "Throughput":
        """Validate a parsed throughput file; errors name ``source`` and the key."""
        return _parse_throughput(data, source)

    def merged(self, other: "Throughput") -> "Throughput":
        """``other``'s devices added; for a device in both, ``other``'s sections win."""
        devices = dict(self.devices)
        for kind, new in other.devices.items():
            old = devices.get(kind)
            if old is None:
                devices[kind] = new
                continue
            extraction = new.extraction_provenance is not None
            training = new.training_provenance is not None
            devices[kind] = DeviceThroughput(
                kind, new.machine or old.machine,
                new.rtf if extraction else old.rtf,
                new.training if training else old.training,
                new.extraction_provenance if extraction else old.extraction_provenance,
                new.training_provenance if training else old.training_provenance)
        return Throughput(devices, other.reference_device or self.reference_device,
                          self.sources + other.sources)


def canonical_upstream(name: str) -> str:
    """The registry's canonical name of an upstream (aliases and paper names accepted).

    >>> canonical_upstream("WavLM"), canonical_upstream("apc")
    ('wavlm_large', 'apc_960hr')
    """
    from upstream.registry import UPSTREAMS

    return UPSTREAMS.canonical(name)


def _fail(source: str, key: str, problem: str) -> SweepFileError:
    return SweepFileError(f"{source}: {key}: {problem}")


def _mapping(value: Any, source: str, key: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise _fail(source, key, f"expected a mapping, got {type(value).__name__} {value!r}")
    return value


def _known_keys(entry: Mapping, valid: Sequence[str], source: str, where: str) -> None:
    """Refuse the first key of ``entry`` (at ``where``) that is not in ``valid``."""
    unknown = sorted(set(entry) - set(valid))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise _fail(source, key, f"unknown key (valid: {', '.join(valid)})")


def _number(value: Any, source: str, key: str, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(source, key, f"expected a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise _fail(source, key, f"expected a {'positive' if positive else 'non-negative'} "
                                 f"number, got {value!r}")
    return float(value)


def _text(value: Any, source: str, key: str) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value) == "":
        raise _fail(source, key, f"expected a non-empty text, got {value!r}")
    return str(value)


def _upstream_key(name: Any, source: str, key: str) -> str:
    from emobench.registry import UnknownNameError

    try:
        return canonical_upstream(str(name))
    except UnknownNameError as exc:
        raise _fail(source, f"{key}.{name}", str(exc)) from None


def _provenance(section: Mapping, source: str, key: str) -> Provenance:
    for required in ("date", "command"):
        if required not in section:
            raise _fail(source, f"{key}.{required}", "missing (every measurement needs its "
                                                     "date and the command that produced it)")
    return Provenance(*(_text(section[k], source, f"{key}.{k}") if k in ("date", "command")
                        else str(section.get(k, "") or "")
                        for k in ("date", "command", "machine", "method", "source")))


def _parse_throughput(data: Any, source: str) -> Throughput:
    data = _mapping(data, source, "<top level>")
    if data.get("format", THROUGHPUT_FORMAT) != THROUGHPUT_FORMAT:
        raise _fail(source, "format", f"expected {THROUGHPUT_FORMAT!r}, got {data['format']!r}")
    _known_keys(data, ("format", "reference_device", "devices"), source, "")
    if "devices" not in data:
        raise _fail(source, "devices", "missing")
    devices = {}
    for kind, entry in _mapping(data["devices"], source, "devices").items():
        where = f"devices.{kind}"
        entry = _mapping(entry, source, where)
        _known_keys(entry, ("machine", "extraction", "training"), source, where)
        rtf, training, ext_prov, train_prov = {}, {}, None, None
        if "extraction" in entry:
            section = _mapping(entry["extraction"], source, f"{where}.extraction")
            ext_prov = _provenance(section, source, f"{where}.extraction")
            values = _mapping(section.get("rtf"), source, f"{where}.extraction.rtf")
            for name, value in values.items():
                key = f"{where}.extraction.rtf.{name}"
                rtf[_upstream_key(name, source, f"{where}.extraction.rtf")] = _number(
                    value, source, key)
        if "training" in entry:
            section = _mapping(entry["training"], source, f"{where}.training")
            train_prov = _provenance(section, source, f"{where}.training")
            values = _mapping(section.get("seconds"), source, f"{where}.training.seconds")
            for name, per_batch in values.items():
                key = f"{where}.training.seconds.{name}"
                costs = {}
                for batch, row in _mapping(per_batch, source, key).items():
                    bkey = f"{key}.{batch}"
                    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
                        raise _fail(source, bkey, "expected a batch size (a positive integer) "
                                                  "as the key")
                    row = _mapping(row, source, bkey)
                    missing = [k for k in ("train_per_utt_epoch", "eval_per_utt") if k not in row]
                    if missing:
                        raise _fail(source, f"{bkey}.{missing[0]}", "missing")
                    costs[batch] = TrainingCost(
                        _number(row["train_per_utt_epoch"], source, f"{bkey}.train_per_utt_epoch"),
                        _number(row["eval_per_utt"], source, f"{bkey}.eval_per_utt"),
                        _number(row.get("per_epoch", 0.0), source, f"{bkey}.per_epoch",
                                positive=False))
                training[_upstream_key(name, source, f"{where}.training.seconds")] = costs
        devices[str(kind)] = DeviceThroughput(str(kind), str(entry.get("machine") or ""), rtf,
                                              training, ext_prov, train_prov)
    reference = data.get("reference_device")
    if reference is not None and str(reference) not in devices:
        raise _fail(source, "reference_device",
                    f"{reference!r} is not one of the devices ({sorted(devices)})")
    return Throughput(devices, None if reference is None else str(reference), (source,))


def _display(path: str | Path) -> str:
    """A path as given, or relative to the repository when it lies inside it."""
    resolved = Path(path).resolve()
    return (str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT)
            else str(path))


def _read_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise SweepFileError(f"{path}: no such file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SweepFileError(f"{path}: not valid YAML ({exc})") from None


def load_throughput(*paths: str | Path) -> Throughput:
    """Read and validate throughput files (default: ``configs/sweeps/throughput.yaml``); later
    files add devices, and their sections replace the same device's sections of earlier ones.

    A user's file (e.g. GPU figures from ``benchmarks/upstream_rtf.py --device cuda --out F``)
    goes after the default one: ``load_throughput(THROUGHPUT_FILE, "gpu.yaml")``.
    """
    result: Throughput | None = None
    for path in paths or (THROUGHPUT_FILE,):
        loaded = _parse_throughput(_read_yaml(path), _display(path))
        result = loaded if result is None else result.merged(loaded)
    assert result is not None
    return result


def device_kind(device: str = "cpu") -> str:
    """The device-kind key of this machine: ``cpu-<cores>core`` or ``cuda-<GPU name>``."""
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else 0
        return f"cuda-{torch.cuda.get_device_name(index)}"
    return f"cpu-{os.cpu_count()}core"


def merge_measurements(path: str | Path, device: str, section: str, provenance: Mapping[str, str],
                       values: Mapping[str, Any], machine: str | None = None) -> None:
    """Write one section (``extraction``: ``{upstream: rtf}``; ``training``:
    ``{upstream: {batch: {train_per_utt_epoch, eval_per_utt, per_epoch}}}``) of ``device`` into
    a throughput file, creating it or keeping its other devices and sections. The section is
    replaced whole, so one command's figures always share one provenance. The file is rewritten
    by ``yaml.safe_dump``: comments of an existing file are not kept."""
    if section not in ("extraction", "training"):
        raise ValueError(f"section must be extraction or training, not {section!r}")
    path = Path(path)
    data = _read_yaml(path) if path.exists() else None
    data = dict(data or {"format": THROUGHPUT_FORMAT, "devices": {}})
    devices = dict(data.get("devices") or {})
    entry = dict(devices.get(device) or {})
    if machine or "machine" not in entry:
        entry["machine"] = machine or provenance.get("machine", "")
    entry[section] = {**provenance, ("rtf" if section == "extraction" else "seconds"): dict(values)}
    devices[device] = entry
    data["devices"] = devices
    data.setdefault("format", THROUGHPUT_FORMAT)
    _parse_throughput(data, str(path))  # never write a file the loader refuses
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


# --------------------------------------------------------------------------- corpora


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


def _optional(value: Any, source: str, key: str, kind: type) -> Any:
    if value is None:
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _fail(source, key, f"expected a non-negative integer or null, got {value!r}")
        return value
    return _number(value, source, key)


CORPUS_KEYS = {"name", "utterances", "hours", "source", "max_utterance_seconds",
               "mean_utterance_seconds", "capped_hours", "cap_seconds"}


def load_corpora(path: str | Path | None = None) -> dict[str, CorpusDuration]:
    """Read and validate a corpora file (default: ``configs/sweeps/corpora.yaml``)."""
    data = _read_yaml(path or CORPORA_FILE)
    source = _display(path or CORPORA_FILE)
    data = _mapping(data, source, "<top level>")
    if data.get("format", CORPORA_FORMAT) != CORPORA_FORMAT:
        raise _fail(source, "format", f"expected {CORPORA_FORMAT!r}, got {data['format']!r}")
    if "corpora" not in data:
        raise _fail(source, "corpora", "missing")
    result = {}
    for name, entry in _mapping(data["corpora"], source, "corpora").items():
        where = f"corpora.{name}"
        entry = _mapping(entry, source, where)
        _known_keys(entry, sorted(CORPUS_KEYS), source, where)
        if "source" not in entry:
            raise _fail(source, f"{where}.source", "missing (every number needs its source)")
        if ("capped_hours" in entry) != ("cap_seconds" in entry):
            raise _fail(source, f"{where}.capped_hours",
                        "capped_hours and cap_seconds go together")
        for key in ("utterances", "hours"):
            if key not in entry:
                raise _fail(source, f"{where}.{key}", "missing (write null when unknown)")
        result[str(name)] = CorpusDuration(
            str(name), _optional(entry["utterances"], source, f"{where}.utterances", int),
            _optional(entry["hours"], source, f"{where}.hours", float),
            _text(entry["source"], source, f"{where}.source"),
            _optional(entry.get("max_utterance_seconds"), source,
                      f"{where}.max_utterance_seconds", float),
            _optional(entry.get("capped_hours"), source, f"{where}.capped_hours", float),
            _optional(entry.get("cap_seconds"), source, f"{where}.cap_seconds", float))
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
    from emobench.audio import num_frames, resolve_in_root

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


@dataclass(frozen=True)
class ExtractionWork:
    """Running ``upstream`` over all of ``corpus``'s audio ``passes`` times (one per extraction
    spec). ``audio_hours`` None: the duration is unknown. ``capped``: whether the hours are cut
    at ``max_seconds`` per utterance (False: the uncapped total, an upper bound)."""

    upstream: str
    corpus: str
    audio_hours: float | None
    passes: int = 1
    capped: bool = True
    note: str = ""


@dataclass(frozen=True)
class TrainingWork:
    """``runs`` trainings (seeds) of the head on cached features of one condition and fold."""

    upstream: str
    condition: str
    runs: int
    train_utterances: int
    epochs: int
    dev_utterances: int = 0  # evaluated after every epoch
    test_utterances: int = 0  # evaluated once
    batch_size: int = 32
    fold: int | None = None


@dataclass(frozen=True)
class UpstreamCost:
    """One upstream's hours on the estimate's device and on the reference device
    (``None``: not measured there)."""

    upstream: str
    audio_hours: float  # sum of audio hours x passes (known durations only)
    runs: int
    extraction_hours: float | None
    training_hours: float | None
    reference_extraction_hours: float | None
    reference_training_hours: float | None

    @property
    def hours(self) -> float | None:
        if self.extraction_hours is None or self.training_hours is None:
            return None
        return self.extraction_hours + self.training_hours

    @property
    def reference_hours(self) -> float | None:
        if self.reference_extraction_hours is None or self.reference_training_hours is None:
            return None
        return self.reference_extraction_hours + self.reference_training_hours


@dataclass(frozen=True)
class Totals:
    """Hours on one device, summed over the upstreams measured there; ``*_missing``: the
    upstreams whose extraction or training has no measurement on it (not in the sums)."""

    device: str
    extraction_hours: float
    training_hours: float
    extraction_missing: tuple[str, ...]
    training_missing: tuple[str, ...]

    @property
    def hours(self) -> float:
        return self.extraction_hours + self.training_hours

    @property
    def not_measured(self) -> tuple[str, ...]:
        """Upstreams lacking an extraction or a training measurement on the device."""
        return tuple(dict.fromkeys(self.extraction_missing + self.training_missing))


@dataclass(frozen=True)
class Estimate:
    device: str
    reference_device: str | None
    rows: tuple[UpstreamCost, ...]
    unknown_durations: tuple[str, ...]  # corpora without audio hours (extraction not counted)
    uncapped: tuple[str, ...]  # corpora whose hours are not cut at max_seconds (upper bounds)
    throughput: Throughput

    def totals(self, reference: bool = False) -> Totals:
        """Totals on ``device``, or on ``reference_device`` with ``reference=True``."""
        ext = [r.reference_extraction_hours if reference else r.extraction_hours
               for r in self.rows]
        train = [r.reference_training_hours if reference else r.training_hours
                 for r in self.rows]
        names = [r.upstream for r in self.rows]
        return Totals(
            (self.reference_device or "") if reference else self.device,
            sum(h for h in ext if h is not None), sum(h for h in train if h is not None),
            tuple(n for n, h in zip(names, ext) if h is None),
            tuple(n for n, h in zip(names, train) if h is None))

    @property
    def not_measured(self) -> tuple[str, ...]:
        """Upstreams lacking an extraction or training measurement on ``device``."""
        return self.totals().not_measured

    @property
    def total_hours(self) -> float:
        """Measured hours on ``device`` (partial when ``not_measured`` is not empty)."""
        return self.totals().hours

    @property
    def runs(self) -> int:
        return sum(r.runs for r in self.rows)


def _extraction_hours(works: Sequence[ExtractionWork], rtf: float | None) -> float | None:
    known = [w for w in works if w.audio_hours is not None]
    if not known:
        return 0.0
    if rtf is None:
        return None
    return sum(w.audio_hours * w.passes * rtf for w in known)


def _training_hours(works: Sequence[TrainingWork], throughput: Throughput, device: str | None,
                    upstream: str) -> float | None:
    if not works:
        return 0.0
    if device is None:
        return None
    seconds = 0.0
    for w in works:
        cost = throughput.training_cost(upstream, device, w.batch_size)
        if cost is None:
            return None
        seconds += w.runs * cost.run_seconds(w.epochs, w.train_utterances, w.dev_utterances,
                                             w.test_utterances)
    return seconds / 3600


def estimate(extractions: Iterable[ExtractionWork], trainings: Iterable[TrainingWork],
             throughput: Throughput, device: str | None = None) -> Estimate:
    """Compute hours per upstream on ``device`` (a device kind of the throughput file, or
    ``cpu`` / ``cuda``, see :meth:`Throughput.resolve_device`; default: the reference device)
    and on the reference device; an upstream without a measurement there gets ``None``."""
    extractions, trainings = list(extractions), list(trainings)
    device = throughput.resolve_device(device)
    reference = throughput.reference_device
    order: list[str] = []
    for w in [*extractions, *trainings]:
        name = canonical_upstream(w.upstream)
        if name not in order:
            order.append(name)
    rows = []
    for name in order:
        ext = [w for w in extractions if canonical_upstream(w.upstream) == name]
        train = [w for w in trainings if canonical_upstream(w.upstream) == name]

        def hours(dev: str | None) -> tuple[float | None, float | None]:
            rtf = None if dev is None else throughput.rtf(name, dev)
            return _extraction_hours(ext, rtf), _training_hours(train, throughput, dev, name)

        on_device, on_reference = hours(device), hours(reference)
        rows.append(UpstreamCost(
            name, sum(w.audio_hours * w.passes for w in ext if w.audio_hours is not None),
            sum(w.runs for w in train), *on_device, *on_reference))
    unknown = sorted({w.corpus for w in extractions if w.audio_hours is None})
    uncapped = sorted({w.corpus for w in extractions
                       if w.audio_hours is not None and not w.capped})
    return Estimate(device, reference, tuple(rows), tuple(unknown), tuple(uncapped), throughput)


# --------------------------------------------------------------------------- rendering


def _hours(value: float | None) -> str:
    """
    >>> _hours(None), _hours(1234.56), _hours(0.0123)
    ('not measured', '1,234.6', '0.0123')
    """
    if value is None:
        return NOT_MEASURED
    return f"{value:,.1f}" if value >= 10 else f"{value:.3g}" if value < 1 else f"{value:.2f}"


def render(result: Estimate) -> str:
    """A Markdown table of the estimate, the totals, the EMO-SUPERB paper's figure beside them
    and the ratio, then what the numbers leave out."""
    device, reference = result.device, result.reference_device
    both = reference is not None and reference != device
    tp = result.throughput
    head = ["upstream", "runs", "audio h x passes", f"extraction h ({device})",
            f"training h ({device})"]
    if both:
        head += [f"extraction h ({reference})", f"training h ({reference})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result.rows:
        cells = [r.upstream, str(r.runs), f"{r.audio_hours:,.1f}", _hours(r.extraction_hours),
                 _hours(r.training_hours)]
        if both:
            cells += [_hours(r.reference_extraction_hours), _hours(r.reference_training_hours)]
        lines.append("| " + " | ".join(cells) + " |")

    def total(rows_hours: list[float | None]) -> str:
        known = [h for h in rows_hours if h is not None]
        return _hours(sum(known)) if known else NOT_MEASURED

    cells = ["**total**", str(result.runs), f"{sum(r.audio_hours for r in result.rows):,.1f}",
             total([r.extraction_hours for r in result.rows]),
             total([r.training_hours for r in result.rows])]
    if both:
        cells += [total([r.reference_extraction_hours for r in result.rows]),
                  total([r.reference_training_hours for r in result.rows])]
    lines.append("| " + " | ".join(cells) + " |")
    n = len(result.rows)
    out = ["\n".join(lines), ""]

    def summary(totals: Totals) -> list[str]:
        name = totals.device
        missing = totals.not_measured
        parts = []
        for what, hours, lacking in (("extraction", totals.extraction_hours,
                                      totals.extraction_missing),
                                     ("training", totals.training_hours,
                                      totals.training_missing)):
            if len(lacking) == n:
                parts.append(f"{what} {NOT_MEASURED}")
            else:
                parts.append(f"{what} {_hours(hours)} h" + (
                    f" ({len(lacking)} of {n} upstreams {NOT_MEASURED}: {', '.join(lacking)})"
                    if lacking else ""))
        measured_any = len(totals.extraction_missing) < n or len(totals.training_missing) < n
        text = [f"- Total on {name}: " + "; ".join(parts)
                + (f"; sum {_hours(totals.hours)} h" if measured_any else "")
                + (f" (partial: {len(missing)} of {n} upstreams lack a measurement)."
                   if missing else " (every upstream measured).")]
        if measured_any:
            gpu = name.startswith("cuda")
            kind = ("GPU-hours against V100 GPU-hours, different GPUs" if gpu else
                    "CPU-hours of this machine against V100 GPU-hours: different hardware, "
                    "not a speed-up figure")
            text.append(f"- Ratio{' of this partial sum' if missing else ''} to the paper's "
                        f"{PAPER_GPU_HOURS:,.0f} GPU-hours: "
                        f"{totals.hours / PAPER_GPU_HOURS:.3g} ({kind}).")
        return text

    out += summary(result.totals())
    if both:
        out += summary(result.totals(reference=True))
    out.append(f"- EMO-SUPERB's figure: about {PAPER_GPU_HOURS:,.0f} GPU-hours on "
               f"{PAPER_HARDWARE} for all the paper's results. Source: {PAPER_CITATION}")
    if result.uncapped:
        out.append(f"- Audio hours of {', '.join(result.uncapped)} are the corpus totals, not cut "
                   f"at max_seconds (their utterance durations are not in our sources and some "
                   f"utterances are longer): extraction hours there are upper bounds.")
    if result.unknown_durations:
        out.append(f"- No audio duration for {', '.join(result.unknown_durations)}: their "
                   f"extraction is not counted in any total.")
    out.append("- Not counted: process start, loading upstream checkpoints, decoding and "
               "resampling audio, reading label files and cached features, queueing.")
    for kind in dict.fromkeys([device] + ([reference] if both else [])):
        entry = tp.devices.get(kind)
        if entry is None:
            out.append(f"- {kind}: no measurement in {', '.join(tp.sources)}.")
            continue
        for what, prov in (("extraction", entry.extraction_provenance),
                           ("training", entry.training_provenance)):
            if prov is not None:
                out.append(f"- {kind} {what} ({entry.machine}): {prov.describe()}.")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- full table


def extraction_work(upstream: str, corpus: str | CorpusDuration, passes: int = 1,
                    max_seconds: float | None = 10.0,
                    corpora: Mapping[str, CorpusDuration] | None = None) -> ExtractionWork:
    """The extraction of one corpus by one upstream, its hours from the corpora table (default:
    ``configs/sweeps/corpora.yaml``) or from a :class:`CorpusDuration` (e.g. measured by
    :func:`measure_audio`), cut at ``max_seconds`` where the durations allow it.

    >>> d = CorpusDuration("demo", 400, 0.25, "measured", 2.5)
    >>> w = extraction_work("apc", d, passes=5)
    >>> w.audio_hours, w.passes, w.capped, w.note
    (0.25, 5, True, 'measured')
    """
    if isinstance(corpus, CorpusDuration):
        duration, name = corpus, corpus.corpus
    else:
        name = corpus
        duration = (load_corpora() if corpora is None else corpora).get(corpus)
    if duration is None:
        return ExtractionWork(upstream, name, None, passes, False,
                              f"{name} is not in the corpora table")
    hours, capped = duration.hours_for(max_seconds)
    return ExtractionWork(upstream, name, hours, passes, capped, duration.source)


def _config_train(condition: Any) -> dict[str, Any]:
    data = _read_yaml(condition.config_path) or {}
    train = data.get("train") or {}
    if not isinstance(train.get("epochs"), int):
        raise _fail(condition.config, "train.epochs", "missing (needed for the cost estimate)")
    return {"epochs": train["epochs"], "batch_size": int(train.get("batch_size", 32)),
            "max_seconds": (data.get("data") or {}).get("max_seconds", 10.0)}


def full_emo_superb_work(upstreams: Sequence[str] | None = None,
                         conditions: Sequence[str] | None = None,
                         folds: str | Iterable[int] = "all", seeds: int = 1,
                         corpora: Mapping[str, CorpusDuration] | None = None,
                         standardize: bool = True,
                         ) -> tuple[list[ExtractionWork], list[TrainingWork]]:
    """Work items of EMO-SUPERB's table: every upstream (default: the paper's 16 rows) on every
    condition (default: the nine, ``corpora/conditions.py``), each fold (``"all"``, fold
    numbers or ``"1,3"``; a condition keeps those it has) and seed.

    Training: one item per upstream, condition and fold with ``runs = seeds``, utterances from
    the partition file's ``expected_rows`` and epochs / batch size from the condition's config.

    Extraction: one item per upstream and corpus. With ``standardize`` (EMO-SUPERB's per-fold
    waveform standardisation) each fold is its own extraction spec over the whole corpus, so
    ``passes`` = distinct folds; conditions of one corpus with identical partitions (same units
    per split and rows per fold, e.g. IMPROV (P) and (S)) are assumed to hold the same audio and
    share their folds' passes. Without it every fold shares one spec: one pass per corpus.
    Seeds never add extraction.
    """
    from corpora import conditions as registry

    if isinstance(folds, str) and folds != "all":
        try:
            folds = [int(f) for f in folds.split(",") if f.strip()]
        except ValueError:
            raise UserError(f"folds must be 'all' or fold numbers like '1,3', not {folds!r}") \
                from None
    upstreams = list(upstreams) if upstreams is not None else list(EMO_SUPERB_UPSTREAMS)
    chosen = [registry.condition(c) for c in (conditions or registry.names())]
    corpora = load_corpora() if corpora is None else corpora
    trainings: list[TrainingWork] = []
    passes: dict[str, set[tuple[str, int]]] = {}
    caps: dict[str, float | None] = {}
    for cond in chosen:
        settings = _config_train(cond)
        wanted = range(1, cond.folds + 1) if folds == "all" else sorted(
            {int(f) for f in folds} & set(range(1, cond.folds + 1)))
        spec = cond.spec()
        signature = json.dumps({"units": cond.fold_units(), "rows": spec.get("expected_rows")},
                               sort_keys=True, default=str)
        for fold in wanted:
            rows = cond.expected_rows(fold)
            if rows is None:
                raise UserError(f"partitions/{cond.corpus}.yaml {cond.partition_condition}: no "
                                f"expected_rows for fold {fold}, needed for the cost estimate")
            passes.setdefault(cond.corpus, set()).add((signature, fold) if standardize
                                                      else ("all", 0))
            for upstream in upstreams:
                trainings.append(TrainingWork(
                    upstream, cond.name, seeds, rows["train"], settings["epochs"], rows["dev"],
                    rows["test"], settings["batch_size"], fold))
        cap = settings["max_seconds"]
        if caps.setdefault(cond.corpus, cap) != cap:
            raise UserError(f"conditions of {cond.corpus} truncate at different data.max_seconds "
                            f"({caps[cond.corpus]} and {cap}): they cannot share extraction")
    extractions = [extraction_work(upstream, corpus, len(specs), caps[corpus], corpora)
                   for corpus, specs in passes.items() for upstream in upstreams]
    return extractions, trainings
