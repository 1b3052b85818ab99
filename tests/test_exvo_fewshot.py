"""ExVo few-shot: adaptation is per speaker from the trained model, never leaks between speakers,
predicts only queries with the adapted model; the task end to end through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from emobench.core import scores
from emobench.orchestration.cli import main
from emobench.corpora import demo_hume_vb
from emobench.corpora import exvo_support as support_sets
from emobench.downstream.exvo.adapt import FewShotModel, finetune_model
from emobench.downstream.exvo.fewshot_config import AdaptConfig
from emobench.downstream.exvo.fewshot_task import fewshot_predict
from emobench.corpora.exvo_labels import read_data_info
from emobench.upstream.featurizer import Featurizer


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("fewshot")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def small(workdir) -> Path:
    return demo_hume_vb.build(workdir / "small", seed=5, speakers_per_country=4,
                              bursts_per_speaker=8, idiosyncrasy=0.15)


@pytest.fixture(scope="module")
def setting(small):
    """A trained-looking random model, random features and support sets of the small corpus."""
    table = read_data_info(small, small.parent / "wav", check_audio=False)
    sets, _ = support_sets.make_support(table, k=2, seed=0)
    torch.manual_seed(0)
    model = FewShotModel(Featurizer(3), 6, 16, 10)
    features = torch.randn(len(table), 3, 6)
    return table, sets, model, features


def speakers_of(table, sets, split):
    mine = {s for s, sp in zip(table.speakers, table.splits) if sp == split}
    return sorted(s for s in sets.support if s in mine)


CFG = AdaptConfig(method="finetune", params=["output", "layer_weights"], steps=15, lr=0.01,
                  l2_sp=0.01)


def test_adapting_speaker_b_does_not_depend_on_speaker_a(setting):
    table, sets, model, features = setting
    a, b = speakers_of(table, sets, "test")[:2]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows_b, alone = fewshot_predict(model, features, table, sets, [b], "finetune", CFG, "cpu")
    rows_ab, after_a = fewshot_predict(model, features, table, sets, [a, b], "finetune", CFG,
                                       "cpu")
    rows_ba, first = fewshot_predict(model, features, table, sets, [b, a], "finetune", CFG,
                                     "cpu")
    n_a = len(support_sets.queries(table, sets, a))
    assert np.array_equal(rows_ab[n_a:], rows_b)
    assert np.array_equal(after_a[n_a:], alone)  # bit for bit
    assert np.array_equal(first[:len(rows_b)], alone)
    for k, v in model.state_dict().items():  # the trained model is never changed
        assert torch.equal(v, before[k]), k


def test_query_predictions_come_from_the_adapted_model(setting):
    table, sets, model, features = setting
    speaker = speakers_of(table, sets, "val")[0]
    index = {f: i for i, f in enumerate(table.file_ids)}
    support = [index[f] for f in sets.support[speaker]]
    rows, pred = fewshot_predict(model, features, table, sets, [speaker], "finetune", CFG, "cpu")
    adapted = finetune_model(model, features[support],
                             torch.from_numpy(table.emotions[support]).float(), CFG)
    with torch.no_grad():
        expected = adapted.eval()(features[rows]).double().numpy()
    assert np.array_equal(pred, expected)
    _, unadapted = fewshot_predict(model, features, table, sets, [speaker], "none", CFG, "cpu")
    assert np.abs(pred - unadapted).max() > 1e-4  # adaptation changed the predictions


def test_no_support_clip_is_ever_a_query(setting):
    table, sets, model, features = setting
    speakers = speakers_of(table, sets, "val") + speakers_of(table, sets, "test")
    for method in ("none", "bias", "support_mean", "finetune"):
        rows, _ = fewshot_predict(model, features, table, sets, speakers, method, CFG, "cpu")
        queried = {table.file_ids[i] for i in rows}
        assert not queried & {f for v in sets.support.values() for f in v}
        assert len(rows) == len(set(rows.tolist()))


@pytest.fixture(scope="module")
def demo_run(workdir) -> Path:
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "exvo_fewshot", "--demo", "-n",
                 "demo", "--device", "cpu"]) == 0
    return Path("results/downstream/demo")


def test_demo_reports_adapted_and_unadapted_on_the_same_queries(demo_run: Path):
    result = scores.read(demo_run / "scores.json")
    test = result["metrics"]["test"]
    print(json.dumps(test, indent=1))
    print((demo_run / "per_emotion.md").read_text())
    for key in ("ccc_unadapted", "ccc_adapted", "ccc_adapted_bias", "ccc_adapted_finetune",
                "ccc_adapted_support_mean"):
        assert key in test
    assert result["main_metric"]["name"] == "ccc_adapted"
    assert test["ccc_unadapted"] > result["baselines"]["test"]["ccc"] + 0.2
    table = (demo_run / "per_emotion.md").read_text()
    assert table.count("\n") == 10 + 3 and "ccc_unadapted" in table
    support = pd.read_csv(demo_run / "support.csv", dtype=str)
    predictions = pd.read_csv(demo_run / "predictions.csv", dtype={"File_ID": str})
    assert not set(support["File_ID"]) & set(predictions["File_ID"])
    submission = pd.read_csv(demo_run / "ExVo-Few_emobench_1.csv", dtype={"File_ID": str})
    assert list(submission.columns)[0] == "File_ID" and len(submission.columns) == 11
    assert set(submission["File_ID"]) == set(predictions.loc[predictions["split"] == "test",
                                                             "File_ID"])


def test_evaluate_reproduces_the_scores(demo_run: Path):
    assert main(["-m", "evaluate", "-e", str(demo_run), "--device", "cpu"]) == 0
    again = scores.read(demo_run / "evaluate_dev-best" / "scores.json")
    first = scores.read(demo_run / "scores.json")
    for split, values in first["metrics"].items():
        for name, value in values.items():
            assert again["metrics"][split][name] == pytest.approx(value, abs=1e-9)


def test_a_user_support_file_is_used_as_given(small: Path, workdir: Path):
    table = read_data_info(small, small.parent / "wav", check_audio=False)
    sets, _ = support_sets.make_support(table, k=3, seed=42)
    path = support_sets.write_support(workdir / "given_support.csv", sets)
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "exvo_fewshot", "-n", "given",
                 "--device", "cpu", "-o", f"data.data_info={small},,data.audio_root="
                 f"{small.parent / 'wav'},,data.support_file={path},,train.epochs=2"]) == 0
    result = scores.read(Path("results/downstream/given/scores.json"))
    assert result["counts"]["support_clips"] == sum(len(v) for v in sets.support.values())


@pytest.mark.slow
def test_real_emogator_bursts_run_the_few_shot_protocol(test_data: Path, workdir: Path):
    """EmoGator (real vocal bursts, 30 one-hot categories): a speaker-independent subset."""
    from emobench.orchestration.cli import main as cli

    source = test_data / "emogator"
    prepared = workdir / "emogator"
    assert cli(["-m", "prepare", "--recipe", "emogator", "--source", str(source), "--target",
                str(prepared)]) == 0
    frame = pd.read_csv(prepared / "data_info.csv", dtype=str)
    keep = {split: sorted(frame.loc[frame["Split"] == split, "Subject_ID"].unique())[:n]
            for split, n in (("Train", 6), ("Val", 2), ("Test", 2))}
    subset = frame[frame.apply(lambda r: r["Subject_ID"] in keep[r["Split"]], axis=1)]
    subset = subset.groupby("Subject_ID").head(30)  # 30 clips per speaker
    subset.to_csv(workdir / "emogator_subset.csv", index=False)
    config = Path(__file__).parents[1] / "configs" / "exvo_fewshot" / "emogator.yaml"
    assert cli(["-m", "train", "-u", "fbank_no_cmvn", "-d", "exvo_fewshot", "-c", str(config),
                "-n", "emogator", "--device", "cpu", "-o",
                f"data.data_info={workdir / 'emogator_subset.csv'},,data.audio_root="
                f"{source / 'mp3'},,data.k=5,,train.epochs=2"]) == 0
    result = scores.read(Path("results/downstream/emogator/scores.json"))
    test = result["metrics"]["test"]
    assert test["speakers"] == 2 and test["queries"] == 2 * (30 - 5)
    assert set(result["per_class"]["ccc_unadapted"]["test"]) == set(
        yaml.safe_load(config.read_text())["data"]["targets"])
    support = pd.read_csv("results/downstream/emogator/support.csv", dtype=str)
    predictions = pd.read_csv("results/downstream/emogator/predictions.csv", dtype=str)
    assert not set(support["File_ID"]) & set(predictions["File_ID"])
