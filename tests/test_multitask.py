"""The generic multitask task (-d multitask): corpora declared in YAML only. Bad input is refused
before training with the file, line or key; the demos train; soft labels, optional targets,
uncertainty weights and subfolder paths work on a tiny corpus."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from emobench.core import scores
from emobench.core.config import ConfigError, resolve
from emobench.downstream.multitask.checks import check_config
from emobench.downstream.multitask.config import MultitaskConfig
from emobench.orchestration.cli import main

SPEAKERS = {"s1": "Train", "s2": "Train", "s3": "Train", "s4": "Val", "s5": "Test"}


def tiny_corpus(root: Path, rows: list[dict[str, str]] | None = None) -> Path:
    """Five speakers x 4 clips in speaker subfolders; columns: path, split, speaker, mood (a
    class), arousal (1-7), sex, and two soft-label columns p_low / p_high."""
    rng = np.random.default_rng(0)
    if rows is None:
        rows = []
        for s, (speaker, split) in enumerate(SPEAKERS.items()):
            for k in range(4):
                high = (s + k) % 2
                rows.append({"path": f"{speaker}/{k}.wav", "split": split, "speaker": speaker,
                             "mood": ["calm", "tense"][high],
                             "arousal": f"{2 + 3 * high + 0.1 * k}",
                             "sex": ["f", "m"][s % 2], "p_low": f"{0.8 - 0.6 * high:.1f}",
                             "p_high": f"{0.2 + 0.6 * high:.1f}"})
    for row in rows:
        wav = root / "audio" / row["path"]
        if not wav.exists() and ".." not in row["path"]:
            wav.parent.mkdir(parents=True, exist_ok=True)
            tone = np.sin(np.arange(8000) * (0.05 + 0.1 * (row["mood"] == "tense")))
            sf.write(wav, 0.3 * tone + 0.05 * rng.standard_normal(8000), 16_000)
    table = root / "table.csv"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return table


def config(**changes) -> dict:
    layer = {
        "data": {"id_format": "path", "audio_ext": "", "id_column": "path",
                 "split_column": "split", "speaker_column": "speaker",
                 "split_names": {"train": "Train", "val": "Val", "test": "Test"}},
        "targets": [
            {"name": "mood", "kind": "categorical", "columns": ["mood"]},
            {"name": "arousal", "kind": "regression", "range": [1, 7], "standardize": True,
             "loss": "ccc", "metrics": ["ccc", "mae"]},
            {"name": "sex", "kind": "categorical", "classes": ["f", "m"], "weight": 0.5},
        ],
        "selection": {"metrics": ["mood.uar", "arousal.ccc"]},
        "train": {"epochs": 2, "batch_size": 4},
    }
    for key, value in changes.items():
        layer[key] = value
    return layer


def train(tmp_path: Path, layer: dict, name: str, *extra: str, table: Path | None = None) -> int:
    table = table or tiny_corpus(tmp_path)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(layer))
    return main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "multitask", "-c", str(path),
                 "-p", str(tmp_path / name), "--device", "cpu", "-o",
                 f"data.data_info={table},,data.audio_root={table.parent / 'audio'},,"
                 f"data.cache_dir={tmp_path / 'cache'}", *extra])


def refused(tmp_path, capsys, layer, name="bad", table=None) -> str:
    assert train(tmp_path, layer, name, table=table) == 2
    assert not (tmp_path / name / "last.ckpt").exists() and not (tmp_path / "cache").exists()
    return capsys.readouterr().err


# ---- bad input: clear errors before anything trains ------------------------------------------

def test_a_missing_target_column_is_named(tmp_path, capsys):
    layer = config()
    layer["targets"][1]["columns"] = ["Arousal"]
    err = refused(tmp_path, capsys, layer)
    assert "table.csv" in err and "required column 'Arousal' is missing" in err
    assert "did you mean 'arousal'?" in err


def test_a_class_outside_the_declared_set_is_named_with_its_line(tmp_path, capsys):
    rows = pd.read_csv(tiny_corpus(tmp_path), dtype=str).to_dict("records")
    rows[2]["sex"] = "x"
    err = refused(tmp_path, capsys, config(), table=tiny_corpus(tmp_path, rows))
    assert "line 4: unknown sex 'x' (known: f, m)" in err


def test_a_regression_value_that_is_not_a_number_is_named(tmp_path, capsys):
    rows = pd.read_csv(tiny_corpus(tmp_path), dtype=str).to_dict("records")
    rows[0]["arousal"], rows[5]["arousal"] = "high", "9"
    err = refused(tmp_path, capsys, config(), table=tiny_corpus(tmp_path, rows))
    assert "line 2: arousal must be a number in [1, 7], got 'high'" in err
    assert "line 7: arousal must be a number in [1, 7], got '9'" in err


def test_a_target_without_training_examples_is_refused(tmp_path, capsys):
    rows = pd.read_csv(tiny_corpus(tmp_path), dtype=str, keep_default_na=False).to_dict("records")
    for row in rows:
        if row["split"] == "Train":
            row["sex"] = ""
    layer = config()
    layer["targets"][2]["required"] = False
    err = refused(tmp_path, capsys, layer, table=tiny_corpus(tmp_path, rows))
    assert "target 'sex' has no training examples (column(s) sex empty in every Train row)" in err


def test_a_selection_target_without_validation_values_is_refused(tmp_path, capsys):
    rows = pd.read_csv(tiny_corpus(tmp_path), dtype=str, keep_default_na=False).to_dict("records")
    for row in rows:
        if row["split"] == "Val":
            row["sex"] = ""
    layer = config(selection={"metrics": ["mood.uar", "sex.uar"]})
    layer["targets"][2]["required"] = False
    err = refused(tmp_path, capsys, layer, table=tiny_corpus(tmp_path, rows))
    assert "the selection score's target(s) ['sex'] have no value in any Val row" in err


def test_a_selection_score_naming_an_unknown_target_is_refused(tmp_path, capsys):
    err = refused(tmp_path, capsys, config(selection={"metrics": ["moood.uar"]}))
    assert "selection.metrics[0] 'moood.uar' names an unknown target 'moood' (targets: mood, " \
           "arousal, sex; did you mean 'mood'?)" in err


@pytest.mark.parametrize("change, message", [
    ({"kind": "ordinal"}, "targets[0] (mood).kind: unknown target kind 'ordinal'"),
    ({"loss": "mse"}, "targets[0] (mood).loss 'mse' does not fit kind categorical"),
    ({"metrics": ["ccc"]}, "targets[0] (mood).metrics: 'ccc' does not apply to kind categorical"),
    ({"metrics": ["f1"]}, "targets[0] (mood).metrics: unknown metric 'f1'"),
    ({"columns": ["a", "b"]}, "targets[0] (mood).columns ['a', 'b']: one column"),
    ({"name": "a.b"}, "targets[0].name 'a.b'"),
])
def test_bad_target_declarations_name_the_key(change, message):
    layer = config()
    layer["targets"][0].update(change)
    layer["data"].update(data_info="t.csv", audio_root="a")
    with pytest.raises(ConfigError) as err:
        check_config(resolve(MultitaskConfig, layer))
    assert message in str(err.value)


def test_unknown_keys_and_combiners_are_refused():
    with pytest.raises(ConfigError, match=r"unknown config key 'targets\[0\].wieght'; did you "
                                          r"mean: targets\[0\].weight"):
        resolve(MultitaskConfig, {"targets": [{"name": "x", "wieght": 1}]})
    layer = config(selection={"combine": "exvo_s_mtl", "metrics": ["arousal.ccc"]})
    layer["data"].update(data_info="t.csv", audio_root="a")
    with pytest.raises(ConfigError, match=r"exvo_s_mtl combines the metrics \['ccc', 'uar', "
                                          r"'mae'\] in this order"):
        check_config(resolve(MultitaskConfig, layer))


def test_a_path_escaping_the_audio_root_is_refused(tmp_path, capsys):
    rows = pd.read_csv(tiny_corpus(tmp_path), dtype=str).to_dict("records")
    rows[1]["path"] = "../s1/0.wav"
    err = refused(tmp_path, capsys, config(), table=tiny_corpus(tmp_path, rows))
    assert "line 3: path '../s1/0.wav' escapes the audio root" in err


# ---- a tiny corpus end to end -------------------------------------------------------------------

def test_subfolders_soft_labels_optional_targets_and_uncertainty(tmp_path):
    rows = pd.read_csv(tiny_corpus(tmp_path), dtype=str, keep_default_na=False).to_dict("records")
    rows[0]["arousal"] = ""  # an optional target may be empty (its loss skips the row)
    layer = config(train={"epochs": 2, "batch_size": 4, "loss_combination": "uncertainty"})
    layer["targets"][1]["required"] = False
    layer["targets"].append({"name": "level", "kind": "soft_categorical",
                             "columns": ["p_low", "p_high"], "classes": ["low", "high"]})
    assert train(tmp_path, layer, "run", table=tiny_corpus(tmp_path, rows)) == 0
    result = scores.read(tmp_path / "run" / "scores.json")
    assert result["task"] == "multitask" and result["counts"]["train"] == 12
    assert set(result["metrics"]["test"]) == {
        "mood_uar", "mood_accuracy", "mood_macro_f1", "arousal_ccc", "arousal_mae", "sex_uar",
        "sex_accuracy", "sex_macro_f1", "level_macro_f1", "level_accuracy", "level_uar", "score"}
    assert result["targets"]["level"] == {"kind": "soft_categorical", "labels": ["low", "high"],
                                          "loss": "soft_cross_entropy", "weight": 1.0}
    assert result["per_class"]["mood_f1"]["test"].keys() == {"calm", "tense"}
    frame = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert frame["path"].iloc[0] == "s1/0.wav" and np.isnan(frame["arousal"].iloc[0])
    assert set(frame["mood_pred"]) <= {"calm", "tense"} and "level_prob_high" in frame


# ---- the demos --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("multitask")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


def demo(name: str, *extra: str) -> dict:
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "multitask", "--demo", "-n", name,
                 "--device", "cpu", *extra]) == 0
    return scores.read(Path("results/downstream") / name / "scores.json")


def test_the_dimensional_demo_beats_the_constant_on_every_ccc(workdir):
    result = demo("dimensional")
    for split in ("val", "test"):
        for target in ("arousal", "valence", "dominance"):
            got = result["metrics"][split][f"{target}_ccc"]
            assert got > result["baselines"][split][f"{target}_ccc"] + 0.3, (split, target, got)
    assert result["targets"]["gender"]["weight"] == 1.0
    assert result["metrics"]["test"]["gender_uar"] > 0.5


def test_the_gender_weight_is_one_override_away(workdir):
    alpha1 = demo("alpha1", "-o", "train.epochs=2")
    alpha0 = demo("alpha0", "-o", "targets.gender.weight=0,,train.epochs=2")
    assert alpha1["targets"]["gender"]["weight"] == 1.0
    assert alpha0["targets"]["gender"]["weight"] == 0.0
    assert {"gender_uar", "arousal_ccc", "ccc_mean"} <= set(alpha0["metrics"]["test"])
    # the shared trunk learns from the gender loss only when its weight is not 0
    assert alpha0["metrics"]["test"]["arousal_ccc"] != alpha1["metrics"]["test"]["arousal_ccc"]


def test_the_vocalisation_demo_names_classes_age_and_sex(workdir):
    result = demo("vocalisation", "-c", "configs/multitask/vocalisation.yaml")
    classes = result["targets"]["class"]["labels"]
    assert len(classes) == 10 and "Amusement" in classes
    assert result["metrics"]["test"]["class_uar"] > result["baselines"]["test"]["class_uar"]
    assert result["metrics"]["test"]["age_mae"] < result["baselines"]["test"]["age_mae"]
    run = Path("results/downstream/vocalisation")
    frame = pd.read_csv(run / "predictions.csv")
    assert set(frame["class_pred"]) <= set(classes) and set(frame["sex_pred"]) <= {"female", "male"}
    assert frame["path"].str.contains("/").all() and {"age_pred", "age", "sex"} <= set(frame)
    names = {p.name for p in run.iterdir()}
    assert {"class_confusion.png", "age.png", "sex_confusion.png"} <= names


# ---- the shipped configs and the documented example ---------------------------------------

@pytest.mark.parametrize("name", ["demo.yaml", "vocalisation.yaml", "emodb.yaml"])
def test_the_shipped_multitask_configs_are_valid(name):
    from emobench.core.resources import data_dir

    layer = yaml.safe_load((data_dir("configs") / "multitask" / name).read_text())
    layer["data"].update(data_info="t.csv", audio_root="a")
    check_config(resolve(MultitaskConfig, layer))


def test_the_documented_full_example_is_the_vocalisation_config():
    from emobench.core.resources import CHECKOUT, data_dir

    doc = (CHECKOUT / "docs" / "tasks.md").read_text(encoding="utf-8")
    example = doc.split("## The full example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    shipped = (data_dir("configs") / "multitask" / "vocalisation.yaml").read_text()
    assert yaml.safe_load(example) == yaml.safe_load(shipped)


def test_exvo_mtl_is_the_hume_vb_target_config():
    from emobench.core.resources import data_dir
    from emobench.downstream.exvo.task import CONFIG

    layer = yaml.safe_load((data_dir("configs") / "exvo_mtl" / "hume_vb.yaml").read_text())
    assert resolve(CONFIG, {}) == resolve(CONFIG, layer)
    assert [t.name for t in CONFIG().targets] == ["emotion", "age", "country"]
    assert CONFIG().selection.combine == "exvo_s_mtl" and CONFIG().output.format == "exvo_multi"


def test_a_clip_shorter_than_the_front_end_is_refused_before_any_work(tmp_path, capsys):
    table = tiny_corpus(tmp_path)
    short = tmp_path / "audio" / "s2" / "1.wav"
    sf.write(short, np.zeros(160), 16_000)  # 10 ms < fbank_no_cmvn's 400 samples
    assert train(tmp_path, config(), "short", table=table) == 2
    err = capsys.readouterr().err
    assert str(short) in err and "s2/1.wav" in err and "400 samples" in err
    assert "Traceback" not in err and "choose a window size" not in err
    assert not (tmp_path / "short").exists() and not (tmp_path / "cache").exists()
