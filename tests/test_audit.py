"""downstream.emotion.audit: leakage audit of EMO-SUPERB label folders, ``-m audit``, and the
refusal of a leaky fold by training (unless ``data.allow_leakage``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emobench.corpora import partitions
from emobench.downstream.emotion import audit as audit_module
from emobench.downstream.emotion.audit import audit, fold_names, partition_spec, summary
from emobench.corpora.emotion_labels import LabelFileError
from emobench.core import scores
from emobench.orchestration.cli import main
from emobench.core.config import ConfigError
from emobench.core.resources import CHECKOUT as REPO_ROOT
from helpers_labels import CLASSES, DEFAULT_ROWS, write_corpus, write_csv, write_wav, with_row

# Four utterances per speaker; every class is a majority somewhere. Fold 1: spk1 train,
# spk2 dev, spk3 test; fold 2 rotates: spk2 train, spk3 dev, spk1 test.
LABELS = [[1.0, 0.0, 0.0], [0.6, 0.4, 0.0], [0.0, 1.0, 0.0], [0.2, 0.2, 0.6]]
SPEAKERS = {"spk1": "Female", "spk2": "Male", "spk3": "Female"}


def _rows(splits: dict[str, str]):
    return [(f"{spk}_{i}.wav", LABELS[i], spk, gender, splits[spk])
            for spk, gender in SPEAKERS.items() for i in range(len(LABELS))]


FOLD1 = {"spk1": "Train", "spk2": "Development", "spk3": "Test"}
FOLD2 = {"spk2": "Train", "spk3": "Development", "spk1": "Test"}


@pytest.fixture
def clean(tmp_path: Path):
    corpus = write_corpus(tmp_path, _rows(FOLD1))
    write_csv(corpus.label_dir / "labels_consensus_2.csv", _rows(FOLD2))
    return corpus


def _cui(train_labels: np.ndarray) -> np.ndarray:
    """The formula written out: binarise at 1/C, beta = (N-1)/N, w_c = (1-beta)/(1-beta^n_c)."""
    n, c = train_labels.shape
    n_c = [sum(1 for row in train_labels if row[k] > 1 / c) for k in range(c)]
    beta = (n - 1) / n
    w = np.array([(1 - beta) / (1 - beta ** m) for m in n_c])
    return w / w.sum() * c


# --------------------------------------------------------------------------- clean corpus


def test_clean_multi_fold_corpus(clean) -> None:
    report = audit(clean.label_dir, clean.audio_root)
    json.dumps(report, allow_nan=False)  # plain JSON-able data
    assert report["leaky"] is False and report["problems"] == []
    assert list(report["folds"]) == ["1", "2"]
    for key, fold in report["folds"].items():
        assert fold["fold"] == int(key) and fold["leaky"] is False
        assert fold["counts"] == {"train": 4, "dev": 4, "test": 4}
        assert fold["speaker_overlap"] == {} and fold["content_overlap"] == []
        assert fold["unit_overlap"] is None and fold["expected_rows"] is None
        assert fold["no_train_positive"] == [] and fold["problems"] == []
        cw = fold["class_weights"]
        assert cw["N"] == 4
        assert cw["positives"] == {"Anger": 2, "Happiness": 2, "Neutral": 1}
        np.testing.assert_allclose(list(cw["weights"].values()), _cui(np.array(LABELS)),
                                   rtol=1e-12)
    text = summary(report)
    assert "no leakage found" in text and "fold 2: 4 train / 4 dev / 4 test" in text
    w = report["folds"]["1"]["class_weights"]["weights"]
    assert f"Neutral {w['Neutral']:.4f}" in text


def test_weights_equal_the_formula_on_the_default_file(tmp_path: Path) -> None:
    """DEFAULT_ROWS: Neutral has no training positive, so its weight is 0 and it is reported."""
    corpus = write_corpus(tmp_path)
    fold = audit(corpus.label_dir, corpus.audio_root)["folds"]["1"]
    train = np.array([r[1] for r in DEFAULT_ROWS if r[4] == "Train"], dtype=float)
    n, c = train.shape
    n_c = (train > 1 / c).sum(axis=0)
    beta = (n - 1) / n
    raw = np.array([(1 - beta) / (1 - beta ** m) if m else 0.0 for m in n_c])
    np.testing.assert_allclose(list(fold["class_weights"]["weights"].values()),
                               raw / raw.sum() * c)
    assert fold["class_weights"]["positives"] == {"Anger": 2, "Happiness": 1, "Neutral": 0}
    assert fold["no_train_positive"] == ["Neutral"] and fold["leaky"] is False
    assert [p["kind"] for p in fold["problems"]] == ["no_train_positive"]
    assert "fold 1: class 'Neutral' has no training positive" in fold["problems"][0]["message"]


def test_folds_are_discovered_and_selectable(clean) -> None:
    assert fold_names(clean.label_dir) == [1, 2]
    report = audit(clean.label_dir, clean.audio_root, folds=[2])
    assert list(report["folds"]) == ["2"]


def test_malformed_file_propagates(clean) -> None:
    (clean.label_dir / "labels_consensus_3.csv").write_text("FileName,Anger\nx.wav,1\n")
    with pytest.raises(LabelFileError):
        audit(clean.label_dir, clean.audio_root)


# --------------------------------------------------------------------------- leakage


def test_speaker_in_two_splits(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, with_row(4, speaker="spk1"))
    report = audit(corpus.label_dir, corpus.audio_root)
    fold = report["folds"]["1"]
    assert report["leaky"] and fold["leaky"]
    assert fold["speaker_overlap"] == {"spk1": {"train": 2, "test": 1}}
    leak = [p for p in report["problems"] if "speaker" in p]
    assert leak == ["fold 1: speaker 'spk1' is in train (2 rows) and test (1 rows)"]
    assert "LEAKY" in summary(report) and leak[0] in summary(report)


def test_identical_audio_under_two_names(tmp_path: Path) -> None:
    rows = [*DEFAULT_ROWS, ("copy_of_s1_a.wav", [1.0, 0.0, 0.0], "spk3", "Female", "Test")]
    corpus = write_corpus(tmp_path, rows)
    shutil.copyfile(corpus.audio_root / "s1_a.wav", corpus.audio_root / "copy_of_s1_a.wav")
    report = audit(corpus.label_dir, corpus.audio_root)
    fold = report["folds"]["1"]
    assert report["leaky"] and fold["speaker_overlap"] == {}
    [group] = fold["content_overlap"]
    assert group["pairs"] == [[{"file": "s1_a.wav", "split": "train"},
                               {"file": "copy_of_s1_a.wav", "split": "test"}]]
    assert any("identical audio" in p and "s1_a.wav (train) = copy_of_s1_a.wav (test)" in p
               and p.startswith("fold 1:") for p in report["problems"])
    unhashed = audit(corpus.label_dir, corpus.audio_root, hash_audio=False)
    assert not unhashed["leaky"] and unhashed["folds"]["1"]["content_overlap"] is None


def test_identical_audio_in_one_split_is_not_leakage(tmp_path: Path) -> None:
    rows = [*DEFAULT_ROWS, ("copy.wav", [1.0, 0.0, 0.0], "spk1", "Female", "Train")]
    corpus = write_corpus(tmp_path, rows)
    shutil.copyfile(corpus.audio_root / "s1_a.wav", corpus.audio_root / "copy.wav")
    assert not audit(corpus.label_dir, corpus.audio_root)["leaky"]


def test_each_file_is_hashed_once_across_folds(clean, monkeypatch) -> None:
    calls = []
    real = audit_module.sha256_file
    monkeypatch.setattr(audit_module, "sha256_file", lambda p: calls.append(p) or real(p))
    audit(clean.label_dir, clean.audio_root)
    assert len(calls) == len(set(calls)) == 12


def test_session_split_across_train_and_test(tmp_path: Path) -> None:
    """Two speakers of one IEMOCAP-style session in train and test: speaker-independent, but
    the session (dyad) leaks."""
    rows = [("Ses01F_impro01_F000.wav", [1.0, 0.0, 0.0], "Ses01_F", "Female", "Train"),
            ("Ses02F_impro01_F000.wav", [0.0, 1.0, 0.0], "Ses02_F", "Female", "Train"),
            ("Ses03F_impro01_F000.wav", [0.0, 0.0, 1.0], "Ses03_F", "Female", "Development"),
            ("Ses01M_impro01_M000.wav", [0.0, 1.0, 0.0], "Ses01_M", "Male", "Test")]
    corpus = write_corpus(tmp_path, rows)
    assert not audit(corpus.label_dir, corpus.audio_root)["leaky"]
    spec = {"unit_regex": r"Ses(?P<unit>\d+)"}
    report = audit(corpus.label_dir, corpus.audio_root, partition=spec)
    fold = report["folds"]["1"]
    assert report["leaky"] and fold["speaker_overlap"] == {}
    assert fold["unit_overlap"] == {"01": {"train": 1, "test": 1}}
    assert fold["units_unmatched"] == 0
    assert any(p.startswith("fold 1: unit '01'") and "train (1 rows) and test (1 rows)" in p
               for p in report["problems"])


def test_files_without_a_unit_are_reported(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    fold = audit(corpus.label_dir, corpus.audio_root,
                 partition={"unit_regex": r"Ses(?P<unit>\d+)"})["folds"]["1"]
    assert fold["units_unmatched"] == 6 and not fold["leaky"]
    assert any(p["kind"] == "unit_unmatched" for p in fold["problems"])


def test_expected_rows_mismatch(clean) -> None:
    spec = {"expected_rows": {1: {"train": 4, "dev": 4, "test": 5}, 2: {"train": 4, "dev": 4,
                                                                         "test": 4}}}
    report = audit(clean.label_dir, clean.audio_root, partition=spec)
    assert not report["leaky"]
    assert report["folds"]["1"]["count_mismatches"] == {"test": {"expected": 5, "found": 4}}
    assert report["folds"]["2"]["count_mismatches"] == {}
    assert report["problems"] == ["fold 1: test has 4 rows, the partition file expects 5"]


# --------------------------------------------------------------------------- partition names


def test_partition_spec(tmp_path: Path, monkeypatch) -> None:
    serab = partition_spec("emodb/SERAB")
    assert serab["expected_rows"][1] == {"train": 344, "dev": 107, "test": 84}
    with pytest.raises(ConfigError, match=r"no condition 'Nope'.*SERAB.*Speaker5"):
        partition_spec("emodb/Nope")
    with pytest.raises(ConfigError, match=r"partitions/nosuch.yaml.*emodb"):
        partition_spec("nosuch/X")
    with pytest.raises(ConfigError, match="<corpus>/<condition>"):
        partition_spec("emodb")
    (tmp_path / "dyads.yaml").write_text(
        "corpus: dyads\nunit_regex: 'Ses(?P<unit>\\d+)'\n"
        "conditions:\n  A: {expected_rows: {1: {train: 1, dev: 1, test: 1}}}\n"
        "  B: {unit_regex: 'X(?P<unit>\\d)'}\n")
    monkeypatch.setattr(partitions, "PARTITIONS", tmp_path)
    assert partition_spec("dyads/A")["unit_regex"] == r"Ses(?P<unit>\d+)"
    assert partition_spec("dyads/B")["unit_regex"] == r"X(?P<unit>\d)"


# --------------------------------------------------------------------------- -m audit


def _cli(corpus, out: Path, *extra: str) -> int:
    return main(["-m", "audit", "-p", str(out), "-o",
                 f"data.label_dir={corpus.label_dir},,data.audio_root={corpus.audio_root}",
                 *extra])


def test_cli_audit_clean_and_leaky(clean, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert _cli(clean, out) == 0
    written = json.loads((out / f"{tmp_path.name}_labels_audit.json").read_text())
    assert written["leaky"] is False and list(written["folds"]) == ["1", "2"]
    assert "fold 1: 4 train / 4 dev / 4 test" in capsys.readouterr().out

    write_csv(clean.label_dir / "labels_consensus_2.csv",
              [r if r[0] != "spk1_0.wav" else (*r[:4], "Train") for r in _rows(FOLD2)])
    assert _cli(clean, out) == 1
    captured = capsys.readouterr()
    assert "fold 2: speaker 'spk1' is in train (1 rows) and test (3 rows)" in captured.out
    assert "leakage" in captured.err
    assert json.loads((out / f"{tmp_path.name}_labels_audit.json").read_text())["leaky"] is True


def test_cli_audit_user_errors(clean, tmp_path: Path, capsys) -> None:
    assert _cli(clean, tmp_path, "-o", "data.partition=emodb/Nope") == 2
    assert "SERAB" in capsys.readouterr().err
    assert _cli(clean, tmp_path, "-d", "exvo_mtl") == 2
    assert "-d emotion" in capsys.readouterr().err
    assert main(["-m", "audit", "-p", str(tmp_path)]) == 2  # no label_dir
    assert "data.label_dir" in capsys.readouterr().err
    assert _cli(clean, tmp_path, "-o", "data.partition=emodb/SERAB") == 0  # counts differ only
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A small demo corpus (10 speakers x 8 utterances, corpora/demo_emotion.py) in a tmp cwd."""
    from emobench.corpora import demo_emotion

    path = tmp_path_factory.mktemp("audit_train")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        demo_emotion.build(path / "demo", seed=0, utterances_per_speaker=8)
        yield path


