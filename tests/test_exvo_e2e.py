"""ExVo multitask end to end through the command line: the demo, the submission file,
evaluation of a checkpoint, unlabelled Test rows, resuming, several seeds, bad configurations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emobench.core import scores
from emobench.orchestration.cli import main
from emobench.corpora import demo_hume_vb
from emobench.corpora.exvo_labels import EMOTIONS
from emobench.downstream.exvo.outputs import SUBMISSION_COLUMNS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("exvo")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def demo_run(workdir) -> Path:
    """The quickstart's main job, unchanged."""
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "exvo_mtl", "--demo", "-n", "demo",
                 "--device", "cpu"]) == 0
    return Path("results/downstream/demo")


@pytest.fixture(scope="module")
def small(workdir) -> Path:
    """A small corpus in HUME-VB's format for the quicker runs."""
    return demo_hume_vb.build(workdir / "small", seed=3, speakers_per_country=4,
                              bursts_per_speaker=6)


def run(data_info: Path, name: str, *extra: str, epochs: int = 3,
        upstream: str = "fbank_no_cmvn") -> Path:
    assert main(["-m", "train", "-u", upstream, "-d", "exvo_mtl", "-n", name,
                 "--device", "cpu", "-o", f"data.data_info={data_info},,data.audio_root="
                 f"{data_info.parent / 'wav'},,train.epochs={epochs},,train.patience=2",
                 *extra]) == 0
    return Path("results/downstream") / name


def test_demo_beats_every_baseline(demo_run: Path):
    result = scores.read(demo_run / "scores.json")
    test, base = result["metrics"]["test"], result["baselines"]["test"]
    print(json.dumps({"test": test, "baselines": base}, indent=1))
    assert result["task"] == "exvo_mtl" and result["main_metric"]["split"] == "test"
    assert result["main_metric"]["value"] == test["s_mtl"]
    assert test["ccc"] > base["ccc"] + 0.2
    assert test["uar"] > base["uar"] + 0.2
    assert test["mae"] < 0.9 * base["mae"]
    assert test["s_mtl"] > base["s_mtl"] + 0.1
    assert set(result["per_class"]["ccc"]["test"]) == set(EMOTIONS)
    assert result["selection"]["metric"] == "val_s_mtl"
    assert 1 <= result["selection"]["epoch"] <= 20


def test_demo_writes_every_output(demo_run: Path):
    names = {p.name for p in demo_run.iterdir()}
    for expected in ("config.yaml", "log.log", "dev-best.ckpt", "last.ckpt", "scores.json",
                     "predictions.csv", "ExVo-Multi_emobench_1.csv", "ccc_per_emotion.png",
                     "age.png", "country_confusion.png", "layer_weights.json",
                     "layer_weights.svg"):
        assert expected in names, expected
    assert not [n for n in names if n.endswith(".tmp")]
    data_info = pd.read_csv("results/demo/exvo_mtl/data_info.csv", dtype={"File_ID": str})
    predictions = pd.read_csv(demo_run / "predictions.csv", dtype={"File_ID": str})
    assert len(predictions) == len(data_info)  # every split
    assert set(predictions["split"]) == {"train", "val", "test"}


def test_submission_has_the_official_columns_and_one_row_per_test_file(demo_run: Path):
    submission = pd.read_csv(demo_run / "ExVo-Multi_emobench_1.csv", dtype={"File_ID": str})
    assert tuple(submission.columns) == ("File_ID", "Country", "Age", "Awe", "Excitement",
                                         "Amusement", "Awkwardness", "Fear", "Horror",
                                         "Distress", "Triumph", "Sadness", "Surprise")
    assert tuple(submission.columns) == SUBMISSION_COLUMNS
    data_info = pd.read_csv("results/demo/exvo_mtl/data_info.csv", dtype={"File_ID": str})
    test_ids = data_info.loc[data_info["Split"] == "Test", "File_ID"]
    assert sorted(submission["File_ID"]) == sorted(test_ids)
    assert submission["File_ID"].is_unique
    assert submission["Country"].isin([0, 1, 2, 3]).all()
    assert submission[list(EMOTIONS)].apply(lambda c: c.between(0, 1)).all().all()


def test_evaluate_reproduces_the_scores(demo_run: Path):
    assert main(["-m", "evaluate", "-e", str(demo_run / "dev-best.ckpt"), "--device",
                 "cpu"]) == 0
    again = scores.read(demo_run / "evaluate_dev-best" / "scores.json")
    first = scores.read(demo_run / "scores.json")
    for split in ("val", "test"):
        for name, value in first["metrics"][split].items():
            assert again["metrics"][split][name] == pytest.approx(value, abs=1e-9), (split, name)
    a = (demo_run / "ExVo-Multi_emobench_1.csv").read_text()
    assert (demo_run / "evaluate_dev-best" / "ExVo-Multi_emobench_1.csv").read_text() == a


