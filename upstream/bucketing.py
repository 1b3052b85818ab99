"""Length-bucketed padded extraction for upstreams whose features are exact under padding.

Running several utterances as one zero-padded batch keeps a GPU busy (docs/performance.md: at
batch 64 an H200 runs wavlm_large 2.3x and xls_r_1b 2.1x faster per utterance than at batch 1 in
float32), but it is only allowed where padding does not change an utterance's features. For the
s3prl experts here that holds for the layer-norm wav2vec 2.0 models, whose expert layer-norms
each waveform before padding, masks the padded frames in attention and has no time-wide
normalisation (:data:`PADDING_EXACT`; tests/test_bucketing.py compares padded batches with
one-utterance runs for every model of the family and shows the others differ). They still run
one utterance at a time by default (the frames below an utterance's end are then exact zeros,
which a padded batch does not give); ``--upstream_padded_batch`` runs them in padded batches
(their own cache key). Whenever an upstream runs padded batches (these, and those built padded:
fbank, fbank_no_cmvn, DeCoAR 2), the cache extracts the missing entries longest first
(:func:`by_length`), so that each batch holds utterances of similar length (little padding).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

from emobench.core.audio import num_frames

# upstreams whose padded-batch features equal their one-utterance features (float rounding)
PADDING_EXACT = frozenset({"wav2vec2_large_lv60_cv_swbd_fsh", "xls_r_1b"})


def padding_exact(name: str) -> bool:
    """>>> padding_exact("xls_r_1b"), padding_exact("wavlm_large")
    (True, False)
    """
    return name in PADDING_EXACT


def expected_samples(path: Path, max_seconds: float | None, rate: int = 16_000) -> int:
    """An utterance's length after resampling to ``rate`` and truncation, from its header."""
    frames, native = num_frames(path)
    samples = math.ceil(frames * rate / native)
    return samples if max_seconds is None else min(samples, int(round(max_seconds * rate)))


def by_length(keys: Sequence[str], length: Callable[[str], int]) -> list[str]:
    """``keys`` longest first (ties by key), so consecutive batches hold similar lengths.

    >>> by_length(["a", "b", "c"], {"a": 5, "b": 9, "c": 5}.get)
    ['b', 'a', 'c']
    """
    return sorted(keys, key=lambda k: (-length(k), k))