def _data(root: Path) -> list[str]:
    return [f"data.label_dir={root / 'labels'}", f"data.audio_root={root / 'audio'}"]


def _train(name: str, *overrides: str) -> int:
    """One epoch on the demo config; no waveform standardisation, so that the leaky copies
    reuse the content-keyed feature cache of the first run."""
    return main(["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "-n", name,
                 "-c", str(REPO_ROOT / "configs" / "emotion" / "demo.yaml"), "--device", "cpu",
                 "-o", ",,".join(["train.epochs=1", "data.standardize=false", *overrides])])


def _leaky_copy(root: Path, change) -> list[str]:
    """A copy of the demo corpus whose fold 1 is changed by ``change(frame, audio_root)``."""
    shutil.copytree("demo/labels", root / "labels")
    shutil.copytree("demo/audio", root / "audio")
    csv = root / "labels" / "labels_consensus_1.csv"
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    change(frame, root / "audio")
    frame.to_csv(csv, index=False)
    return _data(root)


def _copy_test_wav_into_train(frame: pd.DataFrame, audio: Path) -> None:
    test = frame[frame["Split_Set"] == "Test"].iloc[0].copy()
    train_speaker = frame[frame["Split_Set"] == "Train"].iloc[0]["SpkrID"]
    shutil.copyfile(audio / test["FileName"], audio / "leaked_copy.wav")
    test["FileName"], test["SpkrID"], test["Split_Set"] = ("leaked_copy.wav", train_speaker,
                                                           "Train")
    frame.loc[len(frame)] = test


