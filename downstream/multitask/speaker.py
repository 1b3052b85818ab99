"""The IS25 paper's speaker-prediction variant (``model.speaker.prediction``, its "+S Pred" row):
an auxiliary categorical target ``speaker`` on ``data.speaker_column`` whose classes are the
training speakers and whose loss weight is beta.

Validation and test speakers are unseen (the splits are speaker-independent), so the target is
present in the training rows only: it has no metrics on val or test, and a validation or test
speaker is never a class. The paper found this head (and a speaker-embedding input) to lower the
emotion CCC; it is here to reproduce that ablation.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from emobench.corpora.target_table import TargetTable
from emobench.downstream.multitask.config import MultitaskConfig, TargetConfig

NAME = "speaker"


def add_target(cfg: MultitaskConfig) -> None:
    """Append the ``speaker`` target when ``model.speaker.prediction`` > 0 (once)."""
    beta = cfg.model.speaker.prediction
    if beta > 0 and all(t.name != NAME for t in cfg.targets):
        cfg.targets.append(TargetConfig(name=NAME, kind="categorical",
                                        columns=[cfg.data.speaker_column], required=False,
                                        weight=beta, metrics=["accuracy"]))


def restrict(cfg: MultitaskConfig, table: TargetTable) -> TargetTable:
    """``table`` with the speaker target kept on the training rows only, over the training
    speakers (sorted); unchanged without the speaker head."""
    if cfg.model.speaker.prediction <= 0 or NAME not in table.values:
        return table
    train = (table.splits == "train") & table.present[NAME]
    old = table.classes[NAME]
    classes = tuple(sorted({old[c] for c in table.values[NAME][train]}))
    index = {name: i for i, name in enumerate(classes)}
    codes = np.full(len(table), -1, dtype=np.int64)
    codes[train] = [index[old[c]] for c in table.values[NAME][train]]
    return dataclasses.replace(table, values={**table.values, NAME: codes},
                               present={**table.present, NAME: train},
                               classes={**table.classes, NAME: classes})
