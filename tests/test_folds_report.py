"""Fold runs (--folds) write a condition aggregate; -m report builds the table from results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emobench.core import scores
from emobench.orchestration.cli import main
from emobench.corpora import demo_emotion

DEMO_CONFIG = Path(__file__).parents[1] / "configs" / "emotion" / "demo.yaml"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("folds")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def corpus(workdir) -> Path:
    return demo_emotion.build(workdir / "demo", seed=0, utterances_per_speaker=8)


def train(corpus: Path, upstream: str, name: str, folds: str, *extra: str) -> Path:
    assert main(["-m", "train", "-u", upstream, "-d", "emotion", "-c", str(DEMO_CONFIG),
                 "-n", name, "--folds", folds, "--device", "cpu", "-o",
                 f"data.label_dir={corpus},,data.audio_root={corpus.parent / 'audio'},,"
                 "train.epochs=2", *extra]) == 0
    return Path("results/downstream") / name


def test_fold_runs_write_an_aggregate_and_reuse_finished_folds(corpus: Path):
    base = train(corpus, "fbank_no_cmvn", "fb", "1,2")
    aggregate = json.loads((base / "aggregate.json").read_text())
    per_fold = [scores.read(base / f"fold{k}" / "scores.json") for k in (1, 2)]
    assert [r["fold"] for r in per_fold] == [1, 2]
    values = [r["metrics"]["test"]["macro_f1"] for r in per_fold]
    assert aggregate["folds"] == [1, 2]
    assert aggregate["main"]["per_fold"] == values
    assert aggregate["main"]["mean"] == pytest.approx(sum(values) / 2)
    assert aggregate["layer_weights"] == [1.0]  # fbank_no_cmvn has one hidden state
    stamp = (base / "fold1" / "scores.json").stat().st_mtime_ns
    base2 = train(corpus, "fbank_no_cmvn", "fb", "all", "-a")
    assert (base2 / "fold1" / "scores.json").stat().st_mtime_ns == stamp  # reused
    assert json.loads((base2 / "aggregate.json").read_text())["folds"] == [1, 2, 3, 4, 5]


def test_report_builds_the_table_from_results(corpus: Path, workdir: Path, capsys):
    train(corpus, "fbank_no_cmvn", "fb2", "1,2")
    train(corpus, "egemaps", "eg", "1,2", "-o", "model.standardize_features=true")
    root = workdir / "only"
    root.mkdir()
    for name in ("fb2", "eg"):
        shutil.copytree(Path("results/downstream") / name, root / name)
    assert main(["-m", "report", "-p", str(root)]) == 0
    table = (root / "report" / "table.md").read_text()
    assert "| upstream | checkpoint | params (M) | Average | demo/labels |" in table
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len(rows) == 4 and "fbank_no_cmvn" in table and "egemaps" in table
    assert "test macro_f1: mean ± sample std over folds" in table
    assert "n=2/5 partial" in table  # 2 of the demo's 5 folds
    # one hidden state: its weight is 1, so no figure, and the caption says so
    assert not (root / "report" / "layer_weights_fbank_no_cmvn.png").exists()
    (line,) = [x for x in table.splitlines() if x.startswith("layer weights: not drawn for")]
    assert "fbank_no_cmvn" in line and "egemaps" in line and "one hidden state" in line


def test_bad_fold_lists_are_refused(corpus: Path, capsys):
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "-n", "x", "--folds",
                 "9", "-o", f"data.label_dir={corpus},,data.audio_root={corpus.parent / 'audio'}"
                 ",,train.epochs=1"]) == 2
    assert "no fold [9]" in capsys.readouterr().err


def test_a_tiny_checkpoint_is_flagged_in_the_report(corpus: Path, workdir: Path):
    from emobench.upstream import make_tiny, upstream_info

    checkpoint = workdir / "tiny_apc.ckpt"
    make_tiny("apc_960hr", checkpoint, seed=0)
    train(corpus, "apc_960hr", "tiny_apc", "1", "-k", str(checkpoint))
    root = workdir / "tiny_only"
    shutil.copytree(Path("results/downstream") / "tiny_apc", root / "tiny_apc")
    assert main(["-m", "report", "-p", str(root)]) == 0
    table = json.loads((root / "report" / "table.json").read_text())
    identity = table["checkpoints"]["apc_960hr"]
    run = scores.read(root / "tiny_apc" / "fold1" / "scores.json")
    assert identity["sha256"] == run["upstream"]["checkpoint_sha256"]
    assert identity["flags"] == ["tiny"] and identity["path"] == str(checkpoint)
    measured = run["upstream"]["measured"]
    assert measured["dim"] != upstream_info("apc_960hr").dim
    assert table["params_m"]["apc_960hr"] == measured["params_m"] < 1  # not the published 4 M
    row = next(line for line in (root / "report" / "table.md").read_text().splitlines()
               if line.startswith("| apc_960hr |"))
    assert f"| {identity['short']} (tiny) |" in row and "n=1/5 partial" in row
