"""Target kinds and losses, by name.

A kind says how a target is read (its :class:`~corpora.target_table.ColumnSpec`), what its
canonical truth and prediction are (categorical kinds: ``(N, C)`` class probabilities; numeric
kinds: ``(N, K)`` values), what the network outputs for it, what it trains on, its constant
baseline, and which losses and metrics fit it.

| kind | source | head output | trains on | losses |
|---|---|---|---|---|
| soft_categorical | one class column (smoothed one-hot) or one column per class | C logits | soft labels, class-balanced weights | soft_cross_entropy |
| categorical | one class column | C logits | class index | cross_entropy |
| intensities | K columns in [0, 1] | K sigmoids | the values | mse, ccc |
| regression | one column | 1 value | the value (optionally standardised by train) | mse, ccc |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from emobench.core.registry import Registry
from emobench.corpora.target_table import ColumnSpec, TargetTable
from emobench.downstream.emotion.loss import class_balanced_weights, soft_label_loss
from emobench.downstream.emotion.metrics import best_constant_probs

KINDS = Registry("target kind")
LOSSES = Registry("loss")


@dataclass
class Target:
    """One declared target, fitted on a table's training rows."""

    cfg: Any  # TargetConfig
    kind: "Kind"
    columns: tuple[str, ...]  # source columns
    labels: tuple[str, ...]  # class names (categorical) or column names (numeric)
    mean: float = 0.0  # regression standardisation (identity by default)
    std: float = 1.0
    class_weights: np.ndarray | None = None  # soft_categorical

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def size(self) -> int:
        """Outputs of the target's head."""
        return 1 if self.kind.name == "regression" else len(self.labels)


