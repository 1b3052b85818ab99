"""Checks of a task's inputs against its upstream, before any feature is extracted.

* every utterance at least as long as the upstream's front end needs
  (:data:`emobench.upstream.min_input.MIN_SAMPLES`): a LabelFileError listing file and line
  (emotion) or file and id (multitask);
* the label reader's audio warnings (near-silent or channel-cancelling files) and a disabled
  speaker audit (``data.speakerless``) go into the run's warnings, hence scores.json.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from emobench.core.audio import SAMPLE_RATE, num_frames
from emobench.core.context import RunContext
from emobench.core.errors import LabelFileError
from emobench.core.experiment import LOG
from emobench.upstream.min_input import min_samples


def too_short(num_samples: Sequence[int], rates: Sequence[int], needed: int) -> list[int]:
    """Indices of utterances shorter than ``needed`` samples once resampled to 16 kHz.

    >>> too_short([160, 400, 1000], [16000, 16000, 44100], 400)
    [0, 2]
    """
    return [i for i, (n, rate) in enumerate(zip(num_samples, rates))
            if rate and math.floor(int(n) * SAMPLE_RATE / int(rate)) < needed]


def check_table(ctx: RunContext, table: Any, data: Any) -> None:
    """Refuse utterances too short for any upstream of the run; record audio warnings.

    ``table``: an emotion LabelTable (rows in CSV order, so row ``i`` is line ``i + 2``)."""
    needed = max(min_samples(spec.name) for spec in ctx.upstreams)
    short = too_short(table.num_samples, table.sample_rates, needed)
    if short:
        names = ", ".join(spec.name for spec in ctx.upstreams)
        raise LabelFileError(table.source, [
            f"line {i + 2}: {table.paths[i]}: {int(table.num_samples[i])} samples at "
            f"{int(table.sample_rates[i])} Hz is shorter than the {needed} samples (16 kHz) the "
            f"front end of {names} needs (upstream/min_input.py); remove or pad it" for i in short])
    record_warnings(ctx.warnings, table.audio_warnings, getattr(data, "speakerless", False))


def check_paths(ctx: RunContext, paths: Sequence[Any], ids: Sequence[str], source: Any) -> None:
    """:func:`check_table` for tables without line numbers (the multitask task's, whose rows
    the data handling may subset): every file's length from its header, named with its id."""
    needed = max(min_samples(spec.name) for spec in ctx.upstreams)
    frames = [num_frames(path) for path in paths]
    short = too_short([n for n, _ in frames], [r for _, r in frames], needed)
    if short:
        names = ", ".join(spec.name for spec in ctx.upstreams)
        raise LabelFileError(source, [
            f"{ids[i]}: {paths[i]}: {frames[i][0]} samples at {frames[i][1]} Hz is shorter than "
            f"the {needed} samples (16 kHz) the front end of {names} needs "
            "(upstream/min_input.py); remove or pad it" for i in short])


def record_warnings(warnings: list[str], audio: Sequence[str], speakerless: bool) -> None:
    if audio:
        warnings.append(f"{len(audio)} audio file(s) near-silent or with cancelling channels "
                        f"(kept): {'; '.join(audio[:5])}" + (" ..." if len(audio) > 5 else ""))
        LOG.warning(warnings[-1])
    if speakerless:
        warnings.append("speaker audit disabled: data.speakerless=true (no speaker ids)")
        LOG.warning(warnings[-1])
