"""Which upstreams normalise every utterance's waveform themselves (so a fold's global waveform
standardisation does not change their features beyond a stated tolerance).

Some s3prl experts start their forward with ``F.layer_norm(wav, wav.shape)`` when the
checkpoint's task config says ``normalize`` (wav2vec 2.0 "large" models, WavLM, HuBERT,
data2vec, XLS-R). That maps ``(wav - m) / s`` and ``wav`` to the same input up to the layer
norm's ``eps`` (1e-5 added to the variance), so the EMO-SUPERB waveform standardisation by the
fold's training statistics (m, s) is irrelevant to them: every fold of a condition can share one
cache entry per utterance. The feature cache then feeds these upstreams the utterance standardised
by its own mean and std (``downstream.waveforms.UtteranceStandardizer``), which the expert's
layer norm leaves unchanged up to ``eps``; tests/test_fold_sharing.py measures the difference to
the fold-standardised features per upstream.

The decision reads the loaded expert's own flag (a checkpoint whose config has
``normalize: false``, like wav2vec2_large_960's, is not invariant), from the table
:data:`NORMALISING` (upstream name -> reader of that flag). An upstream not in the table is never
assumed invariant.

Before a checkpoint is loaded (the sweep's cost estimate, ``-m sweep --dry-run``) only the
published checkpoints' flags are known: :data:`PUBLISHED_NORMALISES` lists the upstreams whose
published checkpoint sets it (docs/performance.md, "fold sharing"). A user's own checkpoint of
one of them may not. Importing this module is cheap (no torch, no s3prl).

>>> "wavlm_large" in PUBLISHED_NORMALISES, "wav2vec2_large_960" in PUBLISHED_NORMALISES
(True, False)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # annotations only: importing the table must not import torch
    from torch import nn

    from emobench.upstream.base import FrozenUpstream


def _wavlm(expert: nn.Module) -> bool:
    return bool(expert.cfg.normalize)


def _wav2vec2(expert: nn.Module) -> bool:  # s3prl's numpy variant is another normalisation
    return bool(expert.wav_normalize) and not bool(getattr(expert, "numpy_wav_normalize", False))


def _hubert(expert: nn.Module) -> bool:
    return bool(expert.task_cfg.normalize)


# upstream name -> reader of its expert's "layer-norm every waveform" flag
NORMALISING: dict[str, Callable[[nn.Module], bool]] = {
    "wavlm_large": _wavlm,
    "wav2vec2_large_lv60_cv_swbd_fsh": _wav2vec2,
    "xls_r_1b": _wav2vec2,
    "wav2vec2_large_960": _wav2vec2,  # published checkpoint: normalize false (reads False)
    "data2vec_large_ll60k": _wav2vec2,  # the data2vec expert keeps the same attribute
    "hubert_large_ll60k": _hubert,
}

# upstreams whose published checkpoint sets that flag (wav2vec2_large_960's does not)
PUBLISHED_NORMALISES: frozenset[str] = frozenset({
    "wavlm_large", "wav2vec2_large_lv60_cv_swbd_fsh", "xls_r_1b", "data2vec_large_ll60k",
    "hubert_large_ll60k"})


def normalises_waveform(upstream: FrozenUpstream) -> bool:
    """True when the loaded expert layer-normalises every waveform itself (see module doc).

    A fine-tuned upstream is never cached, so the question does not arise for it (False).
    """
    reader = NORMALISING.get(upstream.info.name)
    if reader is None or upstream.fine_tuning is not None:
        return False
    try:
        return reader(upstream.expert)
    except AttributeError:  # an expert of another layout: never assumed invariant
        return False
