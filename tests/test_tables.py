"""Tables and figures from results folders: layout, missing cells, formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emobench.core import io
from emobench.orchestration import tables
from emobench.core.aggregate import folds


def aggregate(root: Path, upstream: str, corpus: str, condition: str, values: list[float],
              weights: list[float] | None = None) -> Path:
    runs = {k + 1: {"task": "emotion", "corpus": corpus, "condition": condition,
                    "upstream": {"name": upstream},
                    "main_metric": {"name": "macro_f1", "split": "test"},
                    "metrics": {"test": {"macro_f1": v}}, "per_class": {}}
            for k, v in enumerate(values)}
    data = folds(runs, {k: weights for k in runs} if weights else None)
    return io.write_json(root / f"{upstream}_{corpus}_{condition}" / "aggregate.json", data)


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    aggregate(tmp_path, "wavlm_large", "crema_d", "Primary", [0.6, 0.7], [0.2, 0.3, 0.5])
    aggregate(tmp_path, "wavlm_large", "iemocap", "Secondary", [0.3, 0.34])
    aggregate(tmp_path, "apc", "crema_d", "Primary", [0.4, 0.5], [0.6, 0.4])
    aggregate(tmp_path, "wavlm_large", "demo", "labels", [0.8])
    aggregate(tmp_path, "apc", "demo", "labels", [0.7])
    return tmp_path


def test_table_layout_missing_cells_and_average(results: Path):
    table = tables.build(tables.collect(results))
    assert table.columns[:2] == ["CREMA-D", "IEMOCAP"]  # the paper's order first
    assert table.columns[2] == "demo/labels"
    assert table.rows == ["wavlm_large", "apc"]  # complete rows first, by average
    assert table.average("wavlm_large") == pytest.approx((0.65 + 0.32 + 0.8) / 3)
    assert table.average("apc") is None  # IEMOCAP missing: no average
    md = tables.markdown(table)
    assert "| apc | 4 | – | 0.4500 | – | 0.7000 |" in md, md
    assert "| upstream | params (M) | Average | CREMA-D | IEMOCAP | demo/labels |" in md
    csv_text = tables.to_csv(table)
    assert csv_text.splitlines()[2] == "apc,4,,0.4500,,0.7000"
    tex = tables.latex(table)
    assert r"\begin{tabular}" in tex and "demo/labels" in tex and "--" in tex


def test_report_writes_tables_and_figures(results: Path, tmp_path: Path):
    written = {p.name for p in tables.write_report(results, tmp_path / "report")}
    assert {"table.md", "table.csv", "table.tex", "table.json", "layer_weights_wavlm_large.png",
            "layer_weights_apc.png"} <= written
    data = json.loads((tmp_path / "report" / "table.json").read_text())
    assert len(data["cells"]) == 5 and data["average"]["apc"] is None


def test_radar_needs_three_conditions(results: Path, tmp_path: Path):
    aggregate(results, "apc", "iemocap", "Secondary", [0.2])
    names = {p.name for p in tables.write_report(results, tmp_path / "r")}
    assert "radar.png" in names


def test_two_results_for_one_cell_are_an_error(results: Path):
    aggregate(results / "again", "apc", "demo", "labels", [0.1])
    with pytest.raises(ValueError, match="two results"):
        tables.build(tables.collect(results))