def test_training_audits_and_refuses_leakage(demo_dir: Path, capsys) -> None:
    assert _train("clean", *_data(demo_dir / "demo")) == 0
    result = scores.read("results/downstream/clean/scores.json")
    assert result["audit"]["leaky"] is False and result["audit"]["fold"] == 1
    assert result["audit"]["counts"] == result["counts"]
    assert result["audit"]["class_weights"]["N"] == result["counts"]["train"]
    assert not any("identical audio" in w for w in result["warnings"])

    data = _leaky_copy(demo_dir / "leaky", _copy_test_wav_into_train)
    capsys.readouterr()
    assert _train("refused", *data) == 2
    err = capsys.readouterr().err
    assert "fold 1 leaks between splits" in err and "identical audio" in err
    assert "leaked_copy.wav (train)" in err and "data.allow_leakage=true" in err
    assert not Path("results/downstream/refused/scores.json").exists()

    assert _train("allowed", *data, "data.allow_leakage=true") == 0
    result = scores.read("results/downstream/allowed/scores.json")
    assert any("identical audio" in w and "leaked_copy.wav" in w for w in result["warnings"])
    assert result["audit"]["leaky"] is True
    [group] = result["audit"]["content_overlap"]
    assert {"file": "leaked_copy.wav", "split": "train"} in group["pairs"][0]


def test_training_speaker_overlap(demo_dir: Path, capsys) -> None:
    def move_speaker(frame: pd.DataFrame, audio: Path) -> None:
        train_speaker = frame[frame["Split_Set"] == "Train"].iloc[0]["SpkrID"]
        frame.loc[frame.index[frame["Split_Set"] == "Test"][0], "SpkrID"] = train_speaker

    data = _leaky_copy(demo_dir / "speaker", move_speaker)
    capsys.readouterr()
    assert _train("speaker", *data) == 2  # read_labels refuses as before
    assert "data.allow_speaker_overlap=true" in capsys.readouterr().err
    assert _train("speaker", *data, "data.allow_speaker_overlap=true") == 2  # the audit refuses
    err = capsys.readouterr().err
    assert "leaks between splits" in err and "speaker" in err and "data.allow_leakage" in err


def test_bad_partition_name_is_refused_before_training(demo_dir: Path, capsys) -> None:
    assert _train("badpart", *_data(demo_dir / "demo"), "data.partition=emodb/Nope") == 2
    assert "SERAB" in capsys.readouterr().err
    assert not Path("results/downstream/badpart").exists()
