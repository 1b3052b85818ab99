"""Tests for corpora.demo_hume_vb: HUME-VB format, determinism, reuse/rebuild, learnability."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emobench.corpora import demo_hume_vb
from emobench.corpora.demo_hume_vb import COUNTRIES, EMOTIONS, build

SMALL = {"speakers_per_country": 4, "bursts_per_speaker": 3}
COLUMNS = ["File_ID", "Split", "Subject_ID", "Country", "Age", *EMOTIONS]


def _manifest(root: Path) -> dict:
    return json.loads((root / "MANIFEST.json").read_text())


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _wav(root: Path, file_id: str) -> Path:
    return root / "wav" / f"{file_id.strip('[]')}.wav"


@pytest.fixture(scope="module")
def default_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default-size corpus (seed 0), shared by the format and learnability tests."""
    root = tmp_path_factory.mktemp("hume_vb") / "corpus"
    assert build(root) == root / "data_info.csv"
    return root


def test_api_constants() -> None:
    assert EMOTIONS == ("Awe", "Excitement", "Amusement", "Awkwardness", "Fear", "Horror",
                        "Distress", "Triumph", "Sadness", "Surprise")
    assert COUNTRIES == ("China", "South Africa", "USA", "Venezuela")


def test_format(default_corpus: Path) -> None:
    with open(default_corpus / "data_info.csv", newline="") as fh:
        raw = list(csv.reader(fh))
    assert raw[0] == COLUMNS
    for row in raw[1:]:
        assert re.fullmatch(r"\[\d+\]", row[0]) and re.fullmatch(r"Speaker_\d+", row[2])
        assert re.fullmatch(r"\d\d\.\d", row[4])  # one decimal
        assert all(re.fullmatch(r"[01]\.\d{3}", v) for v in row[5:])  # three decimals

    df = pd.read_csv(default_corpus / "data_info.csv", dtype={"File_ID": str})
    assert list(df.columns) == COLUMNS
    assert len(df) == 4 * 8 * 15 and df.File_ID.is_unique
    ids = df.File_ID.str.strip("[]").astype(int)
    assert ids.is_monotonic_increasing and set(ids) == set(range(10001, 10001 + len(df)))
    assert set(df.Split) == {"Train", "Val", "Test"} and set(df.Country) == set(COUNTRIES)
    assert df.Subject_ID.nunique() == 32
    per_speaker = df.groupby("Subject_ID")
    assert (per_speaker.Split.nunique() == 1).all()  # no speaker in two splits
    assert (per_speaker.Country.nunique() == 1).all() and (per_speaker.Age.nunique() == 1).all()
    assert (per_speaker.size() == 15).all()
    speakers = df.drop_duplicates("Subject_ID")
    counts = speakers.groupby(["Country", "Split"]).size().unstack()
    assert (counts.Train == 4).all() and (counts.Val == 2).all() and (counts.Test == 2).all()
    assert df.Age.between(18.0, 39.5).all() and df.Age.std() > 3.0

    values = df[list(EMOTIONS)].to_numpy()
    assert ((values >= 0.0) & (values <= 1.0)).all()
    assert (values.max(axis=1) >= 0.5).all()  # a primary emotion per burst
    assert (np.bincount(values.argmax(axis=1), minlength=10) > 20).all()  # all emotions occur
    corr = df[list(EMOTIONS)].corr()
    assert corr.loc["Amusement", "Excitement"] > corr.loc["Amusement", "Fear"] + 0.1

    wavs = sorted(p.name for p in (default_corpus / "wav").iterdir())
    assert wavs == sorted(f"{i}.wav" for i in ids)  # one wav per row, nothing else
    assert sorted(p.name for p in default_corpus.iterdir()) == ["MANIFEST.json", "data_info.csv",
                                                                "wav"]
    for file_id in df.File_ID:
        info = sf.info(str(_wav(default_corpus, file_id)))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 0.6 <= info.frames / 16000 <= 1.8
    audio, _ = sf.read(str(_wav(default_corpus, df.File_ID[0])))
    assert 0.01 < np.abs(audio).max() < 1.0


def test_small_splits(tmp_path: Path) -> None:
    df = pd.read_csv(build(tmp_path / "corpus", 0, **SMALL))
    assert len(df) == 4 * 4 * 3
    counts = df.drop_duplicates("Subject_ID").groupby(["Country", "Split"]).size().unstack()
    assert (counts.Train == 2).all() and (counts.Val == 1).all() and (counts.Test == 1).all()
    with pytest.raises(ValueError):
        build(tmp_path / "bad", 0, speakers_per_country=2)
    with pytest.raises(ValueError):
        build(tmp_path / "bad", -1)
    assert not (tmp_path / "bad").exists()


