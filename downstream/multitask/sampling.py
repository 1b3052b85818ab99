"""Data handling of the multitask task by a class column (``data_handling``; docs/is25.md): the
IS25 winner's treatment of MSP-Podcast's consensus classes.

- ``train_ambiguous``: whether the training rows whose class is ``ambiguous`` (MSP-Podcast's
  O = other, X = no agreement) are trained on. Excluded rows leave the table the run uses (target
  statistics, feature standardisation, batches, predictions); validation and test rows are never
  touched. Counted, logged and recorded in scores.json (``data_handling``).
- ``undersample``: every epoch draws, seeded by the run's seed and the epoch, ``per_class`` rows
  of every class of the training rows (default: the rarest class's count; a class with fewer
  rows repeats some), so every epoch is balanced and sees other rows of the large classes.
  ``balance_ambiguous`` false keeps every included ambiguous row in every epoch instead.
- ``val_per_class``: the validation score that selects the checkpoint is computed on ``k``
  rows of every primary class of the validation split (``val_classes``; default every class
  found there but the ambiguous ones), drawn once with the run's seed. scores.json's ``val``
  metrics stay those of the whole split; the subset is recorded.

The class column is read by header from the table (``data.data_info``) and matched to the rows
by id; values are compared exactly (after stripping spaces).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal

import numpy as np
import pandas as pd
import torch

from emobench.core.config import ConfigError
from emobench.core.errors import LabelFileError
from emobench.core.experiment import LOG
from emobench.corpora.target_table import TargetTable, missing_columns
from emobench.downstream.trainer import epoch_seed, index_batches


@dataclass
class DataHandlingConfig:
    class_column: str | None = None  # the column the keys below read (MSP-Podcast: EmoClass)
    ambiguous: list[str] = field(default_factory=list)  # classes without agreement: [O, X]
    train_ambiguous: bool = True  # false: rows of an ambiguous class are not trained on
    undersample: bool = False  # every epoch: per_class seeded rows of every training class
    per_class: int | None = None  # rows per class and epoch; null: the rarest class's count
    balance_ambiguous: bool = True  # false: every included ambiguous row in every epoch
    val_per_class: int | None = None  # k: select on k rows per primary class (null: all)
    val_classes: list[str] | None = None  # the primary classes (null: found, less ambiguous)
    # regression predictions onto their target's range (downstream/multitask/ranges.py): none;
    # clip; train: min-max map by the training rows' predictions; split: by each split's own
    minmax: Literal["none", "clip", "train", "split"] = "none"


def check(cfg: Any) -> None:
    """Refuse data_handling keys that cannot apply (a ConfigError naming the key)."""
    h: DataHandlingConfig = cfg.data_handling
    needs = [k for k, on in (("undersample", h.undersample), ("val_per_class", h.val_per_class),
                             ("train_ambiguous=false", not h.train_ambiguous)) if on]
    if needs and not h.class_column:
        raise ConfigError(f"data_handling.{needs[0]} needs data_handling.class_column")
    if not h.train_ambiguous and not h.ambiguous:
        raise ConfigError("data_handling.train_ambiguous=false needs data_handling.ambiguous")
    for key in ("per_class", "val_per_class"):
        if getattr(h, key) is not None and getattr(h, key) < 1:
            raise ConfigError(f"data_handling.{key} must be >= 1 (or null)")
    if h.per_class is not None and not h.undersample:
        raise ConfigError("data_handling.per_class is set but data_handling.undersample is false")
    if set(h.ambiguous) & set(h.val_classes or []):
        raise ConfigError(f"data_handling.val_classes {h.val_classes} name an ambiguous class")
    if h.minmax != "none":
        bare = [t.name for t in cfg.targets if t.kind == "regression" and not t.range]
        if bare or not any(t.kind == "regression" for t in cfg.targets):
            raise ConfigError(f"data_handling.minmax={h.minmax} maps regression targets onto "
                              f"their range: declare range of {bare or 'a regression target'}")


def class_values(cfg: Any, table: TargetTable) -> np.ndarray:
    """The class column's value of every row of ``table`` (matched by id), as strings."""
    column, id_column = cfg.data_handling.class_column, cfg.data.id_column
    frame = pd.read_csv(table.source, dtype=str, keep_default_na=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    problems = missing_columns(list(frame.columns), [column])
    if problems:
        raise LabelFileError(table.source, [f"data_handling.class_column: {p}"
                                            for p in problems])
    by_id = dict(zip(frame[id_column].str.strip(), frame[column].str.strip()))
    return np.array([by_id[i] for i in table.file_ids], dtype=object)


def training_table(cfg: Any, table: TargetTable) -> TargetTable:
    """``table`` without the training rows of an ambiguous class when they are excluded."""
    h: DataHandlingConfig = cfg.data_handling
    if h.train_ambiguous or not h.class_column:
        return table
    drop = (table.splits == "train") & np.isin(class_values(cfg, table), h.ambiguous)
    LOG.info("data_handling: %d training rows of the classes %s left out of training "
             "(train_ambiguous=false)", int(drop.sum()), h.ambiguous)
    return table.take(~drop)


def epoch_rows(classes: np.ndarray, per_class: int | None, seed: int, epoch: int,
               keep: Iterable[str] = ()) -> np.ndarray:
    """Rows (indices into ``classes``) of one undersampled epoch, shuffled: ``per_class`` of
    every class (default: the rarest count; fewer rows repeat some), all rows of ``keep``.

    >>> classes = np.array(["N"] * 6 + ["A"] * 3 + ["F"] * 2 + ["X"])
    >>> rows = epoch_rows(classes, None, 0, 0, keep=["X"])
    >>> sorted(classes[rows].tolist())
    ['A', 'A', 'F', 'F', 'N', 'N', 'X']
    >>> bool((epoch_rows(classes, None, 0, 1) == epoch_rows(classes, None, 0, 1)).all())
    True
    >>> sorted(classes[epoch_rows(classes, 4, 0, 0)].tolist()).count("F")
    4
    """
    rng = np.random.default_rng([epoch_seed(seed, epoch), 17])
    whole = np.isin(classes, list(keep))
    balanced = sorted(set(classes[~whole].tolist()))
    counts = {c: int((classes == c).sum()) for c in balanced}
    n = per_class if per_class is not None else min(counts.values())
    parts = [np.flatnonzero(whole)]
    for c in balanced:
        rows = np.flatnonzero(classes == c)
        if len(rows) >= n:
            parts.append(rng.choice(rows, n, replace=False))
        else:
            parts += [rows, rng.choice(rows, n - len(rows), replace=True)]
    return rng.permutation(np.concatenate(parts))


def _train_classes(cfg: Any, table: TargetTable) -> np.ndarray:
    classes = class_values(cfg, table)
    train = table.splits == "train"
    if (classes[train] == "").any():
        raise LabelFileError(table.source, [
            f"data_handling.undersample needs {cfg.data_handling.class_column} in every training "
            f"row; {int((classes[train] == '').sum())} are empty (e.g. "
            f"{table.file_ids[int(np.flatnonzero(train & (classes == ''))[0])]})"])
    return classes[train]


def epoch_batches(cfg: Any, table: TargetTable, seed: int
                  ) -> tuple[Callable[[int], Iterable[torch.Tensor]], int]:
    """The trainer's ``Loop.batches`` (rows of the training split) and the steps per epoch."""
    h, batch = cfg.data_handling, cfg.train.batch_size
    n = int((table.splits == "train").sum())
    if not h.undersample:
        return (lambda epoch: index_batches(n, batch, seed, epoch)), -(-n // batch)
    classes = _train_classes(cfg, table)
    keep = () if h.balance_ambiguous else h.ambiguous
    size = len(epoch_rows(classes, h.per_class, seed, 0, keep))
    LOG.info("data_handling: undersampling %s: %d rows per epoch of %d training rows",
             h.class_column, size, n)

    def batches(epoch: int) -> Iterable[torch.Tensor]:
        rows = torch.from_numpy(epoch_rows(classes, h.per_class, seed, epoch, keep))
        return [rows[i:i + batch] for i in range(0, len(rows), batch)]

    return batches, -(-size // batch)


def _validation_counts(cfg: Any, table: TargetTable, seed: int
                       ) -> tuple[np.ndarray, dict[str, int]]:
    h = cfg.data_handling
    val = table.splits == "val"
    if not h.val_per_class:
        return val, {}
    classes = class_values(cfg, table)
    wanted = h.val_classes or sorted(set(classes[val].tolist()) - set(h.ambiguous) - {""})
    rng = np.random.default_rng([seed, 23])
    keep, counts = np.zeros(len(table), dtype=bool), {}
    for c in wanted:
        rows = np.flatnonzero(val & (classes == c))
        chosen = rng.choice(rows, min(h.val_per_class, len(rows)), replace=False)
        keep[chosen], counts[c] = True, len(chosen)
    if not keep.any():
        raise ConfigError(f"data_handling.val_per_class: no validation row has a class of "
                          f"{wanted}")
    return keep, counts


def validation_rows(cfg: Any, table: TargetTable, seed: int) -> np.ndarray:
    """The rows that the selection score is computed on (every validation row by default)."""
    keep, counts = _validation_counts(cfg, table, seed)
    short = {c: n for c, n in counts.items() if n < (cfg.data_handling.val_per_class or 0)}
    if counts:
        LOG.info("data_handling: selection on %d of %d validation rows (%s)%s", int(keep.sum()),
                 int((table.splits == "val").sum()), counts,
                 f"; fewer than k of {short}" if short else "")
    return keep


def record(cfg: Any, table: TargetTable, seed: int) -> dict[str, Any]:
    """What the data handling did (scores.json ``data_handling``)."""
    h: DataHandlingConfig = cfg.data_handling
    out: dict[str, Any] = {"class_column": h.class_column, "minmax": h.minmax}
    if not h.class_column:
        return out
    train = table.splits == "train"
    classes = class_values(cfg, table)
    file = pd.read_csv(table.source, dtype=str, keep_default_na=False)
    file.columns = [str(c).strip() for c in file.columns]
    file_train = (file[cfg.data.split_column].str.strip().str.lower()
                  == cfg.data.split_names.train.lower())
    in_file = int((file_train & file[h.class_column].str.strip().isin(h.ambiguous)).sum())
    trained = int((train & np.isin(classes, h.ambiguous)).sum())
    values, counts = np.unique(classes[train].astype(str), return_counts=True)
    out.update(ambiguous=list(h.ambiguous), train_ambiguous=h.train_ambiguous,
               ambiguous_training_rows={"in_table": in_file, "trained": trained,
                                        "left_out": in_file - trained},
               training_rows=int(train.sum()),
               training_classes={str(v): int(n) for v, n in zip(values, counts)})
    if h.undersample:
        keep = () if h.balance_ambiguous else h.ambiguous
        rows = epoch_rows(classes[train], h.per_class, seed, 0, keep)
        out["undersample"] = {"per_class": int(h.per_class or min(
            n for v, n in zip(values, counts) if v not in keep)), "rows_per_epoch": len(rows),
            "balance_ambiguous": h.balance_ambiguous}
    if h.val_per_class:
        keep_val, per = _validation_counts(cfg, table, seed)
        out["validation"] = {"k": h.val_per_class, "per_class": per,
                             "rows": int(keep_val.sum()),
                             "of": int((table.splits == "val").sum()), "seed": seed}
    return out
