"""Every bad input of docs/robustness.md, as a hostile user would give it, through the command line.

Each test asserts the exit code, that the message names the file / line / key, and that nothing
was written or left behind (no experiment folder, no cache entry). The few inputs that are kept
(near-silent or channel-cancelling audio, a corpus without speaker ids) are asserted to be
counted in scores.json.
"""

from __future__ import annotations

import csv
import json
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from emobench.orchestration.cli import main
from helpers_labels import with_row, write_corpus, write_wav

UPSTREAM = "fbank_no_cmvn"


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def train(corpus, *extra: str, name: str = "run", upstream: str = UPSTREAM) -> int:
    return main(["-m", "train", "-u", upstream, "-d", "emotion", "-n", name, "--device", "cpu",
                 "-o", f"data.label_dir={corpus.label_dir}", "-o",
                 f"data.audio_root={corpus.audio_root}", "-o", "train.epochs=1", *extra])


def left_behind(work: Path, name: str = "run") -> list[str]:
    """What a failed run left: its experiment folder, any feature-cache entry."""
    found = []
    if (work / "results/downstream" / name).exists():
        found.append(str(work / "results/downstream" / name))
    cache = work / "results/cache"
    if cache.exists():
        found += [str(p) for p in cache.rglob("*") if p.is_file()]
    return found


