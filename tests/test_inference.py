"""Inference on new audio (-m inference, emobench.load_predictor): the probabilities equal
what -m evaluate wrote for the same files, from any working directory."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

import emobench
from emobench.orchestration.cli import main
from emobench.upstream.registry import make_tiny


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("inference")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path


def _train(name: str, upstream: str, *extra: str) -> Path:
    assert main(["-m", "train", "-u", upstream, "-d", "emotion", "--demo", "-n", name,
                 "--device", "cpu", "-o", "train.epochs=2", *extra]) == 0
    return Path("results/downstream").absolute() / name


@pytest.fixture(scope="module")
def fbank_run(workdir) -> Path:
    return _train("fbank", "fbank_no_cmvn")


def _evaluated(run: Path) -> dict[str, dict[str, str]]:
    """predictions.csv of -m evaluate (run on the trained checkpoint), by file name."""
    folder = run.parent / f"{run.name}_evaluate"
    assert main(["-m", "evaluate", "-e", str(run), "-p", str(folder), "--device", "cpu"]) == 0
    with open(folder / "predictions.csv", newline="") as f:
        return {row["FileName"]: row for row in csv.DictReader(f) if row["split"] == "test"}


def _test_wavs(run: Path, count: int = 3) -> list[Path]:
    audio = Path("results/demo/emotion/audio").absolute()
    rows = (run / "test_fold1_truth.txt").read_text().splitlines()[:count]
    return [audio / line.split()[0] for line in rows]


def _check_equal(predicted: list[dict[str, str]], evaluated: dict[str, dict[str, str]]):
    assert predicted
    for row in predicted:
        reference = evaluated[Path(row["file"]).name]
        probs = [k for k in row if k.startswith("prob_")]
        assert probs and all(row[k] == reference[k] for k in probs), (row, reference)
        assert row["predicted_set"] == reference["predicted"]


def test_inference_mode_equals_evaluate(fbank_run, tmp_path):
    evaluated = _evaluated(fbank_run)
    wavs = _test_wavs(fbank_run)
    listing = tmp_path / "list.txt"
    # relative entries resolve against the list's folder; comments and blanks are skipped
    for wav in wavs:
        shutil.copy(wav, tmp_path / wav.name)
    listing.write_text("# three demo clips\n" + "\n".join(w.name for w in wavs) + "\n\n")
    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cwd = os.getcwd()
    try:  # from another working directory, with only the experiment folder
        os.chdir(elsewhere)
        assert main(["-m", "inference", "-e", str(fbank_run), "--audio", str(listing),
                     "-p", str(out), "--device", "cpu"]) == 0
    finally:
        os.chdir(cwd)
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["file"]).name for r in rows] == [w.name for w in wavs]
    _check_equal(rows, evaluated)
    classes = [k[len("prob_"):] for k in rows[0] if k.startswith("prob_")]
    for row in rows:
        probs = np.array([float(row[f"prob_{c}"]) for c in classes])
        assert abs(probs.sum() - 1) < 1e-5 and row["predicted_emotion"] == classes[probs.argmax()]
    record = json.loads((out / "inference.json").read_text())
    assert record["task"] == "emotion" and record["files"] == 3
    assert not list(elsewhere.iterdir())  # nothing written in the working directory


def test_python_api_arrays_equal_files(fbank_run):
    wavs = _test_wavs(fbank_run, 2)
    predictor = emobench.load_predictor(fbank_run, device="cpu")
    from_files = predictor.predict(wavs)
    arrays, rates = zip(*(sf.read(str(w), dtype="float32") for w in wavs))
    from_arrays = predictor.predict(list(arrays), sample_rate=rates[0])
    for column, values in from_files.values.items():
        np.testing.assert_array_equal(values, from_arrays.values[column])
    stereo = predictor.predict([np.stack([arrays[0], arrays[0]], axis=1)], sample_rate=rates[0])
    for column, values in from_files.values.items():
        np.testing.assert_allclose(stereo.values[column][0], values[0], atol=1e-6)
    assert from_files.rows()[0]["file"] == str(wavs[0])


@pytest.mark.parametrize("name", ["wavlm_base_plus", "whisper_base"])
def test_tiny_hf_model_inference_equals_evaluate(workdir, name):
    """A tiny random transformers model in the hub's folder layout (``-u hf:<folder>``): the
    probabilities of three demo test clips equal, digit for digit, those -m evaluate wrote."""
    spec = make_tiny(name, workdir / f"{name}_tiny")
    run = _train(f"hf_{name}", f"hf:{spec.path}")
    evaluated = _evaluated(run)
    predictor = emobench.load_predictor(run, device="cpu")
    rows = [{k: (v if isinstance(v, str) else f"{v:.6f}") for k, v in r.items()}
            for r in predictor.predict(_test_wavs(run)).rows()]
    _check_equal(rows, evaluated)


@pytest.mark.parametrize("case, message", [
    ("no_audio", "needs --audio"),
    ("missing_file", "do not exist"),
    ("empty_folder", "holds no audio"),
    ("no_experiment", "does not exist"),
])
def test_bad_inputs_are_named(fbank_run, tmp_path, capsys, case, message):
    listing = tmp_path / "list.txt"
    listing.write_text("missing.wav\n")
    (tmp_path / "empty").mkdir()
    args = {"no_audio": ["-e", str(fbank_run)],
            "missing_file": ["-e", str(fbank_run), "--audio", str(listing)],
            "empty_folder": ["-e", str(fbank_run), "--audio", str(tmp_path / "empty")],
            "no_experiment": ["-e", str(tmp_path / "nothing"), "--audio", str(listing.parent)],
            }[case]
    if case == "no_experiment":
        sf.write(str(tmp_path / "a.wav"), np.zeros(1600, dtype=np.float32), 16000)
    assert main(["-m", "inference", "--device", "cpu", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (fbank_run / "inference").exists()


@pytest.fixture(scope="module")
def is25_run(workdir) -> Path:
    from emobench.core.resources import data_dir

    config = data_dir("configs") / "is25" / "attributes.yaml"
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "multitask", "--demo", "-c",
                 str(config), "-n", "is25", "--device", "cpu", "-o",
                 "train.epochs=2,,model.text.upstream=null,,data_handling.minmax=train"]) == 0
    return Path("results/downstream/is25").absolute()


def test_multitask_inference_equals_its_predictions(is25_run):
    """IS25's attributes config, speech only, min-max mapped by the training predictions:
    regression values and gender probabilities equal the run's own predictions.npz."""
    from emobench.downstream.multitask.results import read_predictions

    run = is25_run
    saved = read_predictions(run / "predictions.npz")
    tests = [i for i, s in enumerate(saved.splits) if s == "test"][:3]
    data = yaml.safe_load((run / "config.yaml").read_text())["config"]["data"]
    files = [Path(data["audio_root"]) / saved.file_ids[i] for i in tests]
    got = emobench.load_predictor(run, device="cpu").predict(files)
    for row, i in enumerate(tests):
        for target in ("arousal", "valence", "dominance"):
            assert got.values[f"{target}_pred"][row] == pytest.approx(
                saved.values[target][i, 0], abs=1e-6)
            assert 1.0 <= got.values[f"{target}_pred"][row] <= 7.0
        probs = [got.values[f"gender_prob_{c}"][row] for c in ("Female", "Male")]
        np.testing.assert_allclose(probs, saved.values["gender"][i], atol=1e-6)
        assert got.labels["gender"][row] == ("Female", "Male")[int(np.argmax(probs))]