def test_unlabelled_test_rows_are_predicted_not_scored(small: Path, workdir: Path):
    frame = pd.read_csv(small, dtype=str, keep_default_na=False)
    test = frame["Split"] == "Test"
    frame.loc[test, ["Country", "Age", *EMOTIONS]] = ""
    blind = small.parent / "data_info_blind.csv"
    frame.to_csv(blind, index=False)
    expdir = run(blind, "blind")
    result = scores.read(expdir / "scores.json")
    assert "test" not in result["metrics"] and result["main_metric"]["split"] == "val"
    assert result["counts"]["test_unlabelled"] == int(test.sum())
    submission = pd.read_csv(expdir / "ExVo-Multi_emobench_1.csv", dtype={"File_ID": str})
    assert sorted(submission["File_ID"]) == sorted(frame.loc[test, "File_ID"])


def test_resume_gives_the_same_model_as_an_uninterrupted_run(small: Path):
    full = run(small, "full", "--seed", "7", epochs=4)
    part = run(small, "part", "--seed", "7", epochs=2)
    assert main(["-m", "train", "-e", str(part), "--device", "cpu", "-o",
                 "train.epochs=4"]) == 0
    a, b = scores.read(full / "scores.json"), scores.read(part / "scores.json")
    assert a["selection"] == b["selection"]
    for split in a["metrics"]:
        for name, value in a["metrics"][split].items():
            assert b["metrics"][split][name] == pytest.approx(value, abs=1e-6), (split, name)


def test_seeds_report_mean_std_and_the_best_on_validation(small: Path):
    base = run(small, "seeds", "--seeds", "3", "--seed", "11", epochs=2)
    summary = json.loads((base / "seeds.json").read_text())
    assert summary["seeds"] == [11, 12, 13]
    per_seed = {int(s): scores.read(base / f"seed{s}" / "scores.json") for s in (11, 12, 13)}
    val = {s: r["metrics"]["val"]["s_mtl"] for s, r in per_seed.items()}
    assert summary["best_seed"] == max(val, key=val.get)
    tests = np.array([r["metrics"]["test"]["s_mtl"] for r in per_seed.values()])
    assert summary["mean"]["test"]["s_mtl"] == pytest.approx(tests.mean())
    assert summary["std"]["test"]["s_mtl"] == pytest.approx(tests.std(ddof=1))
    assert "| test | s_mtl |" in (base / "seeds.md").read_text()
    ci = summary["ci"]["test"]["s_mtl"]  # the seed mean's bootstrap interval (statistics.md)
    assert ci["unit"] == "speaker" and ci["low"] < ci["high"] and ci["resamples"] == 1000
    # -a reuses the finished seeds
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "exvo_mtl", "-n", "seeds", "-a",
                 "--seeds", "3", "--seed", "11", "--device", "cpu", "-o",
                 f"data.data_info={small},,data.audio_root={small.parent / 'wav'}"]) == 0
    assert json.loads((base / "seeds.json").read_text())["per_seed"] == summary["per_seed"]


def test_sys2_uncertainty_and_mean_std_functionals_run(small: Path):
    expdir = run(small, "variant", "-o", "model.system=sys2,,model.functionals=mean_std,,"
                 "train.loss_combination=uncertainty", epochs=2)
    result = scores.read(expdir / "scores.json")
    assert result["feature_path"] == "pooled_mean_std"
    assert np.isfinite(result["metrics"]["val"]["s_mtl"])


def test_bad_configurations_are_refused(small: Path, capsys):
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "exvo_mtl", "-n", "x"]) == 2
    assert "data.data_info is not set" in capsys.readouterr().err
    assert main(["-m", "train", "-u", "compare", "-d", "exvo_mtl", "-n", "y", "-o",
                 f"data.data_info={small},,data.audio_root={small.parent / 'wav'},,"
                 "model.functionals=mean_std"]) == 2
    assert "one vector per utterance" in capsys.readouterr().err


def test_the_challenge_baseline_features_run_through_the_same_command(small: Path):
    """openSMILE eGeMAPS functionals (the ExVo baseline's feature set) with -u egemaps."""
    expdir = run(small, "egemaps", epochs=2, upstream="egemaps")
    result = scores.read(expdir / "scores.json")
    assert result["upstream"]["name"] == "egemaps" and result["feature_path"] == "pooled_mean"
    assert np.isfinite(result["metrics"]["test"]["s_mtl"])


def test_extract_in_shards_fills_the_cache_that_training_reads(small: Path, workdir: Path):
    cache = workdir / "shard_cache"
    common = ["-u", "fbank_no_cmvn", "-d", "exvo_mtl", "--device", "cpu", "-o",
              f"data.data_info={small},,data.audio_root={small.parent / 'wav'},,"
              f"data.cache_dir={cache},,train.epochs=1"]
    def entries() -> list[Path]:  # per-utterance entries (a read also writes per-split packs)
        return [p for p in cache.rglob("*.pt") if "packs" not in p.parts]

    assert main(["-m", "extract", "--shard", "1/2", *common]) == 0
    first = len(entries())
    assert main(["-m", "extract", "--shard", "2/2", *common]) == 0
    rows = len(pd.read_csv(small))
    assert 0 < first < rows and len(entries()) == rows
    stamps = {p: p.stat().st_mtime_ns for p in entries()}
    assert main(["-m", "train", "-n", "from_cache", *common]) == 0
    assert {p: p.stat().st_mtime_ns for p in entries()} == stamps  # nothing re-extracted
