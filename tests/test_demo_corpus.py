"""Tests for corpora.demo_emotion: determinism, EMO-SUPERB format, the arousal condition,
reuse/atomicity, learnability."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emobench.corpora import atomic_build, demo_emotion
from emobench.corpora.demo_emotion import AROUSAL, CLASSES, build
from emobench.corpora.emotion_labels import smooth

SMALL = {"speakers": 10, "utterances_per_speaker": 3}
COLUMNS = ["FileName", *CLASSES, "SpkrID", "Gender", "Split_Set"]


def _manifest(root: Path) -> dict:
    return json.loads((root / "MANIFEST.json").read_text())


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def default_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default-size corpus (seed 0), shared by the format and learnability tests."""
    root = tmp_path_factory.mktemp("demo") / "corpus"
    assert build(root) == root / "labels"
    return root


def test_determinism(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    build(a, 0, **SMALL)
    build(b, 0, **SMALL)
    build(c, 1, **SMALL)
    assert _manifest(a)["sha256"] == _manifest(b)["sha256"]
    assert _manifest(a)["sha256"] != _manifest(c)["sha256"]
    for name in ["labels/labels_consensus_1.csv", "audio/spk01_utt001.wav",
                 "audio/spk10_utt003.wav", "arousal/config.json",
                 *(f"arousal/labels_consensus_{k}.csv" for k in range(1, 6))]:
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "arousal/labels_consensus_1.csv").read_bytes() \
        != (c / "arousal/labels_consensus_1.csv").read_bytes()
    manifest = _manifest(a)
    assert manifest["seed"] == 0 and manifest["params"]["speakers"] == 10
    assert manifest["file_count"] == 30 + 2 * 6 and manifest["version"] == demo_emotion.VERSION
    assert sorted(p.name for p in a.iterdir()) == ["MANIFEST.json", "arousal", "audio", "labels"]


def test_format(default_corpus: Path) -> None:
    labels = default_corpus / "labels"
    config = json.loads((labels / "config.json").read_text())
    assert set(config) == {"data_split_type", "categorical", "dimensional", "description"}
    assert config["data_split_type"] == {"train": "Train", "dev": "Development", "test": "Test"}
    assert config["categorical"] == {"emo_type": list(CLASSES)}
    assert config["dimensional"] == {"max_score": 7, "min_score": 1}
    assert config["description"].endswith("- 4 classes")

    folds = [pd.read_csv(labels / f"labels_consensus_{k}.csv") for k in range(1, 6)]
    test_count: dict[str, int] = {}
    dev_count: dict[str, int] = {}
    for df in folds:
        assert list(df.columns) == COLUMNS
        assert len(df) == 400 and df.FileName.is_unique
        assert np.allclose(df[list(CLASSES)].sum(axis=1), 1.0, atol=1e-5)
        assert (df[list(CLASSES)] > 0).all().all()
        assert set(df.Split_Set) == {"Train", "Development", "Test"}
        assert set(df.Gender) == {"Female", "Male"}
        assert (df.groupby("SpkrID").Split_Set.nunique() == 1).all()  # one split per speaker
        assert (df.groupby("SpkrID").Gender.nunique() == 1).all()
        for split, counts in (("Test", test_count), ("Development", dev_count)):
            group = df[df.Split_Set == split].drop_duplicates("SpkrID")
            assert sorted(group.Gender) == ["Female", "Male"]
            for spk in group.SpkrID:
                counts[spk] = counts.get(spk, 0) + 1
        # Folds differ only in Split_Set.
        pd.testing.assert_frame_equal(df.drop(columns="Split_Set"),
                                      folds[0].drop(columns="Split_Set"))
    speakers = set(folds[0].SpkrID)
    assert len(speakers) == 10
    assert test_count == dict.fromkeys(speakers, 1) and dev_count == dict.fromkeys(speakers, 1)

    for name in folds[0].FileName:
        info = sf.info(str(default_corpus / "audio" / name))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 1.0 <= info.frames / 16000 <= 2.5
    audio, _ = sf.read(str(default_corpus / "audio" / folds[0].FileName[0]))
    assert np.abs(audio).max() > 0.01


