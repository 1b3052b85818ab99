"""Bootstrap intervals, paired tests, Holm marks and ceilings (docs/statistics.md).

The intervals are checked against an independent computation: a plain Python loop over the same
resample indices that rebuilds each resample's utterance list and scores it with the task's own
metric functions (scikit-learn's F1 for emotion)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest

from emobench.core import bootstrap, resampled_metrics as rm
from emobench.core.errors import UserError
from emobench.downstream import intervals, pooled, significance
from emobench.downstream.emotion import metrics as emotion_metrics
from emobench.downstream.multitask import metrics as multitask_metrics
from emobench.orchestration.cli import main


def sample(n=240, c=4, speakers=12, seed=0, skill=0.6, system=None):
    """Soft emotion labels, predictions that agree with them ``skill`` of the time, speakers
    (``system``: another system's independent errors on the same data)."""
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet(np.ones(c) * 0.4, size=n)
    spk = [f"s{int(i):02d}" for i in rng.integers(0, speakers, n)]
    own = rng if system is None else np.random.default_rng([seed, system])
    noise = own.dirichlet(np.ones(c), size=n)
    probs = np.where(own.random((n, 1)) < skill, truth, noise)
    return truth, probs, spk


def loop_interval(metric, truth, probs, spk, resamples, seed, level=0.95):
    """The independent computation: the same indices, one resample at a time."""
    names = sorted(set(spk))  # the clusters in the order Units.of numbers them
    idx = bootstrap.resample_indices(len(names), resamples, seed)
    members = {s: [i for i, x in enumerate(spk) if x == s] for s in names}
    values = []
    for row in idx:
        chosen = [i for k in row for i in members[names[k]]]
        values.append(metric(truth[chosen], probs[chosen]))
    alpha = (1 - level) / 2
    return tuple(float(v) for v in np.quantile(values, [alpha, 1 - alpha]))


@pytest.mark.parametrize("name,metric", [("macro_f1", emotion_metrics.macro_f1),
                                         ("accuracy", emotion_metrics.accuracy)])
def test_the_speaker_bootstrap_interval_equals_a_plain_loop(name, metric):
    truth, probs, spk = sample()
    split = intervals.SplitUnits([f"u{i}" for i in range(len(spk))], spk,
                                 {name: (name, rm.rows(name, truth, probs))})
    settings = intervals.Settings(resamples=200, seed=7)
    ci = intervals.split_intervals(split, settings)[name]
    assert ci["unit"] == "speaker" and ci["clusters"] == 12 and ci["resamples"] == 200
    low, high = loop_interval(metric, truth, probs, spk, 200, 7)
    assert ci["low"] == pytest.approx(low, abs=1e-12)
    assert ci["high"] == pytest.approx(high, abs=1e-12)
    assert low < metric(truth, probs) < high


def test_the_utterance_bootstrap_of_ccc_equals_a_plain_loop():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(150, 2))
    y = x + rng.normal(size=(150, 2))
    split = intervals.SplitUnits([str(i) for i in range(150)], None, {"c": ("ccc", rm.rows(
        "ccc", x, y))})
    ci = intervals.split_intervals(split, intervals.Settings(resamples=100, seed=2))["c"]
    assert ci["unit"] == "utterance"
    ids = [f"{i:03d}" for i in range(150)]  # every utterance its own cluster, in order
    assert (ci["low"], ci["high"]) == pytest.approx(
        loop_interval(multitask_metrics.ccc, x, y, ids, 100, 2), abs=1e-9)


def test_every_resampled_metric_is_the_reported_metric():
    rng = np.random.default_rng(0)
    for trial in range(12):
        n, c = int(rng.integers(3, 60)), int(rng.integers(2, 6))
        t = rng.dirichlet(np.ones(c) * 0.5, size=n)
        p = rng.dirichlet(np.ones(c) * 0.5, size=n)
        if trial % 3 == 0:  # hard labels with absent classes
            t = np.eye(c)[rng.integers(0, max(1, c - 2), n)]
        for name in ("macro_f1", "argmax_macro_f1", "accuracy", "uar"):
            assert rm.value(name, t, p) == pytest.approx(
                multitask_metrics.METRICS.get(name)(t, p), abs=1e-12), name
        x = rng.normal(size=(n, 2)) * 3 + 10
        y = x + rng.normal(size=(n, 2))
        for name in ("ccc", "pearson", "mae"):
            assert rm.value(name, x, y) == pytest.approx(
                multitask_metrics.METRICS.get(name)(x, y), abs=1e-9), name


