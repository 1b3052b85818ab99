"""The emotion task's waveform standardisation: which utterances its statistics come from.

- ``data.standardize_scope=fold`` (default, EMO-SUPERB's protocol): mean and std of all samples
  of the fold's training utterances. Different folds get different statistics, so upstreams that
  do not normalise each waveform themselves extract every utterance once per fold.
- ``data.standardize_scope=condition`` (an opt-in protocol variant, not EMO-SUPERB's): over every
  utterance of the label table (train, dev and test of the fold: in a cross-validated condition,
  the condition's utterances). Every fold gets the same two numbers, so one cache entry per
  utterance serves all folds. The test audio (never its labels) enters these two numbers: a
  transductive choice, stated in the run's config; docs/performance.md measures its effect.

Either way the statistics are cached (``downstream.standardize_cache``).
"""

from __future__ import annotations

from emobench.core.config import ConfigError
from emobench.corpora.emotion_labels import LabelTable
from emobench.downstream.emotion.data import EmotionDataset, Standardizer
from emobench.downstream.standardize_cache import cached_standardizer

SCOPES = ("fold", "condition")


def waveform_standardizer(data, table: LabelTable, train_set: EmotionDataset | None = None
                          ) -> Standardizer:
    """The standardizer of this run (``data``: the task's DataConfig); ``train_set`` (the
    fold's training utterances, possibly preloading) is used for the fold scope when given."""
    if not data.standardize:
        return Standardizer()
    if data.standardize_scope not in SCOPES:
        raise ConfigError(f"data.standardize_scope={data.standardize_scope!r}: one of "
                          f"{list(SCOPES)}")
    if data.standardize_scope == "condition":
        rows = EmotionDataset(table, data.max_seconds, Standardizer(), preload=False)
    else:
        rows = train_set if train_set is not None else EmotionDataset(
            table.subset("train"), data.max_seconds, Standardizer(), preload=False)
    return cached_standardizer(rows, data.cache_dir)