def test_arousal_condition(default_corpus: Path) -> None:
    """arousal/: the same utterances, folds and splits as labels/, high/low from the same votes."""
    labels, arousal = default_corpus / "labels", default_corpus / "arousal"
    config = json.loads((arousal / "config.json").read_text())
    reference = json.loads((labels / "config.json").read_text())
    assert config["categorical"] == {"emo_type": ["high", "low"]}
    assert config["data_split_type"] == reference["data_split_type"]
    assert config["dimensional"] == reference["dimensional"]
    assert config["description"].endswith("high = angry + happy, low = sad + neutral")
    assert AROUSAL == {"high": ("angry", "happy"), "low": ("sad", "neutral")}

    meta = ["FileName", "SpkrID", "Gender", "Split_Set"]
    for k in range(1, 6):
        four = pd.read_csv(labels / f"labels_consensus_{k}.csv")
        two = pd.read_csv(arousal / f"labels_consensus_{k}.csv")
        assert list(two.columns) == ["FileName", "high", "low", "SpkrID", "Gender", "Split_Set"]
        pd.testing.assert_frame_equal(two[meta], four[meta])  # same rows, order and splits
        assert np.allclose(two[["high", "low"]].sum(axis=1), 1.0, atol=1e-6)
        assert ((two[["high", "low"]] >= 0.05 - 1e-9) & (two[["high", "low"]] <= 0.95 + 1e-9)) \
            .all().all()
        # Undo the 4-class smoothing (y = 0.95 p + 0.05 (1 - p) / 3): the high fraction before
        # the 2-class smoothing (y = 0.05 + 0.9 p) is the sum of the angry and happy fractions.
        p4 = (four[list(CLASSES)].to_numpy() - 0.05 / 3) / (0.95 - 0.05 / 3)
        p_high = (two["high"].to_numpy() - 0.05) / 0.9
        assert np.allclose(p_high, p4[:, CLASSES.index("angry")] + p4[:, CLASSES.index("happy")],
                           atol=1e-5)
    assert 0.2 < (p_high > 0.5).mean() < 0.8  # both classes well represented

    # Against the simulated raters themselves (seed 0, default parameters, 6 raters).
    exact = {"float_precision": "round_trip"}
    two = pd.read_csv(arousal / "labels_consensus_1.csv", **exact).set_index("FileName")
    four = pd.read_csv(labels / "labels_consensus_1.csv", **exact).set_index("FileName")
    params = _manifest(default_corpus)["params"]
    for s, u, name in demo_emotion._utterances(params):
        latent = demo_emotion._latent(np.random.default_rng([0, 1, s, u]))
        votes = demo_emotion._votes(np.random.default_rng([0, 2, s, u]), *latent,
                                    params["raters"])
        counts = np.round(votes * params["raters"])
        high = (counts[CLASSES.index("angry")] + counts[CLASSES.index("happy")]) / params["raters"]
        assert two.loc[name, ["high", "low"]].tolist() == smooth(np.array([high, 1 - high])).tolist()
        assert four.loc[name, list(CLASSES)].tolist() == smooth(votes).tolist()


