"""Cost model of a sweep: compute hours from measured throughput and corpus durations.

With the pooled feature cache (upstream/cache.py) a sweep's cost has two parts:

- **extraction**: the frozen upstream runs once per utterance and extraction spec. Compute hours
  = audio hours x passes x real-time factor (RTF, seconds of compute per second of audio). Under
  EMO-SUPERB's protocol the waveform is standardised by each fold's training set, so every fold
  is its own spec and extracts the whole corpus (train, dev and test) once: passes = folds.
  All folds share one pass (:func:`emobench.orchestration.sweep.work.extraction_spec`, as the
  feature cache keys them) where the upstream normalises every waveform itself (its published
  checkpoint: ``upstream.waveform_invariance.PUBLISHED_NORMALISES``), with
  ``data.standardize=false`` and with ``data.standardize_scope=condition``; the estimate says
  which rows and why. Only
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emobench.orchestration.sweep.fields import canonical_upstream
from emobench.orchestration.sweep.throughput import Throughput
from emobench.orchestration.sweep.work import NORMALISES, ExtractionWork, TrainingWork

PAPER_GPU_HOURS = 3300.0
PAPER_HARDWARE = "Nvidia Tesla V100 32 GB"
PAPER_CITATION = (
    'EMO-SUPERB (Wu et al., 2024), Section 4.4 "Objective function and training details": '
    '"We use the Nvidia Tesla v100 GPUs with 32 GB memory for all results. The total of GPU '
    'hours is around 3,300 hours."')

NOT_MEASURED = "not measured"



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
    shared: tuple[str, ...] = ()  # why folds share one extraction pass (ExtractionWork.shared)
    per_fold: bool = False  # some corpus extracted once per fold

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
            sum(w.runs for w in train), *on_device, *on_reference,
            tuple(dict.fromkeys(r for w in ext for r in w.shared)),
            any(w.per_fold and w.passes > 1 for w in ext)))
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


def _passes(rows: Sequence[UpstreamCost]) -> list[str]:
    """Which rows extract once per fold and which share one pass across folds, and why."""
    out = []
    per_fold = [r.upstream for r in rows if r.per_fold]
    if per_fold:
        out.append(f"- One extraction pass per fold (the waveform standardised by each fold's "
                   f"training set, EMO-SUPERB's protocol): {', '.join(per_fold)}.")
    for reason in dict.fromkeys(x for r in rows for x in r.shared):
        names = [r.upstream for r in rows if reason in r.shared]
        out.append(f"- All folds share one extraction pass ({reason}): {', '.join(names)}."
                   + (" A checkpoint whose config says normalize false extracts once per fold."
                      if reason == NORMALISES else ""))
    return out


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
    out += _passes(result.rows)
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


