"""SERAB's benchmark table (UM / WM / GM) from a results folder, and the sweep file's dry run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from emobench.orchestration import serab_table
from emobench.orchestration.cli import main

ACCURACY = {"aesdd": 0.6, "cafe": 0.5, "crema_d": 0.7, "emodb": 0.9, "emovo": 0.4,
            "iemocap4": 0.65, "ravdess": 0.55, "savee": 0.8}  # shemo: missing
TEST_SIZE = {"aesdd": 120, "cafe": 180, "crema_d": 1500, "emodb": 84, "emovo": 100,
             "iemocap4": 1100, "ravdess": 300, "savee": 100}


def write_run(folder: Path, corpus: str, accuracy: float, test: int, **features) -> None:
    folder.mkdir(parents=True)
    (folder / "scores.json").write_text(json.dumps({
        "task": "probe", "corpus": corpus, "upstream": {"name": "byol_s_512", "layer": None},
        "features": {"functionals": "mean", "speaker_standardize": False, **features},
        "metrics": {"test": {"accuracy": accuracy}}, "counts": {"test": test}}))


@pytest.fixture
def results(tmp_path) -> Path:
    for corpus, acc in ACCURACY.items():
        write_run(tmp_path / "byol_s_512" / corpus / "fold1", corpus, acc, TEST_SIZE[corpus])
    # a cross-corpus cell and an emotion run are not benchmark cells
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "scores.json").write_text(json.dumps({"task": "emotion"}))
    return tmp_path


def test_means_leave_the_missing_corpus_out_and_say_so(results: Path):
    table = serab_table.collect(results)
    assert list(table.cells) == ["byol_s_512"]
    means = table.means("byol_s_512")
    assert means["missing"] == ["shemo"] and len(means["corpora"]) == 8
    values = list(ACCURACY.values())
    assert means["UM"] == pytest.approx(sum(values) / 8)
    assert means["WM"] == pytest.approx(sum(ACCURACY[c] * TEST_SIZE[c] for c in ACCURACY)
                                        / sum(TEST_SIZE.values()))
    assert means["GM"] == pytest.approx(math.prod(values) ** (1 / 8))
    assert means["GM"] < means["UM"]  # AM-GM


def test_report_files_show_the_missing_corpus(results: Path, capsys):
    assert main(["-m", "serab_table", "-p", str(results)]) == 0
    out = results / "report"
    md = (out / "serab.md").read_text()
    header, _, row = md.splitlines()[2:5]
    assert header.split(" | ")[-4:] == ["shemo", "UM", "WM", "GM |"]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "byol_s_512" and cells[4] == "90.0" and cells[9] == "–"
    assert cells[10] == f"{100 * sum(ACCURACY.values()) / 8:.1f}"
    assert "no result for shemo" in md and "over the 8 corpora with a result only" in md
    csv_lines = (out / "serab.csv").read_text().splitlines()
    assert csv_lines[0].startswith("upstream,aesdd") and csv_lines[1].split(",")[9] == "–"
    tex = (out / "serab.tex").read_text()
    assert r"crema\_d" in tex and "--" in tex and r"\bottomrule" in tex
    summary = json.loads((out / "serab.json").read_text())
    assert summary["rows"]["byol_s_512"]["missing"] == ["shemo"]


def test_two_results_for_one_cell_are_an_error(results: Path, capsys):
    write_run(results / "again" / "emodb", "emodb", 0.1, 84)
    assert main(["-m", "serab_table", "-p", str(results)]) == 2
    assert "two results for byol_s_512 on emodb" in capsys.readouterr().err


def test_rows_are_upstreams_with_their_feature_options(results: Path):
    write_run(results / "spk" / "emodb", "emodb", 0.95, 84, speaker_standardize=True)
    table = serab_table.collect(results)
    assert table.cells["byol_s_512 (speaker-standardised)"] == {"emodb": (0.95, 84)}
    assert table.means("byol_s_512 (speaker-standardised)")["missing"] == [
        c for c in serab_table.SERAB_CORPORA if c != "emodb"]


def test_empty_or_absent_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["-m", "serab_table", "-p", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["-m", "serab_table", "-p", str(tmp_path)]) == 2
    assert "no probe scores.json" in capsys.readouterr().err


def test_the_serab_sweep_dry_run_lists_nine_corpora(capsys):
    assert main(["-m", "sweep", "-c", "configs/sweeps/serab.yaml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 upstream rows x 9 conditions -> 9 table cells" in out