def test_determinism(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    build(a, 0, **SMALL)
    build(b, 0, **SMALL)
    build(c, 1, **SMALL)
    assert (a / "data_info.csv").read_bytes() == (b / "data_info.csv").read_bytes()
    assert _manifest(a)["sha256"] == _manifest(b)["sha256"]
    assert (a / "data_info.csv").read_bytes() != (c / "data_info.csv").read_bytes()
    assert _manifest(a)["sha256"] != _manifest(c)["sha256"]
    for wav in sorted((a / "wav").iterdir())[:5]:
        assert wav.read_bytes() == (b / "wav" / wav.name).read_bytes()
    manifest = _manifest(a)
    assert manifest["seed"] == 0 and manifest["params"] == SMALL
    assert manifest["file_count"] == 48 + 1 and manifest["version"] == demo_hume_vb.VERSION


def test_reuse_and_rebuild(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    build(root, 3, **SMALL)
    reference = _manifest(root)["sha256"]
    before = _mtimes(root)
    assert build(root, 3, **SMALL) == root / "data_info.csv"
    assert _mtimes(root) == before  # reused, nothing rewritten

    wav = sorted((root / "wav").iterdir())[7]
    original = wav.read_bytes()
    wav.unlink()  # missing file
    build(root, 3, **SMALL)
    assert wav.read_bytes() == original and _manifest(root)["sha256"] == reference

    wav.write_bytes(original[:-100] + bytes(100))  # corrupted content
    build(root, 3, **SMALL)
    assert wav.read_bytes() == original and _manifest(root)["sha256"] == reference

    info = root / "data_info.csv"
    text = info.read_text()
    info.write_text(text.replace("Train", "Test", 1))  # edited labels
    build(root, 3, **SMALL)
    assert info.read_text() == text and _manifest(root)["sha256"] == reference

    build(root, 3, **{**SMALL, "bursts_per_speaker": 2})  # other parameters: rebuilt
    assert _manifest(root)["params"]["bursts_per_speaker"] == 2
    assert len(pd.read_csv(info)) == 32 and len(list((root / "wav").iterdir())) == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no temporaries left


def test_interrupted_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "corpus"
    calls = {"n": 0}
    from emobench.corpora.burst_synthesis import synthesise

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return synthesise(*args, **kwargs)

    monkeypatch.setattr(demo_hume_vb, "synthesise", failing)
    with pytest.raises(KeyboardInterrupt):
        build(root, 0, **SMALL)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    build(root, 0, **SMALL)
    assert _manifest(root)["file_count"] == 49


def test_refuses_to_replace_foreign_directory(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "notes.txt").write_text("not a corpus")
    with pytest.raises(FileExistsError):
        build(root, 0, **SMALL)
    assert (root / "notes.txt").exists()


def _ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Concordance correlation coefficient (population moments)."""
    mx, my = x.mean(), y.mean()
    return float(2.0 * np.mean((x - mx) * (y - my)) / (x.var() + y.var() + (mx - my) ** 2))


def _mean_log_mel(root: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """(data_info.csv, time-averaged 80-bin Kaldi log-mel per row) of a corpus.

    Features: torchaudio.compliance.kaldi.fbank(num_mel_bins=80, 25 ms / 10 ms) on the float
    waveform in [-1, 1], exactly as s3prl's ``fbank_no_cmvn`` computes its static part
    (its deltas average to about zero), then the mean over frames.
    """
    torch = pytest.importorskip("torch")
    kaldi = pytest.importorskip("torchaudio.compliance.kaldi")
    df = pd.read_csv(root / "data_info.csv", dtype={"File_ID": str})
    feats, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)  # small ops: several threads are much slower, not faster
    try:
        for file_id in df.File_ID:
            wav, _ = sf.read(str(_wav(root, file_id)), dtype="float32")
            fbank = kaldi.fbank(torch.from_numpy(wav)[None], sample_frequency=16000,
                                num_mel_bins=80, frame_length=25.0, frame_shift=10.0)
            feats.append(fbank.mean(0).numpy())
    finally:
        torch.set_num_threads(threads)
    return df, np.stack(feats)


@pytest.fixture(scope="module")
def default_features(default_corpus: Path) -> tuple[pd.DataFrame, np.ndarray]:
    return _mean_log_mel(default_corpus)


def test_learnable_from_mean_log_mel(default_features) -> None:
    """Linear baselines on time-averaged 80-bin Kaldi log-mel, speaker-independent Train->Test."""
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df, x = default_features
    train, test = (df.Split == "Train").to_numpy(), (df.Split == "Test").to_numpy()

    y = df[list(EMOTIONS)].to_numpy()
    pred = make_pipeline(StandardScaler(), Ridge()).fit(x[train], y[train]).predict(x[test])
    cccs = [_ccc(y[test][:, i], pred[:, i]) for i in range(len(EMOTIONS))]
    ccc = float(np.mean(cccs))

    country = df.Country.to_numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    uar = balanced_accuracy_score(country[test], clf.fit(x[train], country[train]).predict(x[test]))

    age = df.Age.to_numpy()
    pred_age = make_pipeline(StandardScaler(), Ridge()).fit(x[train], age[train]).predict(x[test])
    mae = float(np.abs(pred_age - age[test]).mean())
    baseline = float(np.abs(age[train].mean() - age[test]).mean())

    print(f"\nHUME-VB demo, linear baselines on Test: mean CCC {ccc:.3f} "
          f"(per emotion {np.round(cccs, 2).tolist()}), country UAR {uar:.3f}, "
          f"age MAE {mae:.2f} vs {baseline:.2f} for the Train mean (ratio {mae / baseline:.2f})")
    assert 0.3 < ccc < 0.95, ccc
    assert min(cccs) > 0.1, cccs
    assert 0.6 < uar < 1.0, uar  # learnable, not trivially separable
    assert mae < 0.8 * baseline, (mae, baseline)


def test_idiosyncrasy_zero_is_the_plain_corpus(tmp_path: Path) -> None:
    plain, zero, idio = tmp_path / "plain", tmp_path / "zero", tmp_path / "idio"
    build(plain, 0, **SMALL)
    build(zero, 0, **SMALL, idiosyncrasy=0.0)
    build(idio, 0, **SMALL, idiosyncrasy=0.15)
    assert (plain / "MANIFEST.json").read_bytes() == (zero / "MANIFEST.json").read_bytes()
    assert (plain / "data_info.csv").read_bytes() == (zero / "data_info.csv").read_bytes()
    for wav in sorted((plain / "wav").iterdir()):
        assert wav.read_bytes() == (zero / "wav" / wav.name).read_bytes()
    assert _manifest(idio)["params"] == {**SMALL, "idiosyncrasy": 0.15}

    a = pd.read_csv(plain / "data_info.csv", dtype={"File_ID": str})
    b = pd.read_csv(idio / "data_info.csv", dtype={"File_ID": str})
    assert a.drop(columns=list(EMOTIONS)).equals(b.drop(columns=list(EMOTIONS)))
    values = b[list(EMOTIONS)].to_numpy()
    assert ((values >= 0.0) & (values <= 1.0)).all()
    shift = (b[list(EMOTIONS)] - a[list(EMOTIONS)]).groupby(a.Subject_ID).mean()
    assert shift.abs().to_numpy().mean() > 0.03  # a per-speaker offset on the labels
    first = a.File_ID.iloc[0]
    assert _wav(plain, first).read_bytes() != _wav(idio, first).read_bytes()  # cue gains
    build(idio, 0, **SMALL, idiosyncrasy=0.15)  # reused
    with pytest.raises(ValueError):
        build(tmp_path / "bad", 0, **SMALL, idiosyncrasy=-0.1)
    with pytest.raises(ValueError):
        build(tmp_path / "bad", 0, **SMALL, idiosyncrasy=float("nan"))
    assert not (tmp_path / "bad").exists()


def _bias_correction_gain(df: pd.DataFrame, x: np.ndarray, draws: int = 5) -> tuple[float, float]:
    """Mean CCC on the queries of the held-out speakers without / with a 2-shot bias correction.

    Ridge on Train speakers; for every Val/Test speaker, 2 random clips are the support set and
    their mean residual (truth - prediction) is added to the predictions of the speaker's other
    clips (the queries). CCC per emotion over all queries, mean over emotions and ``draws``.
    """
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = df[list(EMOTIONS)].to_numpy()
    train = (df.Split == "Train").to_numpy()
    pred = make_pipeline(StandardScaler(), Ridge()).fit(x[train], y[train]).predict(x)
    speakers = sorted(set(df.Subject_ID[df.Split != "Train"]))
    rng = np.random.default_rng(0)
    plain, corrected = [], []
    for _ in range(draws):
        truth, raw, fixed = [], [], []
        for spk in speakers:
            rows = np.flatnonzero((df.Subject_ID == spk).to_numpy())
            support = rng.choice(rows, 2, replace=False)
            query = np.setdiff1d(rows, support)
            bias = (y[support] - pred[support]).mean(0)
            truth.append(y[query])
            raw.append(pred[query])
            fixed.append(pred[query] + bias)
        t, r, f = map(np.concatenate, (truth, raw, fixed))
        plain.append(np.mean([_ccc(t[:, i], r[:, i]) for i in range(len(EMOTIONS))]))
        corrected.append(np.mean([_ccc(t[:, i], f[:, i]) for i in range(len(EMOTIONS))]))
    return float(np.mean(plain)), float(np.mean(corrected))


def test_idiosyncrasy_rewards_personalisation(default_features, tmp_path: Path) -> None:
    """With idiosyncrasy, two labelled clips per speaker reveal its style: bias correction helps."""
    pytest.importorskip("sklearn")
    root = tmp_path / "idiosyncratic"
    build(root, 0, idiosyncrasy=0.15)
    before, after = _bias_correction_gain(*_mean_log_mel(root))
    plain_before, plain_after = _bias_correction_gain(*default_features)
    print(f"\n2-shot bias correction, mean CCC on Val/Test queries: idiosyncrasy=0.15 "
          f"{before:.3f} -> {after:.3f} ({after - before:+.3f}); idiosyncrasy=0 "
          f"{plain_before:.3f} -> {plain_after:.3f} ({plain_after - plain_before:+.3f})")
    assert after - before > 0.08, (before, after)
    assert after > 0.5, after
