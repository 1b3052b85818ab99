"""Measured throughput files (``configs/sweeps/throughput.yaml``): extraction real-time factors and
training costs per device kind, each with its provenance; reading, checking and merging them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from emobench.core.errors import UserError
from emobench.core.resources import data_dir
from emobench.orchestration.sweep.fields import (canonical_upstream, display, fail, known_keys,
                                                 mapping, number, read_yaml, text, upstream_key)

THROUGHPUT_FILE = data_dir("configs") / "sweeps" / "throughput.yaml"
THROUGHPUT_FORMAT = "emobench-throughput/1"


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


def _provenance(section: Mapping, source: str, key: str) -> Provenance:
    for required in ("date", "command"):
        if required not in section:
            raise fail(source, f"{key}.{required}", "missing (every measurement needs its "
                                                     "date and the command that produced it)")
    return Provenance(*(text(section[k], source, f"{key}.{k}") if k in ("date", "command")
                        else str(section.get(k, "") or "")
                        for k in ("date", "command", "machine", "method", "source")))


def _parse_throughput(data: Any, source: str) -> Throughput:
    data = mapping(data, source, "<top level>")
    if data.get("format", THROUGHPUT_FORMAT) != THROUGHPUT_FORMAT:
        raise fail(source, "format", f"expected {THROUGHPUT_FORMAT!r}, got {data['format']!r}")
    known_keys(data, ("format", "reference_device", "devices"), source, "")
    if "devices" not in data:
        raise fail(source, "devices", "missing")
    devices = {}
    for kind, entry in mapping(data["devices"], source, "devices").items():
        where = f"devices.{kind}"
        entry = mapping(entry, source, where)
        known_keys(entry, ("machine", "extraction", "training"), source, where)
        rtf, training, ext_prov, train_prov = {}, {}, None, None
        if "extraction" in entry:
            section = mapping(entry["extraction"], source, f"{where}.extraction")
            ext_prov = _provenance(section, source, f"{where}.extraction")
            values = mapping(section.get("rtf"), source, f"{where}.extraction.rtf")
            for name, value in values.items():
                key = f"{where}.extraction.rtf.{name}"
                rtf[upstream_key(name, source, f"{where}.extraction.rtf")] = number(
                    value, source, key)
        if "training" in entry:
            section = mapping(entry["training"], source, f"{where}.training")
            train_prov = _provenance(section, source, f"{where}.training")
            values = mapping(section.get("seconds"), source, f"{where}.training.seconds")
            for name, per_batch in values.items():
                key = f"{where}.training.seconds.{name}"
                costs = {}
                for batch, row in mapping(per_batch, source, key).items():
                    bkey = f"{key}.{batch}"
                    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
                        raise fail(source, bkey, "expected a batch size (a positive integer) "
                                                  "as the key")
                    row = mapping(row, source, bkey)
                    missing = [k for k in ("train_per_utt_epoch", "eval_per_utt") if k not in row]
                    if missing:
                        raise fail(source, f"{bkey}.{missing[0]}", "missing")
                    costs[batch] = TrainingCost(
                        number(row["train_per_utt_epoch"], source, f"{bkey}.train_per_utt_epoch"),
                        number(row["eval_per_utt"], source, f"{bkey}.eval_per_utt"),
                        number(row.get("per_epoch", 0.0), source, f"{bkey}.per_epoch",
                                positive=False))
                training[upstream_key(name, source, f"{where}.training.seconds")] = costs
        devices[str(kind)] = DeviceThroughput(str(kind), str(entry.get("machine") or ""), rtf,
                                              training, ext_prov, train_prov)
    reference = data.get("reference_device")
    if reference is not None and str(reference) not in devices:
        raise fail(source, "reference_device",
                    f"{reference!r} is not one of the devices ({sorted(devices)})")
    return Throughput(devices, None if reference is None else str(reference), (source,))


def load_throughput(*paths: str | Path) -> Throughput:
    """Read and validate throughput files (default: ``configs/sweeps/throughput.yaml``); later
    files add devices, and their sections replace the same device's sections of earlier ones.

    A user's file (e.g. GPU figures from ``benchmarks/upstream_rtf.py --device cuda --out F``)
    goes after the default one: ``load_throughput(THROUGHPUT_FILE, "gpu.yaml")``.
    """
    result: Throughput | None = None
    for path in paths or (THROUGHPUT_FILE,):
        loaded = _parse_throughput(read_yaml(path), display(path))
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
    data = read_yaml(path) if path.exists() else None
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