def refused(capsys, code: int, *names: str) -> str:
    """Exit 2, one clear message naming every ``names``; no traceback, no unsafe advice."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "weights_only=False" not in err
    assert "`weights_only` set to `False`" not in err
    for name in names:
        assert str(name) in err, (name, err)
    return err


# -- audio -------------------------------------------------------------------------------------

def test_audio_shorter_than_the_upstream_front_end(work, capsys):
    corpus = write_corpus(work)
    short = write_wav(corpus.audio_root / "s1_b.wav", seconds=0.01)  # 160 samples < 400
    err = refused(capsys, train(corpus), corpus.csv, short, "line 3:", "400 samples")
    assert "fbank_no_cmvn" in err and "choose a window size" not in err
    assert left_behind(work) == []


def test_minimum_input_of_the_table_is_the_front_ends_minimum():
    from emobench.upstream.min_input import min_samples
    from emobench.upstream.registry import build_upstream

    upstream, needed = build_upstream(UPSTREAM), min_samples(UPSTREAM)
    with torch.no_grad():
        upstream([torch.randn(needed) * 0.1])  # the minimum works
        with pytest.raises(Exception):
            upstream([torch.randn(needed - 1) * 0.1])  # one sample less does not


def test_non_finite_samples(work, capsys):
    corpus = write_corpus(work)
    data = np.random.default_rng(0).uniform(-0.1, 0.1, 8000).astype(np.float32)
    data[100] = np.nan
    nan = corpus.audio_root / "s2_a.wav"
    sf.write(str(nan), data, 16000, subtype="FLOAT")
    refused(capsys, train(corpus), corpus.csv, nan, "line 4:", "non-finite samples")
    assert left_behind(work) == []


def _truncate_data(path: Path, keep: int) -> None:
    """Cut a WAV's data chunk to ``keep`` bytes, leaving the header's declared length."""
    raw = path.read_bytes()
    start = raw.index(b"data") + 8
    path.write_bytes(raw[:start + keep])


def test_truncated_data_chunk(work, capsys):
    corpus = write_corpus(work)
    cut = corpus.audio_root / "s3_a.wav"
    declared = struct.unpack("<I", cut.read_bytes()[cut.read_bytes().index(b"data") + 4:][:4])[0]
    _truncate_data(cut, 960)
    assert sf.info(str(cut)).frames > 0  # soundfile alone reads it as a short clip, silently
    err = refused(capsys, train(corpus), corpus.csv, cut, "line 6:", "truncated WAV")
    assert f"declares {declared} bytes" in err and "holds 960" in err
    assert left_behind(work) == []


def test_zero_length_wav_has_its_own_message(work, capsys):
    corpus = write_corpus(work)
    empty = write_wav(corpus.audio_root / "s3_b.wav", seconds=0.0)
    err = refused(capsys, train(corpus), corpus.csv, empty, "line 7:", "zero-length WAV")
    assert "Format not recognised" not in err
    assert left_behind(work) == []


def test_other_formats_pass_the_header_check(tmp_path):
    from emobench.core.audio import num_frames

    flac = tmp_path / "a.flac"
    sf.write(str(flac), np.zeros(800, np.float32) + 0.1, 16000, format="FLAC")
    assert num_frames(flac) == (800, 16000)


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    """One tiny training run keeping a channel-cancelling stereo file, a near-silent file and
    a blank speaker id (data.speakerless=true)."""
    work = tmp_path_factory.mktemp("kept")
    rows = with_row(1, speaker="")
    corpus = write_corpus(work, rows)
    tone = 0.3 * np.sin(np.linspace(0, 400 * np.pi, 8000)).astype(np.float32)
    sf.write(str(corpus.audio_root / "s2_a.wav"), np.stack([tone, -tone], axis=1), 16000,
             subtype="PCM_16")
    sf.write(str(corpus.audio_root / "s2_b.wav"), np.zeros((8000, 2), np.float32), 16000,
             subtype="PCM_16")  # near-silent stereo (mono PCM is not read before training)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        code = train(corpus, "-o", "data.speakerless=true", "-o", "data.standardize=false")
    return work, corpus, code


def test_channel_cancelling_and_silent_audio_are_kept_counted_and_named(kept_run):
    work, corpus, code = kept_run
    assert code == 0
    scores = json.loads((work / "results/downstream/run/scores.json").read_text())
    counted = [w for w in scores["warnings"] if "near-silent or with cancelling channels" in w]
    assert len(counted) == 1 and counted[0].startswith("2 audio file(s)")
    assert "line 4:" in counted[0] and "s2_a.wav" in counted[0] and "channels cancel" in counted[0]
    assert "line 5:" in counted[0] and "s2_b.wav" in counted[0] and "near-silent" in counted[0]


def test_speakerless_flag_disables_the_speaker_audit_and_says_so(kept_run):
    work, _, code = kept_run
    assert code == 0
    scores = json.loads((work / "results/downstream/run/scores.json").read_text())
    assert any("speaker audit disabled: data.speakerless=true" in w for w in scores["warnings"])


# -- labels and config -------------------------------------------------------------------------

def test_blank_speaker_id_is_an_error(work, capsys):
    corpus = write_corpus(work, with_row(2, speaker=""))
    refused(capsys, train(corpus), corpus.csv, "line 4:", "blank SpkrID", "data.speakerless")
    assert left_behind(work) == []


def test_negative_epochs_name_the_key_and_value(work, capsys):
    corpus = write_corpus(work)
    err = refused(capsys, train(corpus, "-o", "train.epochs=-1"), "train.epochs=-1", ">= 1")
    assert "is not set" not in err
    assert left_behind(work) == []


def test_exvo_mtl_without_test_rows_is_an_error(work, capsys):
    from emobench.corpora import demo_hume_vb

    data_info = demo_hume_vb.build(work / "hume", seed=0, speakers_per_country=4,
                                   bursts_per_speaker=2)
    with open(data_info, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    split = rows[0].index("Split")
    no_test = work / "no_test.csv"
    with open(no_test, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([rows[0]] + [r for r in rows[1:] if r[split] != "Test"])
    code = main(["-m", "train", "-u", UPSTREAM, "-d", "exvo_mtl", "-n", "run", "--device", "cpu",
                 "-o", f"data.data_info={no_test}", "-o",
                 f"data.audio_root={data_info.parent / 'wav'}", "-o", "train.epochs=1"])
    refused(capsys, code, no_test, "no Test rows", "output.format=exvo_multi")
    assert left_behind(work) == []
    assert not list(work.rglob("ExVo-Multi_*.csv"))


def test_multitask_negative_epochs_and_non_finite_audio(work, capsys):
    from emobench.corpora import demo_hume_vb

    data_info = demo_hume_vb.build(work / "hume", seed=0, speakers_per_country=4,
                                   bursts_per_speaker=2)
    wavs = data_info.parent / "wav"

    def run(*extra: str) -> int:
        return main(["-m", "train", "-u", UPSTREAM, "-d", "exvo_mtl", "-n", "run", "--device",
                     "cpu", "-o", f"data.data_info={data_info}", "-o",
                     f"data.audio_root={wavs}", *extra])

    refused(capsys, run("-o", "train.epochs=-1"), "train.epochs=-1", ">= 1")
    nan = sorted(wavs.glob("*.wav"))[3]
    data = np.random.default_rng(0).uniform(-0.1, 0.1, 8000).astype(np.float32)
    data[7] = np.inf
    sf.write(str(nan), data, 16000, subtype="FLOAT")
    refused(capsys, run("-o", "train.epochs=1"), data_info, nan, "non-finite samples", "line ")
    assert left_behind(work) == []


# -- checkpoints -------------------------------------------------------------------------------

class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _evil(work: Path) -> tuple[Path, Path]:
    marker, path = work / "PWNED", work / "evil.pt"
    torch.save({"run": {}, "config": {}, "model": _Evil(marker)}, path)
    return path, marker


def test_evaluate_an_unsafe_pickle(work, capsys):
    evil, marker = _evil(work)
    code = main(["-m", "evaluate", "-e", str(evil)])
    refused(capsys, code, evil, "unsafe pickle refused", "posix.mkdir")
    assert not marker.exists() and left_behind(work) == []


def test_upstream_checkpoint_unsafe_pickle(work, capsys):
    corpus = write_corpus(work)
    evil, marker = _evil(work)
    code = train(corpus, "-k", str(evil), upstream="byol_s_512")
    refused(capsys, code, evil, "unsafe pickle refused")
    assert not marker.exists() and left_behind(work) == []


@pytest.mark.parametrize("content,why", [(b"", "the file is empty or truncated"),
                                         (b"not a checkpoint\n" * 4, "not a checkpoint")])
def test_upstream_checkpoint_that_is_not_a_checkpoint(work, capsys, content, why):
    corpus = write_corpus(work)
    bad = work / "bad.pt"
    bad.write_bytes(content)
    refused(capsys, train(corpus, "-k", str(bad), upstream="wavlm_large"), bad, why)
    assert left_behind(work) == []


def test_upstream_checkpoint_of_another_model(work, capsys):
    from emobench.upstream.registry import make_tiny

    corpus = write_corpus(work)
    apc = Path(make_tiny("apc", work / "apc.pt").path)
    refused(capsys, train(corpus, "-k", str(apc), upstream="wavlm_large"), apc,
            "not a wavlm_large checkpoint")
    assert left_behind(work) == []


def test_checkpoint_for_an_upstream_without_weights(work, capsys):
    corpus = write_corpus(work)
    refused(capsys, train(corpus, "-k", "x.pt"), "-k x.pt", "takes no checkpoint")
    assert left_behind(work) == []


def test_missing_upstream_checkpoint_leaves_no_folder(work, capsys):
    corpus = write_corpus(work)
    refused(capsys, train(corpus, "-k", str(work / "missing.pt"), upstream="apc"), "missing.pt")
    assert left_behind(work) == []


def test_evaluate_a_file_that_is_not_an_emobench_checkpoint(work, capsys):
    from emobench.upstream.registry import make_tiny

    apc = Path(make_tiny("apc", work / "apc.pt").path)
    refused(capsys, main(["-m", "evaluate", "-e", str(apc)]), apc, "not an emobench checkpoint")


# -- audit ------------------------------------------------------------------------------------

def test_audit_on_label_files_alone_named_by_corpus_and_condition(work, capsys):
    for corpus_name in ("CREMA-D", "IMPROV"):
        folder = work / corpus_name
        write_corpus(folder, audio=False)
        (folder / "labels").rename(folder / "Primary")
        code = main(["-m", "audit", "-p", str(work / "out"), "-o",
                     f"data.label_dir={folder / 'Primary'}"])
        out = capsys.readouterr().out
        assert code == 0 and "audio checks skipped" in out
    written = sorted(p.name for p in (work / "out").iterdir())
    assert written == ["CREMA-D_Primary_audit.json", "IMPROV_Primary_audit.json"]
    report = json.loads((work / "out/IMPROV_Primary_audit.json").read_text())
    assert report["audio_root"] is None and report["partition_checks"]["content"] is False


def test_audit_never_overwrites_another_label_folders_report(work, capsys):
    for parent in ("a", "b"):
        write_corpus(work / parent / "same", audio=False)
        assert main(["-m", "audit", "-p", str(work / "out"), "-o",
                     f"data.label_dir={work / parent / 'same' / 'labels'},,"
                     "data.corpus=same"]) == 0
    names = sorted(p.name for p in (work / "out").iterdir())
    assert names == ["same_labels_audit.json", "same_labels_audit_2.json"]


# -- clutter ----------------------------------------------------------------------------------

def test_seeds_into_a_single_run_folder_is_refused(work, capsys):
    corpus = write_corpus(work)
    folder = work / "results/downstream/run"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("run: {}\n")
    before = sorted(p.name for p in folder.iterdir())
    refused(capsys, train(corpus, "--seeds", "2"), folder, "single run", "--overwrite")
    assert sorted(p.name for p in folder.iterdir()) == before


def test_third_party_warnings_go_to_the_log_not_the_console(tmp_path, capsys):
    from emobench.core.experiment import setup_logging

    setup_logging(tmp_path)
    try:
        warnings.warn("a third-party deprecation", UserWarning)
    finally:
        setup_logging(None)
    assert "a third-party deprecation" not in capsys.readouterr().err
    assert "a third-party deprecation" in (tmp_path / "log.log").read_text()


# -- sweeps ------------------------------------------------------------------------------------

def test_sweep_dry_run_lists_every_missing_path_and_partition(work, capsys):
    sweep = Path(__file__).parents[1] / "configs/sweeps/emo_superb.yaml"
    assert main(["-m", "sweep", "-c", str(sweep), "--launcher", "slurm", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "preflight: 19 thing(s) missing" in out
    assert "condition crema_d: data.label_dir=/path/to/EMO-SUPERB/data/CREMA-D/Primary does " \
           "not exist" in out
    assert "slurm.partition is null" in out
    assert not (work / "results").exists()


def test_sweep_refuses_to_start_with_missing_paths(work, capsys):
    corpus = write_corpus(work)
    sweep = work / "s.yaml"
    sweep.write_text(f"name: s\nupstreams: [{UPSTREAM}]\nconditions:\n  - name: c\n"
                     f"    config: {work / 'c.yaml'}\n"
                     f"    data: {{label_dir: {corpus.label_dir}, audio_root: {work / 'nope'}}}\n"
                     "folds: [1]\n")
    (work / "c.yaml").write_text("train: {epochs: 1}\n")
    err = refused(capsys, main(["-m", "sweep", "-c", str(sweep)]), sweep, "cannot start")
    assert not (work / "results/sweeps/s").exists(), err