def test_a_thousand_resamples_of_thousands_of_utterances_take_well_under_a_second():
    truth, probs, spk = sample(n=4000, speakers=60)
    x = np.random.default_rng(1).normal(size=(4000, 3))
    split = intervals.SplitUnits([str(i) for i in range(4000)], spk, {
        "macro_f1": ("macro_f1", rm.rows("macro_f1", truth, probs)),
        "accuracy": ("accuracy", rm.rows("accuracy", truth, probs)),
        "ccc": ("ccc", rm.rows("ccc", x, x + 0.5))})
    start = time.perf_counter()
    ci = intervals.split_intervals(split)
    elapsed = time.perf_counter() - start
    assert set(ci) == {"macro_f1", "accuracy", "ccc"} and ci["ccc"]["resamples"] == 1000
    assert elapsed < 1.0, f"{elapsed:.2f} s"


def write_run(folder: Path, truth, probs, spk, ids=None) -> Path:
    ids = ids or [f"u{i}" for i in range(len(spk))]
    folder.mkdir(parents=True, exist_ok=True)
    from emobench.downstream.emotion.uncertainty import split_units

    intervals.write_units(folder / intervals.FILE,
                          {"test": split_units(ids, spk, truth, probs)})
    return folder


def test_paired_test_identical_predictions_p_is_one(tmp_path, capsys):
    truth, probs, spk = sample()
    a = write_run(tmp_path / "a", truth, probs, spk)
    b = write_run(tmp_path / "b", truth, probs, spk)
    assert main(["-m", "compare", str(a), str(b), "-p", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "macro_f1" in out and "1.0000" in out
    import json
    record = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    for m in record["metrics"].values():
        assert m["p_value"] == 1.0 and m["difference"] == 0.0 and m["low"] == m["high"] == 0.0
        assert m["unit"] == "speaker" and m["resamples"] == 1000


def test_paired_test_a_large_difference_has_a_small_p(tmp_path):
    truth, good, spk = sample(skill=0.95)
    _, bad, _ = sample(skill=0.1)
    a = pooled.load([[write_run(tmp_path / "a", truth, good, spk)]])
    b = pooled.load([[write_run(tmp_path / "b", truth, bad, spk)]], ids=a.ids())
    result = pooled.compare(a, b)
    for m in result.values():
        assert m["difference"] > 0.2 and m["p_value"] < 0.01 and m["low"] > 0
    # the order of the rows in the file does not matter: B is aligned to A's utterance ids
    order = np.random.default_rng(0).permutation(len(spk))
    ids = [f"u{i}" for i in order]
    shuffled = write_run(tmp_path / "c", truth[order], bad[order], [spk[i] for i in order], ids)
    c = pooled.load([[shuffled]], ids=a.ids())
    assert pooled.compare(a, c)["macro_f1"] == result["macro_f1"]


def test_compare_refuses_runs_on_different_test_sets(tmp_path, capsys):
    truth, probs, spk = sample()
    a = write_run(tmp_path / "a", truth, probs, spk)
    b = write_run(tmp_path / "b", truth[:-1], probs[:-1], spk[:-1])
    assert main(["-m", "compare", str(a), str(b), "-p", str(tmp_path / "cmp")]) == 2
    assert "the test utterances differ" in capsys.readouterr().err
    other = truth.copy()
    other[0] = other[0][::-1]
    c = write_run(tmp_path / "c", other, probs, spk)
    with pytest.raises(UserError, match="labels differ"):
        pooled.load([[a, c]])  # two seeds of one fold with different truths
    assert main(["-m", "compare", str(a), str(c), "-p", str(tmp_path / "cmp")]) == 2
    assert "different test labels" in capsys.readouterr().err


def test_holm_marks_on_a_constructed_table(tmp_path):
    truth, _, spk = sample(n=300, speakers=20, seed=5)
    runs = {}
    rows = (("a", 0.85), ("b", 0.85), ("weak", 0.3), ("weaker", 0.1))
    for system, (row, skill) in enumerate(rows):
        _, probs, _ = sample(n=300, speakers=20, seed=5, skill=skill, system=system)
        runs[row] = write_run(tmp_path / row, truth, probs, spk)
    aggregates = []
    for row, folder in runs.items():
        values = pooled.fold_mean_values(pooled.load([[folder]]), intervals.Settings(),
                                         observed=True)
        aggregates.append({"upstream": row, "condition": "c", "run_folders": [[str(folder)]],
                           "main": {"name": "macro_f1", "split": "test",
                                    "mean": float(values["macro_f1"][0])}})
    marks = significance.table_marks(aggregates, lambda a: (a["upstream"], a["condition"]))
    sig = {row: marks[(row, "c")]["sig_vs_best"] for row in runs}
    best = next(r for r in ("a", "b") if sig[r]["best"])  # two equally good systems
    close = "b" if best == "a" else "a"
    assert not sig[best]["worse"] and not sig[close]["worse"] and sig[close]["p_holm"] > 0.05
    assert sig["weak"]["worse"] and sig["weaker"]["worse"]
    assert sig["weaker"]["difference"] > sig["weak"]["difference"] > 0
    # Holm: the adjusted p-values are the step-down maxima of (m - rank + 1) p
    raw = sorted((sig[r]["p_value"], r) for r in (close, "weak", "weaker"))
    expected = np.maximum.accumulate([min(1, (3 - k) * p) for k, (p, _) in enumerate(raw)])
    assert [sig[r]["p_holm"] for _, r in raw] == pytest.approx(expected.tolist())


def test_holm_against_hand_values():
    adjusted, rejected = bootstrap.holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert rejected == [True, False, False, True]


def test_ceiling_of_a_split_with_absent_classes(caplog):
    from emobench.downstream.emotion.metrics import label_sets

    classes = ["ang", "hap", "neu", "sad"]
    truth = np.eye(4)[[0, 1, 0, 1, 1]] * 0.9 + 0.025  # only ang and hap in the truth
    perfect = {"macro_f1": emotion_metrics.macro_f1(truth, truth)}
    with caplog.at_level(logging.WARNING, logger="emobench"):
        record = intervals.ceiling(classes, label_sets(truth).sum(axis=0), perfect, "test")
    assert record["absent_classes"] == ["neu", "sad"]
    assert record["perfect_macro_f1"] == 0.5
    assert "2 of 4 classes absent" in caplog.text and "neu, sad" in caplog.text


def test_multitask_ceiling_names_each_targets_absent_classes():
    from types import SimpleNamespace as NS

    from emobench.downstream.multitask.uncertainty import split_ceiling

    kind = NS(categorical=True)
    cfg = NS(name="emotion", metric_prefix=None, metrics=["macro_f1", "accuracy"], kind="x")
    target = NS(name="emotion", kind=kind, labels=("a", "b", "c"), cfg=cfg)
    truth = {"emotion": np.eye(3)[[0, 0, 1]]}
    import emobench.downstream.multitask.uncertainty as u
    original = u.metrics_of
    u.metrics_of = lambda c: list(c.metrics)
    try:
        record = split_ceiling([target], truth, np.ones(3, bool),
                               {"emotion": np.ones(3, bool)}, "test")
    finally:
        u.metrics_of = original
    assert record["absent_classes"] == ["c"]
    assert record["perfect_macro_f1"] == pytest.approx(2 / 3)
    assert record["metrics"]["emotion_accuracy"] == 1.0


@pytest.mark.slow
def test_folds_write_intervals_ceilings_baselines_and_provenance(tmp_path, monkeypatch, capsys):
    """Two demo folds end to end: every results JSON carries the new blocks, and compare and the
    report read them."""
    import json

    from emobench.core import scores

    monkeypatch.chdir(tmp_path)
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "--demo", "--folds", "1,2",
                 "-p", "run", "--device", "cpu", "-o", "train.epochs=2"]) == 0
    for fold in (1, 2):
        result = scores.read(tmp_path / "run" / f"fold{fold}" / "scores.json")  # the schema
        ci = result["ci"]["test"]["macro_f1"]
        assert ci["unit"] == "speaker" and ci["resamples"] == 1000
        assert ci["low"] <= result["metrics"]["test"]["macro_f1"] <= ci["high"]
        assert result["ceiling"]["test"]["perfect_macro_f1"] == 1.0
        prov = result["provenance"]
        assert prov["fold"] == fold and len(prov["checkpoints"][0]["sha256"]) == 64
        assert any(p.endswith(f"labels_consensus_{fold}.csv") for p in prov["label_files"])
    summary = json.loads((tmp_path / "run" / "aggregate.json").read_text())
    assert summary["main"]["ci"]["unit"] == "speaker"
    assert summary["main"]["ci"]["low"] <= summary["main"]["mean"] <= summary["main"]["ci"]["high"]
    assert set(summary["baselines"]["test"]) >= {"macro_f1", "accuracy"}
    assert summary["ceilings"]["test"]["perfect"]["macro_f1"] == 1.0
    assert summary["provenance"]["folds"] == [1, 2] and len(summary["run_folders"]) == 2
    assert main(["-m", "compare", "run", "run", "-p", "cmp"]) == 0
    assert "macro_f1" in capsys.readouterr().out
    record = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert record["folds"] == 2 and record["metrics"]["macro_f1"]["p_value"] == 1.0
    assert main(["-m", "report", "-p", "run"]) == 0
    table = json.loads((tmp_path / "run" / "report" / "table.json").read_text())
    assert table["cells"][0]["ci"] == summary["main"]["ci"]
    assert table["provenance"]["folds"] == [1, 2]


