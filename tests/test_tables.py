"""Tables and figures from results folders: layout, missing and partial cells, counts,
checkpoint identity, intervals and marks, the radar's refusal, the layer-weight figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emobench.core import io
from emobench.orchestration import tables
from emobench.orchestration.leaderboard import figures
from report_helpers import SHA, aggregate


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    five = [0.6, 0.7, 0.65, 0.6, 0.7]
    aggregate(tmp_path, "wavlm_large", "crema_d", "Primary", five, [0.2, 0.3, 0.5])
    aggregate(tmp_path, "wavlm_large", "iemocap", "Secondary", [0.3, 0.34, 0.3, 0.32, 0.34])
    aggregate(tmp_path, "apc", "crema_d", "Primary", [0.4, 0.5], [0.6, 0.4])  # 2 of 5 folds
    aggregate(tmp_path, "wavlm_large", "demo", "labels", [0.8])
    aggregate(tmp_path, "apc", "demo", "labels", [0.7])
    return tmp_path


def test_table_layout_missing_partial_cells_and_average(results: Path):
    table = tables.build(tables.collect(results))
    assert table.columns[:2] == ["CREMA-D", "IEMOCAP"]  # the paper's order first
    assert table.columns[2] == "demo/labels"
    assert table.rows == ["wavlm_large", "apc"]  # complete rows first, by average
    assert table.average("wavlm_large") == pytest.approx((0.65 + 0.32 + 0.8) / 3)
    assert table.average("apc") is None  # IEMOCAP missing, CREMA-D partial: no average
    md = tables.markdown(table)
    short = SHA[:12]
    # the partial cell: 2 of CREMA-D's 5 folds, marked; a single run: no std, n=1
    assert f"| apc | {short} | 4 | – | 0.4500 ± 0.0707 n=2/5 partial | – | 0.7000 n=1 |" in md, md
    assert "0.8000 n=1 |" in md and "0.8000 ± 0.0000" not in md
    header = "| upstream | checkpoint | params (M) | Average | CREMA-D | IEMOCAP | demo/labels |"
    assert header in md
    assert "partial cells are left out of the Average" in md
    csv_text = tables.to_csv(table)
    assert csv_text.splitlines()[2] == f"apc,{short},4,,0.4500 ± 0.0707 n=2/5 partial,,0.7000 n=1"
    tex = tables.latex(table)
    assert r"\begin{tabular}" in tex and "demo/labels" in tex and r"$\pm$" in tex
    cell = table.cell(("apc", "CREMA-D"))
    assert cell.partial and (cell.runs, cell.expected_runs) == (2, 5)


def test_the_partial_cell_is_marked_beside_a_complete_one_of_the_same_column(tmp_path: Path):
    aggregate(tmp_path, "a", "demo", "labels", [0.5, 0.6, 0.7])  # not a registered condition:
    aggregate(tmp_path, "b", "demo", "labels", [0.9])  # complete = the most any cell has
    data = json.loads(io.write_json(tmp_path / "t.json", tables.as_json(
        tables.build(tables.collect(tmp_path)), [])).read_text())
    cells = {c["upstream"]: c for c in data["cells"]}
    assert cells["b"]["partial"] and cells["b"]["text"] == "0.9000 n=1/3 partial"
    assert not cells["a"]["partial"] and cells["a"]["expected_runs"] == 3
    assert data["average"] == {"a": pytest.approx(0.6), "b": None}


def test_a_tiny_checkpoint_is_flagged_and_not_given_the_published_size(tmp_path: Path):
    tiny = {"checkpoint": "/ck/tiny_wavlm.ckpt",
            "measured": {"hidden_states": 3, "dim": 16, "params_m": 0.0123}}
    aggregate(tmp_path, "wavlm_large", "demo", "labels", [0.3, 0.4], record=tiny)
    table = tables.build(tables.collect(tmp_path))
    md = tables.markdown(table)
    assert f"| wavlm_large | {SHA[:12]} (tiny) | 0.0123 |" in md, md
    assert "317" not in md  # never the published 317 M of the name
    assert table.checkpoints["wavlm_large"].path == "/ck/tiny_wavlm.ckpt"
    # a run without measured shapes: the number of layer weights tells (25 published)
    aggregate(tmp_path / "old", "wavlm_large", "demo", "arousal", [0.5], weights=[0.5, 0.5],
              record={})
    table = tables.build(tables.collect(tmp_path / "old"))
    assert table.checkpoints["wavlm_large"].flags == ("tiny",)
    assert table.params_m["wavlm_large"] is None
    # the published shapes: not tiny, the published size
    full = {"measured": {"hidden_states": 25, "dim": 1024}}
    aggregate(tmp_path / "full", "wavlm_large", "demo", "labels", [0.5], record=full)
    table = tables.build(tables.collect(tmp_path / "full"))
    assert table.checkpoints["wavlm_large"].flags == ()
    assert table.params_m["wavlm_large"] == pytest.approx(316.62, abs=1)


def test_one_name_with_two_checkpoints_is_two_rows(tmp_path: Path):
    aggregate(tmp_path / "x", "apc", "demo", "labels", [0.5])
    aggregate(tmp_path / "y", "apc", "demo", "labels", [0.6],
              record={"checkpoint_sha256": "cd" * 32})
    table = tables.build(tables.collect(tmp_path))
    assert sorted(table.rows) == [f"apc@{'ab' * 6}", f"apc@{'cd' * 6}"]


def test_intervals_and_marks_are_rendered_with_their_legend(results: Path):
    aggregate(results, "apc", "iemocap", "Secondary", [0.2, 0.25, 0.2, 0.22, 0.3],
              ci={"low": 0.19, "high": 0.27, "level": 0.95, "unit": "speaker",
                  "resamples": 1000, "seed": 0},
              significance={"mark": "*", "legend": "*: below the best row (Holm, p < 0.05)"})
    md = tables.markdown(tables.build(tables.collect(results)))
    assert "0.2340* ± 0.0422 [0.1900, 0.2700] n=5" in md, md
    assert "95% bootstrap confidence interval" in md and "resampling speakers" in md
    assert "*: below the best row (Holm, p < 0.05)" in md


def test_report_writes_tables_and_figures(results: Path, tmp_path: Path):
    written = {p.name for p in tables.write_report(results, tmp_path / "report")}
    assert {"table.md", "table.csv", "table.tex", "table.json", "layer_weights_wavlm_large.png",
            "layer_weights_apc.png"} <= written
    data = json.loads((tmp_path / "report" / "table.json").read_text())
    assert len(data["cells"]) == 5 and data["average"]["apc"] is None
    assert data["checkpoints"]["apc"]["short"] == SHA[:12]


def test_radar_over_complete_rows_only(results: Path, tmp_path: Path):
    aggregate(results, "apc", "iemocap", "Secondary", [0.2] * 5)
    names = {p.name for p in tables.write_report(results, tmp_path / "r")}
    assert "radar.png" in names  # wavlm_large is complete (apc's CREMA-D is partial)


def test_radar_refuses_an_all_partial_table_with_a_message(tmp_path: Path):
    for up in ("apc", "tera"):
        for corpus, condition in (("crema_d", "Primary"), ("iemocap", "Secondary"),
                                  ("podcast", "Primary")):
            aggregate(tmp_path / "res", up, corpus, condition, [0.4, 0.5])  # 2 of 5 folds each
    out = tmp_path / "report"
    io.write_bytes(out / "radar.png", b"stale")
    names = {p.name for p in tables.write_report(tmp_path / "res", out)}
    assert "radar.png" not in names and not (out / "radar.png").exists()
    md = (out / "table.md").read_text()
    assert "radar: not drawn (no row has a complete cell in every condition" in md


def test_layer_weight_figure_starts_at_zero_with_the_uniform_line(results: Path, tmp_path,
                                                                   monkeypatch):
    seen = {}
    monkeypatch.setattr(figures.plots, "save", lambda fig, path: seen.setdefault("fig", fig)
                        and Path(path))
    aggregate(results, "hubert", "demo", "labels", [0.5, 0.6], [0.33, 0.34, 0.33])
    table = tables.build(tables.collect(results))
    figures.layer_weights(table, "hubert", tmp_path / "w.png")
    ax = seen["fig"].axes[0]
    assert ax.get_ylim()[0] == 0
    assert any(list(line.get_ydata()) == [1 / 3, 1 / 3] for line in ax.get_lines())
    assert seen["fig"].get_size_inches()[0] == figures.ONE_COLUMN


def test_two_results_for_one_cell_are_an_error(results: Path):
    aggregate(results / "again", "apc", "demo", "labels", [0.1])
    with pytest.raises(ValueError, match="two results"):
        tables.build(tables.collect(results))


def test_a_cell_of_fewer_seeds_than_the_others_is_partial(tmp_path: Path):
    from emobench.core.seeds import cell

    def run(value: float) -> dict:
        return {"task": "multitask", "corpus": "demo", "condition": "x",
                "upstream": {"name": "fbank_no_cmvn", "checkpoint_sha256": SHA},
                "metrics": {"val": {"s": value}, "test": {"s": value}},
                "main_metric": {"name": "s", "split": "test", "higher_is_better": True}}

    io.write_json(tmp_path / "a" / "aggregate.json",
                  {**cell({1: run(0.5), 2: run(0.6), 3: run(0.7)}), "row": "a"})
    io.write_json(tmp_path / "b" / "aggregate.json", {**cell({1: run(0.4)}), "row": "b"})
    table = tables.build(tables.collect(tmp_path, "multitask"))
    md = tables.markdown(table)
    assert "| 0.4000 (0.4000) n=1/3 partial |" in md, md
    assert "0.6000 ± 0.1000 (0.7000) n=3 |" in md
    assert table.average("b") is None and table.average("a") == pytest.approx(0.6)
