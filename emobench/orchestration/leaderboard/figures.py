"""The report's figures, readable at paper size (3.5 in: one column; 7 in: two; 8-9 pt text).

- ``radar.png``: only rows whose every cell is complete; with none (or fewer than three
  conditions) no file is written (a stale one is removed) and the reason is given in the caption.
- ``layer_weights_<row>.png``: per condition, the mean softmax weight of every hidden state over
  the cell's runs with the band mean ± std over them, the uniform weight 1/L, y from 0 (not
  drawn for an upstream of one hidden state: said in the caption).
- ``confusion_<row>_<condition>.png`` and ``per_class_f1_<row>_<condition>.png`` (emotion): the
  row-normalised confusion matrix of the test predictions pooled over the cell's runs (truth:
  the class of largest label weight, ties to the first in class order; prediction: the class of
  largest probability) from their ``predictions.csv``, and the per-class test F1 of their
  ``scores.json`` (mean ± std over runs).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from emobench.core import plots

ONE_COLUMN, TWO_COLUMNS = 3.5, 7.0  # inches
FONT = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
        "ytick.labelsize": 7, "legend.fontsize": 7}


def safe(name: str) -> str:
    """A file-name part: ``demo/labels`` -> ``demo_labels``.

    >>> safe("demo/labels"), safe("a+b c")
    ('demo_labels', 'a+b_c')
    """
    return re.sub(r"[^A-Za-z0-9+.=-]+", "_", name).strip("_")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def radar(table: Any, path: Path) -> tuple[Path | None, str | None]:
    """The radar of the complete rows, or no file and the reason."""
    if len(table.columns) < 3:
        reason = f"radar: not drawn (needs 3 or more conditions, the table has " \
                 f"{len(table.columns)})"
    else:
        rows = [r for r in table.rows if table.complete(r)]
        reason = None if rows else ("radar: not drawn (no row has a complete cell in every "
                                    "condition: missing or partial cells)")
    if reason:
        path.unlink(missing_ok=True)  # never leave a stale figure beside a new table
        return None, reason
    angles = np.linspace(0, 2 * np.pi, len(table.columns), endpoint=False)
    plt = plots.pyplot()
    with plt.rc_context(FONT):
        fig = plt.figure(figsize=(ONE_COLUMN, ONE_COLUMN))
        ax = fig.add_subplot(projection="polar")
        for row in rows:
            values = [table.cells[(row, c)][0] for c in table.columns]
            ax.plot(list(angles) + [angles[0]], values + values[:1], label=row, linewidth=1.2)
        top = max(table.cells[(r, c)][0] for r in rows for c in table.columns)
        ax.set_ylim(0, 1.0 if 0 < top <= 1 else max(top * 1.1, 1e-9))  # scores in [0, 1]
        ax.yaxis.set_major_locator(plt.MaxNLocator(4))
        ax.set_rlabel_position(float(np.degrees(angles[1] / 2)))  # between the first two axes
        ax.tick_params(axis="y", labelsize=6, colors="grey")
        ax.set_xticks(angles)
        ax.set_xticklabels(table.columns)
        ax.tick_params(axis="x", pad=10)
        ax.set_title(f"{table.metric}, complete rows", pad=14)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
        return plots.save(fig, path), None


def _run_weights(table: Any, key: tuple[str, str]) -> list[list[float]]:
    found = []
    for folder in table.runs.get(key, []):
        data = _read_json(folder / "layer_weights.json")
        if data and data.get("weights"):
            found.append(data["weights"])
    return found


def layer_weights(table: Any, row: str, path: Path) -> Path | None:
    """One curve per condition with its spread over runs; y from 0; the uniform line."""
    curves = {}
    for column in table.columns:
        runs = _run_weights(table, (row, column))
        if runs and len({len(w) for w in runs}) == 1:
            curves[column] = np.array(runs, dtype=float)
        elif (row, column) in table.weights:
            curves[column] = np.array([table.weights[(row, column)]], dtype=float)
    layers = max((c.shape[1] for c in curves.values()), default=0)
    if layers < 2:  # one hidden state: its weight is 1, nothing to show
        return None
    plt = plots.pyplot()
    with plt.rc_context(FONT):
        fig, ax = plt.subplots(figsize=(TWO_COLUMNS if layers > 8 else ONE_COLUMN, 2.4))
        top = 0.0
        for column, runs in curves.items():
            mean, std = runs.mean(axis=0), runs.std(axis=0, ddof=1) if len(runs) > 1 else None
            x = np.arange(runs.shape[1])
            line, = ax.plot(x, mean, marker="o", markersize=2.5, linewidth=1,
                            label=f"{column} (n={len(runs)})")
            if std is not None:
                ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2,
                                linewidth=0)
            top = max(top, float((mean + (std if std is not None else 0)).max()))
        uniform = 1.0 / layers
        ax.axhline(uniform, color="grey", linestyle="--", linewidth=0.8,
                   label=f"uniform 1/L = {uniform:.3f}")
        ax.set_ylim(0, max(top, uniform) * 1.1)
        ax.set_xticks(range(0, layers, max(1, layers // 12)))
        ax.set_xlabel("hidden state (0 = input features)")
        ax.set_ylabel("softmax weight")
        ax.set_title(f"{row}: layer weights (band: ± std over runs)")
        ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2)
        return plots.save(fig, path)


def _predictions(folder: Path) -> tuple[list[str], list[int], list[int]] | None:
    """Classes, test truths and predictions (argmax) of a run's predictions.csv."""
    try:
        with open(folder / "predictions.csv", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError:
        return None
    if not rows:
        return None
    classes = [k[len("prob_"):] for k in rows[0] if k.startswith("prob_")]
    truth, predicted = [], []
    for r in rows:
        if r["split"] != "test":
            continue
        truth.append(int(np.argmax([float(r[f"label_{c}"]) for c in classes])))
        predicted.append(int(np.argmax([float(r[f"prob_{c}"]) for c in classes])))
    return classes, truth, predicted


def confusion(table: Any, key: tuple[str, str], path: Path) -> Path | None:
    """The row-normalised test confusion matrix pooled over the cell's runs."""
    found = [p for p in (_predictions(f) for f in table.runs.get(key, [])) if p]
    if not found or len({tuple(p[0]) for p in found}) != 1:
        return None
    classes = found[0][0]
    counts = np.zeros((len(classes), len(classes)), dtype=int)
    for _, truth, predicted in found:
        np.add.at(counts, (np.asarray(truth, dtype=int), np.asarray(predicted, dtype=int)), 1)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = ONE_COLUMN if len(classes) <= 8 else TWO_COLUMNS
    plt = plots.pyplot()
    with plt.rc_context(FONT):
        fig, ax = plt.subplots(figsize=(size, size * 0.85))
        image = ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)))
        ax.set_xticklabels(classes, rotation=30, ha="right")
        ax.set_yticks(range(len(classes)))
        ax.set_yticklabels([f"{c} ({n})" for c, n in zip(classes, counts.sum(axis=1))])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true (test utterances)")
        ax.set_title(f"{key[0]}, {key[1]}: test, {len(found)} runs pooled")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        return plots.save(fig, path)