def test_old_version_is_rebuilt_with_arousal(tmp_path: Path) -> None:
    """A corpus of generator version 1 (labels/ only) is rebuilt; labels/ and audio/ unchanged."""
    root = tmp_path / "corpus"
    build(root, 0, **SMALL)
    current = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    shutil.rmtree(root / "arousal")
    old_names = [n for n in demo_emotion._file_names(
        {"speakers": 10, "utterances_per_speaker": 3, "raters": 6}) if not n.startswith("arousal/")]
    manifest = {**_manifest(root), "version": "demo_emotion-1", "file_count": len(old_names),
                "sha256": atomic_build.files_digest(root, old_names)}
    (root / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    assert build(root, 0, **SMALL) == root / "labels"
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == current
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_reuse_and_rebuild(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    build(root, 3, **SMALL)
    reference = _manifest(root)["sha256"]
    before = _mtimes(root)
    assert build(root, 3, **SMALL) == root / "labels"
    assert _mtimes(root) == before  # reused, nothing rewritten

    wav = root / "audio" / "spk02_utt002.wav"
    original = wav.read_bytes()
    wav.write_bytes(original[:-100] + bytes(100))  # corrupted content
    build(root, 3, **SMALL)
    assert wav.read_bytes() == original and _manifest(root)["sha256"] == reference

    (root / "labels" / "labels_consensus_4.csv").unlink()  # missing file
    build(root, 3, **SMALL)
    assert (root / "labels" / "labels_consensus_4.csv").exists()
    assert _manifest(root)["sha256"] == reference

    (root / "arousal" / "labels_consensus_2.csv").unlink()  # the manifest covers arousal/ too
    build(root, 3, **SMALL)
    assert (root / "arousal" / "labels_consensus_2.csv").exists()
    assert _manifest(root)["sha256"] == reference

    build(root, 3, **{**SMALL, "raters": 5})  # other parameters: rebuilt, not reused
    assert _manifest(root)["params"]["raters"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no temporaries left


def test_leftover_temporary_is_never_reused(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    reference = tmp_path / "reference"
    build(reference, 0, **SMALL)
    # Leftovers holding an incomplete copy (one wav missing): of a dead builder on this
    # host (removed), and of an unknown builder (kept, but never used either).
    dead = atomic_build.sibling(root, "building", 999_999_999)
    foreign = tmp_path / ".corpus.building-elsewhere"
    for leftover in (dead, foreign):
        shutil.copytree(reference, leftover)
        (leftover / "audio" / "spk05_utt001.wav").unlink()
    build(root, 0, **SMALL)
    assert not dead.exists() and foreign.exists()
    assert (root / "audio" / "spk05_utt001.wav").exists()
    assert _manifest(root)["sha256"] == _manifest(reference)["sha256"]


def test_interrupted_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "corpus"
    calls = {"n": 0}
    synthesise = demo_emotion._synthesise

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return synthesise(*args, **kwargs)

    monkeypatch.setattr(demo_emotion, "_synthesise", failing)
    with pytest.raises(KeyboardInterrupt):
        build(root, 0, **SMALL)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    build(root, 0, **SMALL)
    assert _manifest(root)["file_count"] == 42


def test_refuses_to_replace_foreign_directory(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "notes.txt").write_text("not a corpus")
    with pytest.raises(FileExistsError):
        build(root, 0, **SMALL)
    assert (root / "notes.txt").exists()


def test_learnable_from_mean_pooled_fbank(default_corpus: Path) -> None:
    torch = pytest.importorskip("torch")
    hubconf = pytest.importorskip("s3prl.upstream.baseline.hubconf")
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv(default_corpus / "labels" / "labels_consensus_1.csv")
    model = hubconf.fbank_no_cmvn().eval()
    feats = []
    with torch.no_grad():
        for name in df.FileName:
            wav, _ = sf.read(str(default_corpus / "audio" / name), dtype="float32")
            hidden = model([torch.from_numpy(wav)])["hidden_states"][0][0]
            feats.append(hidden.mean(0).numpy())
    x = np.stack(feats)
    y = df[list(CLASSES)].to_numpy().argmax(axis=1)
    train, test = (df.Split_Set == "Train").to_numpy(), (df.Split_Set == "Test").to_numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x[train], y[train])
    accuracy = float((clf.predict(x[test]) == y[test]).mean())
    majority = float((y[test] == np.bincount(y[train]).argmax()).mean())
    assert accuracy > majority + 0.2, (accuracy, majority)
    assert accuracy < 0.98, accuracy  # not trivially separable