def test_a_run_without_its_targets_file_is_refused_clearly(is25_run, capsys):
    run = is25_run
    state = run / "targets.json"
    kept = state.read_bytes()
    state.unlink()
    try:
        wav = next(Path("results/demo").rglob("*.wav"))
        assert main(["-m", "inference", "-e", str(run), "--audio", str(wav),
                     "--device", "cpu"]) == 2
        err = capsys.readouterr().err
        assert "targets.json is missing" in err and "-m evaluate" in err
    finally:
        state.write_bytes(kept)


def test_tasks_without_inference_say_why():
    from emobench.orchestration.inference import Predictor
    from emobench.orchestration.restore import Restored
    from emobench.downstream.exvo import fewshot_task
    from emobench.core.errors import UserError

    restored = Restored(Path("/x/dev-best.ckpt"), {"run": {"seed": 1}}, "exvo_fewshot",
                        fewshot_task, (), None)
    with pytest.raises(UserError, match="support clips"):
        Predictor(restored, "cpu")


@pytest.mark.parametrize("speaker_standardize", [False, True])
def test_probe_inference_predicts_the_classes_evaluation_wrote(workdir, speaker_standardize):
    """The probe's selected classifier on three demo test clips of one speaker: the classes of
    predictions.csv (without per-speaker standardisation), probabilities that sum to one."""
    grids = ("probe.families=[logistic_regression,lda],,probe.grids={logistic_regression: "
             "{C: [0.1, 1.0]}, lda: {solver: [svd]}}")
    name = f"probe_{speaker_standardize}"
    assert main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "probe", "--demo", "-n", name,
                 "--device", "cpu", "-o",
                 f"{grids},,features.speaker_standardize={str(speaker_standardize).lower()}"]) == 0
    run = Path("results/downstream").absolute() / name
    with open(run / "predictions.csv", newline="") as f:
        written = {r["FileName"]: r for r in csv.DictReader(f) if r["split"] == "test"}
    audio = Path(yaml.safe_load((run / "config.yaml").read_text())["config"]["data"]["audio_root"])
    wavs = [audio / name for name in list(written)[:3]]  # the first three test rows: one speaker
    got = emobench.load_predictor(run, device="cpu").predict(wavs)
    probs = np.stack([v for k, v in got.values.items() if k.startswith("prob_")], axis=1)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    if not speaker_standardize:  # with it, evaluation standardises over all of the speaker's rows
        assert got.labels["emotion"] == [written[w.name]["predicted"] for w in wavs]
    else:
        assert got.info["speaker_standardize"] is True
