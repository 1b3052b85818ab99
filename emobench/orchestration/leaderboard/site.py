"""``-m report --html``: a static leaderboard site beside the report's tables (no server, no
network: one style sheet and one script of our own inlined, :mod:`.assets`).

``<report>/index.html``: the table (every cell with its number of runs, ``partial`` marks, the
interval and significance mark when the aggregates carry them, the caption), one sortable table
per condition (mean, std, n, interval, mark, baseline, status, links to the runs), the figures.
``<report>/runs/<id>.html``: per run, its metrics, checkpoint and provenance, its config.yaml and
links to its files (scores.json, predictions.csv, the leaderboard files, log). Open
``index.html`` in a browser; every link is relative, so the results folder can be moved whole.
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

from emobench.core import io
from emobench.orchestration.leaderboard import assets
from emobench.orchestration.leaderboard.captions import caption
from emobench.orchestration.leaderboard.cells import MISSING, fmt
from emobench.orchestration.leaderboard.figures import safe

RUN_FILES = ("scores.json", "config.yaml", "predictions.csv", "log.log", "layer_weights.json",
             "layer_weights.svg", "aggregate.json")


def page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{assets.CSS}</style></head>\n<body>\n"
            f"{body}\n<script>{assets.JS}</script>\n</body></html>\n")


def _td(text: str, value: float | None = None, cls: str = "", extra: str = "") -> str:
    data = f' data-value="{value!r}"' if value is not None else ""
    klass = f' class="{cls}"' if cls else ""
    return f"<td{klass}{data}{extra}>{text}</td>"


def _head(names: list[str], first_left: int = 1) -> str:
    cells = "".join(f'<th class="name">{escape(n)}</th>' if i < first_left
                    else f"<th>{escape(n)}</th>" for i, n in enumerate(names))
    return f"<thead><tr>{cells}</tr></thead>"


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def run_id(key: tuple[str, str], folder: Path) -> str:
    """``<row>_<condition>_<fold folder>[_<seed folder>]``, safe as a file name."""
    tail = [p for p in folder.parts[-2:] if p.startswith(("fold", "seed"))] or [folder.name]
    return safe("_".join([key[0], key[1], *tail]))


def _main_table(table: Any) -> str:
    header = ["upstream", "checkpoint", "params (M)", "Average", *table.columns]
    rows = []
    for row in table.rows:
        ck = table.checkpoints.get(row)
        flags = "".join(f' <span class="flag">{escape(f)}</span>' for f in (ck.flags if ck else ()))
        params = table.params_m.get(row)
        average = table.average(row)
        cells = [f'<td class="name" data-row="{escape(row)}">{escape(row)}</td>',
                 f'<td class="name" title="{escape(ck.sha256 or "") if ck else ""}">'
                 f'{escape(ck.short if ck else "unknown")}{flags}</td>',
                 _td(MISSING if params is None else f"{params:g}", params),
                 _td(fmt(average), average, "" if average is not None else "missing")]
        for column in table.columns:
            cell = table.cell((row, column))
            where = f' data-row="{escape(row)}" data-condition="{escape(column)}"'
            if cell is None:
                cells.append(_td(MISSING, None, "missing", where))
            else:
                cells.append(_td(escape(cell.text()), cell.mean,
                                 "cell partial" if cell.partial else "cell", where))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table id="leaderboard" class="sortable">{_head(header, 2)}<tbody>'
            + "\n".join(rows) + "</tbody></table>")


def _number(value: Any) -> float | None:
    if isinstance(value, dict):  # {"mean": x, ...}
        value = value.get("mean")
    return float(value) if isinstance(value, (int, float)) else None


def _baseline(table: Any, key: tuple[str, str]) -> float | None:
    """The best constant predictor's score of the main metric: the aggregate's ``baselines``
    when it carries them, else the mean of what the cell's runs recorded in scores.json."""
    aggregate = table.sources.get(key)
    if not aggregate:
        return None
    split, name = aggregate["main"]["split"], aggregate["main"]["name"]
    found = _number(((aggregate.get("baselines") or {}).get(split) or {}).get(name))
    if found is not None:
        return found
    values = []
    for folder in table.runs.get(key, []):
        try:
            scores = json.loads((folder / "scores.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        values.append(_number(((scores.get("baselines") or {}).get(split) or {}).get(name)))
    if not values or None in values:
        return None
    return sum(values) / len(values)


def _condition_table(table: Any, column: str, index: int) -> str:
    header = ["upstream", "mean", "std", "n", "CI low", "CI high", "mark",
              "best constant predictor", "status", "runs"]
    rows = []
    for row in table.rows:
        cell = table.cell((row, column))
        if cell is None:
            continue
        ci = cell.ci or {}
        links = " ".join(f'<a href="runs/{run_id((row, column), f)}.html">{escape(f.name)}</a>'
                         for f in table.runs.get((row, column), []))
        status = "partial" if cell.partial else "complete"
        baseline = _baseline(table, (row, column))
        rows.append("<tr>" + "".join([
            f'<td class="name">{escape(row)}</td>', _td(fmt(cell.mean), cell.mean),
            _td(fmt(cell.std) if cell.runs > 1 else MISSING, cell.std if cell.runs > 1 else None),
            _td(escape(cell.count()), cell.runs), _td(fmt(ci.get("low")), ci.get("low")),
            _td(fmt(ci.get("high")), ci.get("high")), _td(escape(cell.mark or "")),
            _td(fmt(baseline), baseline), _td(status, None, "partial" if cell.partial else ""),
            f'<td class="name">{links}</td>']) + "</tr>")
    return (f'<table id="condition{index}" class="sortable">{_head(header)}<tbody>'
            + "\n".join(rows) + "</tbody></table>")


def _figure(out: Path, name: str, text: str) -> str:
    if not (out / name).is_file():
        return ""
    return (f'<figure><img src="{escape(name)}" alt="{escape(text)}" width="520">'
            f"<figcaption>{escape(text)}</figcaption></figure>")


def _index(table: Any, task: str, out: Path) -> str:
    parts = [f"<h1>{escape(task)} leaderboard: {escape(table.metric)}</h1>",
             '<nav><a href="table.md">table.md</a><a href="table.csv">table.csv</a>'
             '<a href="table.tex">table.tex</a><a href="table.json">table.json</a></nav>',
             _main_table(table),
             '<ul class="caption">' + "".join(f"<li>{escape(line)}</li>"
                                             for line in caption(table)) + "</ul>",
             "<p class=\"caption\">Click a column header to sort. Per condition below: the "
             "cells' fields, the best constant predictor's score on the same split (the "
             "aggregate's, else the mean of what the runs recorded), links to every run.</p>",
             _figure(out, "radar.png", "radar over the complete rows")]
    for row in table.rows:
        parts.append(_figure(out, f"layer_weights_{safe(row)}.png", f"{row}: layer weights"))
    for index, column in enumerate(table.columns):
        parts.append(f"<h2>{escape(column)}</h2>")
        parts.append(_condition_table(table, column, index))
        for row in table.rows:
            name = f"{safe(row)}_{safe(column)}.png"
            figures = (_figure(out, "confusion_" + name, f"{row}: confusion matrix")
                       + _figure(out, "per_class_f1_" + name, f"{row}: per-class F1"))
            if figures:
                parts.append(f"<details><summary>{escape(row)}: figures</summary>"
                             f"{figures}</details>")
    return page(f"{task} leaderboard", "\n".join(parts))


def _metrics(scores: dict[str, Any]) -> str:
    splits = scores.get("metrics") or {}
    names = sorted({n for values in splits.values() for n, v in values.items()
                    if isinstance(v, (int, float))})  # dict entries (ci, ceiling): below
    rows = ["<tr>" + f'<td class="name">{escape(split)}</td>'
            + "".join(_td(fmt(values.get(n)) if isinstance(values.get(n), (int, float))
                          else MISSING, values.get(n) if isinstance(values.get(n), (int, float))
                          else None) for n in names) + "</tr>"
            for split, values in splits.items()]
    return (f'<table class="sortable">{_head(["split", *names])}<tbody>' + "".join(rows)
            + "</tbody></table>")


def _run_page(key: tuple[str, str], folder: Path, out: Path) -> str:
    scores = json.loads((folder / "scores.json").read_text(encoding="utf-8"))
    here = out / "runs"
    files = sorted({*(folder / n for n in RUN_FILES), *folder.glob("*_predict.txt"),
                    *folder.glob("*_truth.txt")})
    links = " ".join(f'<a href="{escape(_rel(f, here))}">{escape(f.name)}</a>'
                     for f in files if f.is_file())
    config = folder / "config.yaml"
    blocks = {"upstream": scores.get("upstream"), "upstreams": scores.get("upstreams"),
              "toolkit": scores.get("toolkit"), "provenance": scores.get("provenance"),
              "seed": scores.get("seed"), "fold": scores.get("fold"),
              "per_split": {s: {k: x for k, x in v.items() if isinstance(x, dict)}
                            for s, v in (scores.get("metrics") or {}).items()
                            if any(isinstance(x, dict) for x in v.values())},
              "ci": scores.get("ci"), "ceiling": scores.get("ceiling"),
              "baselines": scores.get("baselines"),
              "warnings": scores.get("warnings")}
    shown = {k: v for k, v in blocks.items() if v not in (None, {}, [])}
    body = [f"<h1>{escape(key[0])} on {escape(key[1])}: {escape(folder.name)}</h1>",
            '<nav><a href="../index.html">leaderboard</a></nav>',
            f"<p>run folder: <code>{escape(str(folder))}</code></p>",
            "<h2>metrics</h2>", _metrics(scores), "<h2>files</h2>", f"<p>{links}</p>",
            "<h2>checkpoint and provenance</h2>",
            f"<pre>{escape(json.dumps(shown, indent=2, sort_keys=True))}</pre>"]
    if config.is_file():
        body += ["<h2>config.yaml</h2>",
                 f"<pre>{escape(config.read_text(encoding='utf-8'))}</pre>"]
    return page(f"{key[0]} {key[1]} {folder.name}", "\n".join(body))


def write(table: Any, out: Path, task: str) -> list[Path]:
    """``index.html`` and one page per run (see the module); returns the written files."""
    written = [io.write_text(out / "index.html", _index(table, task, out))]
    for key, folders in sorted(table.runs.items()):
        for folder in folders:
            if (folder / "scores.json").is_file():
                written.append(io.write_text(out / "runs" / f"{run_id(key, folder)}.html",
                                             _run_page(key, folder, out)))
    return written