def per_class_f1(table: Any, key: tuple[str, str], path: Path) -> Path | None:
    """Per-class test F1, mean ± std over the cell's runs."""
    runs = [_read_json(f / "scores.json") for f in table.runs.get(key, [])]
    values = [r["per_class"]["f1"]["test"] for r in runs
              if r and "test" in r.get("per_class", {}).get("f1", {})]
    if not values:
        return None
    classes = list(values[0])
    matrix = np.array([[v.get(c, np.nan) for c in classes] for v in values], dtype=float)
    mean = np.nanmean(matrix, axis=0)
    std = np.nanstd(matrix, axis=0, ddof=1) if len(values) > 1 else None
    plt = plots.pyplot()
    with plt.rc_context(FONT):
        fig, ax = plt.subplots(figsize=(ONE_COLUMN if len(classes) <= 8 else TWO_COLUMNS,
                                              2.4))
        ax.bar(range(len(classes)), mean, yerr=std, capsize=2, color="tab:blue")
        ax.set_xticks(range(len(classes)))
        ax.set_xticklabels(classes, rotation=30, ha="right")
        ax.set_ylim(0, 1)
        ax.set_ylabel("test F1")
        ax.set_title(f"{key[0]}, {key[1]}: per-class F1 (n={len(values)}"
                     + (", ± std)" if std is not None else ")"))
        return plots.save(fig, path)


def write_all(table: Any, out: Path, task: str) -> list[Path]:
    """Every figure of the table; the reasons for figures not drawn go to ``table.messages``."""
    written, single = [], []
    for row in table.rows:
        figure = layer_weights(table, row, out / f"layer_weights_{safe(row)}.png")
        written += [figure] if figure else []
        if figure is None and any(len(w) == 1 for (r, _), w in table.weights.items() if r == row):
            single.append(row)
    if single:
        table.messages.append(f"layer weights: not drawn for {', '.join(single)} (one hidden "
                              "state, whose weight is 1)")
    figure, reason = radar(table, out / "radar.png")
    written += [figure] if figure else []
    if reason:
        table.messages.append(reason)
    if task == "emotion":
        for key in sorted(table.cells):
            name = f"{safe(key[0])}_{safe(key[1])}.png"
            for draw, prefix in ((confusion, "confusion_"), (per_class_f1, "per_class_f1_")):
                figure = draw(table, key, out / (prefix + name))
                written += [figure] if figure else []
    return written