class Kind:
    name = ""
    categorical = False
    losses: tuple[str, ...] = ()
    default_metrics: tuple[str, ...] = ()

    def spec(self, cfg, columns: tuple[str, ...]) -> ColumnSpec:
        low, high = cfg.range if cfg.range else (None, None)
        return ColumnSpec(cfg.name, "numbers", columns, low=low, high=high,
                          open_range=cfg.range_open, required=cfg.required)

    def truth(self, target: Target, table: TargetTable) -> np.ndarray:
        return table.values[target.name].astype(np.float64)

    def fit(self, target: Target, train: np.ndarray) -> None:
        """Set what the target learns from the training truth (present rows only)."""

    def train_values(self, target: Target, truth: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(truth).float()

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return raw

    def canonical(self, target: Target, output: torch.Tensor) -> np.ndarray:
        return output.double().cpu().numpy()

    def baseline(self, target: Target, train: np.ndarray, n: int) -> np.ndarray:
        """The constant prediction made from the training truth: the mean."""
        return np.tile(train.mean(axis=0), (n, 1))


class Categorical(Kind):
    name, categorical = "categorical", True
    losses, default_metrics = ("cross_entropy",), ("uar", "accuracy", "macro_f1")

    def spec(self, cfg, columns: tuple[str, ...]) -> ColumnSpec:
        return ColumnSpec(cfg.name, "categorical", columns[:1],
                          tuple(cfg.classes) if cfg.classes is not None else None,
                          cfg.indices, cfg.names_column, required=cfg.required,
                          no_label=tuple(cfg.no_label))

    def truth(self, target: Target, table: TargetTable) -> np.ndarray:
        codes = table.values[target.name]
        out = np.full((len(codes), len(target.labels)), np.nan)
        known = codes >= 0
        out[known] = np.eye(len(target.labels))[codes[known]]
        return out

    def train_values(self, target: Target, truth: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.nan_to_num(truth).argmax(axis=1)).long()

    def canonical(self, target: Target, output: torch.Tensor) -> np.ndarray:
        return torch.softmax(output.double(), dim=-1).cpu().numpy()

    def baseline(self, target: Target, train: np.ndarray, n: int) -> np.ndarray:
        """The majority training class."""
        counts = np.bincount(train.argmax(axis=1), minlength=train.shape[1])
        return np.tile(np.eye(train.shape[1])[counts.argmax()], (n, 1))


class SoftCategorical(Categorical):
    name = "soft_categorical"
    losses, default_metrics = ("soft_cross_entropy",), ("macro_f1", "accuracy", "uar")

    def spec(self, cfg, columns: tuple[str, ...]) -> ColumnSpec:
        if len(columns) == 1:  # one label per row, smoothed
            return super().spec(cfg, columns)
        return ColumnSpec(cfg.name, "numbers", columns, low=0.0, high=1.0, row_sum=1.0,
                          required=cfg.required)

    def truth(self, target: Target, table: TargetTable) -> np.ndarray:
        if len(target.columns) > 1:
            return table.values[target.name].astype(np.float64)
        hard = super().truth(target, table)
        known = ~np.isnan(hard).any(axis=1)
        s, c = target.cfg.smoothing, hard.shape[1]
        if s > 0:  # EMO-SUPERB's smoothing of a one-hot vote at s = 0.05
            hard[known] = (1.0 - s) * hard[known] + s * (1.0 - hard[known]) / (c - 1)
        return hard

    def fit(self, target: Target, train: np.ndarray) -> None:
        target.class_weights = class_balanced_weights(train)

    def train_values(self, target: Target, truth: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.nan_to_num(truth)).float()

    def baseline(self, target: Target, train: np.ndarray, n: int) -> np.ndarray:
        """EMO-SUPERB's best constant probabilities for threshold macro-F1 (on the train set)."""
        return np.tile(best_constant_probs(train), (n, 1))


class Intensities(Kind):
    name, losses, default_metrics = "intensities", ("mse", "ccc"), ("ccc", "mae", "pearson")

    def spec(self, cfg, columns: tuple[str, ...]) -> ColumnSpec:
        low, high = cfg.range if cfg.range else (0.0, 1.0)
        return ColumnSpec(cfg.name, "numbers", columns, low=low, high=high,
                          open_range=cfg.range_open, required=cfg.required)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(raw)


class Regression(Kind):
    name, losses, default_metrics = "regression", ("mse", "ccc"), ("ccc", "mae", "pearson")

    def fit(self, target: Target, train: np.ndarray) -> None:
        if target.cfg.standardize:
            target.mean, target.std = float(train[:, 0].mean()), float(train[:, 0].std())
            if not target.std > 0:
                raise ValueError(f"target {target.name!r}: every training value is the same "
                                 "(std 0): it cannot be standardised")

    def train_values(self, target: Target, truth: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((truth[:, 0] - target.mean) / target.std).float()

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.squeeze(-1)

    def canonical(self, target: Target, output: torch.Tensor) -> np.ndarray:
        return (output.double().cpu() * target.std + target.mean).numpy()[:, None]


def ccc_loss(output: torch.Tensor, values: torch.Tensor, target: Target) -> torch.Tensor:
    """1 - CCC (population moments), mean over the columns.

    >>> t = Target(None, Regression(), ("y",), ("y",))
    >>> float(ccc_loss(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0]), t))
    0.0
    """
    x = output if output.dim() == 2 else output[:, None]
    y = values if values.dim() == 2 else values[:, None]
    mx, my = x.mean(dim=0), y.mean(dim=0)
    cov = ((x - mx) * (y - my)).mean(dim=0)
    denominator = x.var(dim=0, unbiased=False) + y.var(dim=0, unbiased=False) + (mx - my) ** 2
    return (1.0 - 2.0 * cov / denominator.clamp_min(1e-12)).mean()


def mse_loss(output: torch.Tensor, values: torch.Tensor, target: Target) -> torch.Tensor:
    return F.mse_loss(output, values)


def cross_entropy_loss(output: torch.Tensor, values: torch.Tensor, target: Target) -> torch.Tensor:
    return F.cross_entropy(output, values)


def soft_cross_entropy_loss(output: torch.Tensor, values: torch.Tensor,
                            target: Target) -> torch.Tensor:
    weights = torch.as_tensor(target.class_weights, dtype=torch.float32, device=output.device)
    return soft_label_loss(output, values, weights)


for _kind in (SoftCategorical(), Categorical(), Intensities(), Regression()):
    KINDS.register(_kind.name, _kind)
LOSSES.register("mse", mse_loss, note="mean squared error (of the standardised value when "
                                      "the target is standardised)")
LOSSES.register("ccc", ccc_loss, note="1 - CCC, mean over the columns")
LOSSES.register("cross_entropy", cross_entropy_loss, note="cross-entropy of the class index")
LOSSES.register("soft_cross_entropy", soft_cross_entropy_loss,
                note="EMO-SUPERB's class-balanced soft-label cross-entropy")