def test_an_emotion_run_records_absent_classes_intervals_and_label_hashes(tmp_path, caplog):
    from emobench.core import scores
    from emobench.corpora.emotion_labels import LabelTable
    from emobench.downstream.emotion.uncertainty import attach

    csv = tmp_path / "labels" / "labels_consensus_1.csv"
    csv.parent.mkdir()
    csv.write_text("FileName,ang,hap,neu,sad\n")
    (csv.parent / "config.json").write_text("{}")
    n = 12
    labels = np.eye(4)[[0, 1] * (n // 2)] * 0.9 + 0.025  # neu and sad never in the truth
    probs = np.roll(labels, 1, axis=0)
    table = LabelTable(csv, ["ang", "hap", "neu", "sad"], [f"f{i}.wav" for i in range(n)],
                       [Path(f"f{i}.wav") for i in range(n)], [f"s{i % 3}" for i in range(n)],
                       np.array(["test"] * n), labels, np.ones(n, int), np.ones(n, int))
    result = {"task": "emotion", "corpus": "c", "condition": "P", "fold": 1, "seed": 1,
              "upstream": {"name": "u", "checkpoint_sha256": "0" * 64}, "warnings": []}
    with caplog.at_level(logging.WARNING, logger="emobench"):
        attach(result, tmp_path, table, {"test": (table.file_names, labels, probs)})
    assert result["ceiling"]["test"]["absent_classes"] == ["neu", "sad"]
    assert result["ceiling"]["test"]["perfect_macro_f1"] == 0.5
    assert "absent from the truth" in caplog.text and "neu" in result["warnings"][0]
    assert result["ci"]["test"]["macro_f1"]["unit"] == "speaker"
    assert result["ci"]["test"]["macro_f1"]["clusters"] == 3
    from emobench.core.io import sha256_file
    assert result["provenance"]["label_files"][str(csv)] == sha256_file(csv)
    scores.validate({**result, "schema_version": 1, "toolkit": {"version": "x", "git_commit": None},
                     "main_metric": {"name": "macro_f1", "split": "test", "value": 0.0,
                                     "higher_is_better": True},
                     "metrics": {"test": {"macro_f1": 0.0}}, "baselines": {"test": {"f": 0.0}},
                     "selection": {"metric": "m", "epoch": 1}, "counts": {"test": n},
                     "upstream": {"name": "u", "checkpoint_sha256": "0" * 64, "layer": None,
                                  "normalize": False}})
    units = intervals.read_units(tmp_path / intervals.FILE)["test"]
    assert units.ids == table.file_names and units.speakers == table.speakers
