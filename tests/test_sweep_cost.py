"""The sweep cost model (emobench/orchestration/sweep/cost.py): arithmetic, "not measured", file errors,
audio durations from files, and the work items of EMO-SUPERB's full table."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from emobench.corpora import conditions
from emobench.orchestration.sweep import corpus_hours, cost
from emobench.orchestration.sweep import throughput as throughput_file
from emobench.orchestration.sweep import work as work_items
from emobench.orchestration.sweep.fields import SweepFileError
from emobench.orchestration.sweep.work import ExtractionWork, Standardization, TrainingWork
from emobench.upstream.waveform_invariance import PUBLISHED_NORMALISES

REPO = Path(__file__).resolve().parents[1]
CPU, GPU = "cpu-test", "cuda-Test GPU"


def throughput_dict() -> dict:
    """Hand-made figures: apc measured on both devices, wavlm only on the CPU."""
    prov = {"date": "2026-01-01", "command": "by hand", "machine": "test"}
    train = {"train_per_utt_epoch": 1e-3, "eval_per_utt": 1e-4, "per_epoch": 0.5}
    return {
        "format": "emobench-throughput/1", "reference_device": CPU,
        "devices": {
            CPU: {"machine": "test cpu",
                  "extraction": {**prov, "rtf": {"apc_960hr": 0.5, "wavlm_large": 2.0}},
                  "training": {**prov, "seconds": {"apc_960hr": {32: train},
                                                   "wavlm_large": {32: train}}}},
            GPU: {"machine": "test gpu",
                  "extraction": {**prov, "rtf": {"apc": 0.01}},  # an alias is accepted
                  "training": {**prov, "seconds": {"apc_960hr": {32: train}}}}}}


def write(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


@pytest.fixture
def throughput(tmp_path) -> throughput_file.Throughput:
    return throughput_file.load_throughput(write(tmp_path / "tp.yaml", throughput_dict()))


def test_extraction_hours_are_hours_times_passes_times_rtf(throughput):
    works = [ExtractionWork("apc_960hr", "a", 2.0, passes=3),
             ExtractionWork("apc_960hr", "b", 1.5, passes=1),
             ExtractionWork("wavlm_large", "a", 2.0, passes=3)]
    result = cost.estimate(works, [], throughput, CPU)
    apc, wavlm = result.rows
    assert apc.upstream == "apc_960hr" and apc.audio_hours == pytest.approx(7.5)
    assert apc.extraction_hours == pytest.approx((2.0 * 3 + 1.5) * 0.5)
    assert wavlm.extraction_hours == pytest.approx(2.0 * 3 * 2.0)
    assert result.totals().extraction_hours == pytest.approx(3.75 + 12.0)
    assert result.not_measured == ()


def test_training_hours_from_per_utterance_epoch_costs(throughput):
    work = TrainingWork("apc_960hr", "demo", runs=2, train_utterances=1000, epochs=10,
                        dev_utterances=100, test_utterances=50)
    row = cost.estimate([], [work], throughput, CPU).rows[0]
    # per run: 10 x (1000 x 1e-3 + 100 x 1e-4 + 0.5) + 50 x 1e-4 = 15.105 s
    assert row.training_hours == pytest.approx(2 * 15.105 / 3600)
    assert row.runs == 2 and row.extraction_hours == 0.0


def test_unmeasured_upstream_says_not_measured_and_shows_reference_hours(throughput):
    works = [ExtractionWork(u, "a", 10.0, passes=2) for u in ("apc_960hr", "wavlm_large")]
    trains = [TrainingWork(u, "demo", 1, 100, 5) for u in ("apc_960hr", "wavlm_large")]
    result = cost.estimate(works, trains, throughput, GPU)
    apc, wavlm = result.rows
    assert apc.extraction_hours == pytest.approx(10 * 2 * 0.01)
    assert wavlm.extraction_hours is None and wavlm.training_hours is None
    assert wavlm.reference_extraction_hours == pytest.approx(10 * 2 * 2.0)
    assert result.not_measured == ("wavlm_large",)
    totals = result.totals()
    assert totals.extraction_hours == pytest.approx(0.2)  # the measured upstream only
    text = cost.render(result)
    wavlm_line = next(line for line in text.splitlines() if line.startswith("| wavlm_large"))
    assert wavlm_line.count("not measured") == 2 and "40.0" in wavlm_line
    assert "1 of 2 upstreams not measured: wavlm_large" in text
    assert "partial: 1 of 2 upstreams lack a measurement" in text
    assert "3,300" in text and "Section 4.4" in text and "Ratio of this partial sum" in text


def test_batch_size_without_measurement_is_not_measured(throughput):
    work = TrainingWork("apc_960hr", "pod_s", 1, 100, 5, batch_size=16)
    assert cost.estimate([], [work], throughput, CPU).rows[0].training_hours is None


def test_unknown_and_uncapped_durations_are_reported(throughput):
    works = [ExtractionWork("apc_960hr", "known", 1.0),
             ExtractionWork("apc_960hr", "nohours", None),
             ExtractionWork("apc_960hr", "long", 2.0, capped=False)]
    result = cost.estimate(works, [], throughput, CPU)
    assert result.unknown_durations == ("nohours",) and result.uncapped == ("long",)
    assert result.rows[0].extraction_hours == pytest.approx(1.5)
    text = cost.render(result)
    assert "No audio duration for nohours" in text and "not cut at max_seconds" in text


def test_user_file_adds_a_device(tmp_path):
    base, extra = throughput_dict(), throughput_dict()
    del base["devices"][GPU]
    extra["devices"] = {GPU: extra["devices"][GPU]}
    del extra["reference_device"]
    merged = throughput_file.load_throughput(write(tmp_path / "a.yaml", base),
                                  write(tmp_path / "b.yaml", extra))
    assert set(merged.devices) == {CPU, GPU} and merged.reference_device == CPU
    assert merged.rtf("apc_960hr", GPU) == 0.01 and len(merged.sources) == 2


def test_merge_measurements_writes_a_loadable_file(tmp_path):
    path = tmp_path / "gpu.yaml"
    prov = {"date": "2026-01-01", "command": "python benchmarks/upstream_rtf.py", "machine": "m"}
    throughput_file.merge_measurements(path, GPU, "extraction", prov, {"wavlm_large": 0.02})
    throughput_file.merge_measurements(path, GPU, "training", prov, {"wavlm_large": {32: {
        "train_per_utt_epoch": 1e-4, "eval_per_utt": 1e-5, "per_epoch": 0.01}}})
    loaded = throughput_file.load_throughput(path)
    assert loaded.rtf("WavLM", GPU) == 0.02
    assert loaded.training_cost("wavlm_large", GPU, 32).eval_per_utt == 1e-5
    assert loaded.devices[GPU].extraction_provenance.command.startswith("python benchmarks")


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["devices"][CPU]["extraction"]["rtf"].update(apc_960hr=-1),
     "devices.cpu-test.extraction.rtf.apc_960hr: expected a positive number, got -1"),
    (lambda d: d["devices"][CPU]["extraction"]["rtf"].update(apc_960hr="fast"),
     "devices.cpu-test.extraction.rtf.apc_960hr: expected a number, got 'fast'"),
    (lambda d: d["devices"][CPU]["extraction"]["rtf"].update(wavlm_larg=1.0),
     "devices.cpu-test.extraction.rtf.wavlm_larg: unknown upstream 'wavlm_larg'; did you mean"),
    (lambda d: d["devices"][CPU]["extraction"].pop("date"),
     "devices.cpu-test.extraction.date: missing"),
    (lambda d: d["devices"][CPU]["training"]["seconds"]["apc_960hr"][32].pop("eval_per_utt"),
     "devices.cpu-test.training.seconds.apc_960hr.32.eval_per_utt: missing"),
    (lambda d: d.update(reference_device="tpu"), "reference_device: 'tpu' is not one of"),
    (lambda d: d.update(device={}), "device: unknown key"),
    (lambda d: d.pop("devices"), "devices: missing"),
])
def test_bad_throughput_file_names_file_and_key(tmp_path, edit, message):
    data = throughput_dict()
    edit(data)
    path = write(tmp_path / "bad.yaml", data)
    with pytest.raises(SweepFileError) as err:
        throughput_file.load_throughput(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_unreadable_files_name_the_file(tmp_path):
    path = write(tmp_path / "broken.yaml", "devices: [unclosed\n")
    with pytest.raises(SweepFileError, match=re.escape(f"{path}: not valid YAML")):
        throughput_file.load_throughput(path)
    with pytest.raises(SweepFileError, match="no such file"):
        throughput_file.load_throughput(tmp_path / "missing.yaml")
    with pytest.raises(SweepFileError, match=r"<top level>: expected a mapping"):
        throughput_file.load_throughput(write(tmp_path / "list.yaml", "- 1\n"))


def test_bad_corpora_file_names_file_and_key(tmp_path):
    good = {"utterances": 10, "hours": 1.0, "source": "a table"}
    cases = [({"x": {"utterances": 10, "hours": 1.0}}, "corpora.x.source: missing"),
             ({"x": {**good, "hours": "long"}}, "corpora.x.hours: expected a number"),
             ({"x": {**good, "utterances": 2.5}}, "corpora.x.utterances: expected a non-negative"),
             ({"x": {**good, "hour": 1}}, "corpora.x.hour: unknown key"),
             ({"x": {"utterances": 10, "source": "s"}}, "corpora.x.hours: missing (write null")]
    for corpora, message in cases:
        path = write(tmp_path / "c.yaml", {"corpora": corpora})
        with pytest.raises(SweepFileError, match=re.escape(message)):
            corpus_hours.load_corpora(path)
    unknown = corpus_hours.load_corpora(write(tmp_path / "u.yaml", {"corpora": {"x": {
        "utterances": None, "hours": None, "source": "not in our sources"}}}))
    assert unknown["x"].hours_for(10.0) == (None, False)


def test_measure_audio_sums_file_durations_capped(tmp_path):
    audio, labels = tmp_path / "audio", tmp_path / "demo" / "labels"
    audio.mkdir()
    labels.mkdir(parents=True)
    files = (("a.wav", 1.0, 16000), ("b.wav", 2.5, 8000), ("c.wav", 12.0, 16000))
    for name, seconds, rate in files:
        sf.write(audio / name, np.zeros(int(seconds * rate), dtype=np.float32), rate)
    for fold, names in ((1, ["a.wav", "b.wav", "c.wav"]), (2, ["c.wav", "a.wav", "b.wav"])):
        with open(labels / f"labels_consensus_{fold}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["FileName", "x", "Split_Set"])
            writer.writerows([n, 1.0, "Train"] for n in names)
    measured = corpus_hours.measure_audio(labels, audio, max_seconds=10.0)
    assert measured.corpus == "demo" and measured.utterances == 3
    assert measured.hours == pytest.approx(15.5 / 3600)
    assert measured.capped_hours == pytest.approx(13.5 / 3600)
    assert measured.max_utterance_seconds == pytest.approx(12.0)
    assert measured.hours_for(10.0) == (pytest.approx(13.5 / 3600), True)
    assert measured.hours_for(5.0) == (pytest.approx(15.5 / 3600), False)  # other cap: unknown
    (audio / "b.wav").unlink()
    with pytest.raises(Exception, match="b.wav: audio file does not exist"):
        corpus_hours.measure_audio(labels, audio)


def test_full_table_work_items():
    extractions, trainings = work_items.full_emo_superb_work()
    folds = sum(c.folds for c in conditions.all_conditions())
    assert folds == 31
    assert sum(t.runs for t in trainings) == 16 * folds
    assert {t.upstream for t in trainings} == set(work_items.EMO_SUPERB_UPSTREAMS)
    passes = {e.corpus: e.passes for e in extractions if e.upstream == "fbank"}
    # IMPROV (P) and (S) have identical partitions: they share their six folds' extraction
    assert passes == {"msp_improv": 6, "crema_d": 5, "msp_podcast": 1, "biic_podcast": 1,
                      "iemocap": 5, "nnime": 5}
    # the five upstreams whose published checkpoint layer-norms every waveform: one per corpus
    for e in extractions:
        assert e.passes == (1 if e.upstream in PUBLISHED_NORMALISES else passes[e.corpus])
    assert len(extractions) == 16 * 6
    capped = {e.corpus: e.capped for e in extractions if e.upstream == "wavlm_large"}
    assert capped["crema_d"] and not capped["iemocap"]  # CREMA-D's longest clip is 5.01 s
    iemocap1 = next(t for t in trainings if t.condition == "iemocap" and t.fold == 1
                    and t.upstream == "fbank")
    assert (iemocap1.train_utterances, iemocap1.dev_utterances, iemocap1.test_utterances,
            iemocap1.epochs) == (5766, 2170, 2103, 40)
    pod_s = next(t for t in trainings if t.condition == "podcast_s")
    assert (pod_s.epochs, pod_s.batch_size, pod_s.train_utterances) == (20, 16, 84030)


def test_full_table_options():
    ext, train = work_items.full_emo_superb_work(["apc", "fbank"], ["improv_p", "podcast_p"],
                                           folds=[1, 3], seeds=3)
    assert sorted((t.condition, t.fold) for t in train if t.upstream == "apc") == [
        ("improv_p", 1), ("improv_p", 3), ("podcast_p", 1)]
    assert all(t.runs == 3 for t in train)
    assert {e.corpus: e.passes for e in ext if e.upstream == "apc"} == {
        "msp_improv": 2, "msp_podcast": 1}
    _, same = work_items.full_emo_superb_work(["apc"], ["improv_p"], folds="1,3")
    assert [t.fold for t in same] == [1, 3]
    ext, _ = work_items.full_emo_superb_work(["apc"],
                                             standardization=Standardization(False))
    assert {e.passes for e in ext} == {1}
    assert {e.shared for e in ext} == {("data.standardize=false",)}


def by_upstream(extractions) -> dict[str, ExtractionWork]:
    assert len({e.corpus for e in extractions}) == 1
    return {e.upstream: e for e in extractions}


def test_passes_depend_on_the_upstream_on_a_five_fold_condition():
    ext, _ = work_items.full_emo_superb_work(["wavlm_large", "fbank"], ["crema_d"])
    found = by_upstream(ext)
    assert (found["wavlm_large"].passes, found["fbank"].passes) == (1, 5)
    assert found["wavlm_large"].shared == (work_items.NORMALISES,)
    assert "assuming the published checkpoint" in found["wavlm_large"].note
    assert not found["wavlm_large"].per_fold and found["fbank"].per_fold
    assert found["fbank"].shared == () and "share" not in found["fbank"].note
    # wav2vec2_large_960's published checkpoint does not normalise: once per fold
    ext, _ = work_items.full_emo_superb_work(["wav2vec2_large_960"], ["crema_d"])
    assert ext[0].passes == 5
    # a row's own checkpoint: its flag is unknown before loading, so once per fold
    ext, _ = work_items.full_emo_superb_work(["wavlm_large"], ["crema_d"],
                                             own_checkpoints={"wavlm_large"})
    assert ext[0].passes == 5 and "own checkpoint" in ext[0].note


def test_condition_scope_shares_one_pass_for_every_upstream():
    condition = Standardization(scope="condition")
    ext, _ = work_items.full_emo_superb_work(["wavlm_large", "fbank"], ["crema_d"],
                                             standardization=condition)
    found = by_upstream(ext)
    assert (found["wavlm_large"].passes, found["fbank"].passes) == (1, 1)
    assert found["fbank"].shared == ("data.standardize_scope=condition",)
    # per condition: IMPROV (P) and (S) hold the same partition, so one pass between them;
    # IEMOCAP keeps the protocol's per-fold standardisation
    ext, _ = work_items.full_emo_superb_work(
        ["fbank"], ["improv_p", "improv_s", "iemocap"],
        standardization={"improv_p": condition, "improv_s": condition})
    assert {e.corpus: e.passes for e in ext} == {"msp_improv": 1, "iemocap": 5}


def test_dry_run_of_the_paper_table_counts_passes_per_upstream():
    from emobench.orchestration.sweep import command, graph, spec

    plan = graph.build(spec.load(REPO / "configs/sweeps/emo_superb.yaml"))
    text = command.cost_text(plan)
    audio = {cells[0]: float(cells[2].replace(",", "")) for cells in table_rows(text)}
    per_fold, per_corpus = audio["fbank"], audio["wavlm_large"]
    assert per_fold > per_corpus
    assert {n for n, h in audio.items() if h == per_corpus} == PUBLISHED_NORMALISES
    assert "One extraction pass per fold (the waveform standardised by each fold's training " \
           "set, EMO-SUPERB's protocol): wav2vec2_large_960, " in text
    assert ("All folds share one extraction pass (the upstream normalises every waveform "
            "itself, assuming the published checkpoint): wavlm_large, ") in text


def table_rows(text: str) -> list[list[str]]:
    """The upstream rows of the first estimate table in ``text``."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("upstream", "**total**"):
            rows.append(cells)
        elif rows and not line.startswith("|"):
            break
    return rows


def test_dry_run_text_on_the_demo(tmp_path, monkeypatch, capsys):
    from emobench.orchestration.cli import main
    from sweep_helpers import write_sweep

    monkeypatch.chdir(tmp_path)
    audio = {}
    settings = {"fold": "data.standardize_scope=fold",
                "condition": "data.standardize_scope=condition", "off": "data.standardize=false"}
    for scope, override in settings.items():
        sweep = write_sweep(tmp_path / f"{scope}.yaml", scope, ["wavlm_large", "fbank"],
                            conditions=("demo",), overrides=["train.epochs=2", override])
        assert main(["-m", "sweep", "-c", str(sweep), "--dry-run"]) == 0
        text = capsys.readouterr().out
        audio[scope] = {c[0]: float(c[2]) for c in table_rows(text)}
        normalising = ("- All folds share one extraction pass (the upstream normalises every "
                       "waveform itself, assuming the published checkpoint): wavlm_large. A "
                       "checkpoint whose config says normalize false extracts once per fold.")
        assert (normalising in text) == (scope != "off")
        if scope == "fold":
            assert ("- One extraction pass per fold (the waveform standardised by each fold's "
                    "training set, EMO-SUPERB's protocol): fbank.") in text
        else:
            assert "One extraction pass per fold" not in text
            shared = "wavlm_large, fbank" if scope == "off" else "fbank"
            assert f"- All folds share one extraction pass ({override}): {shared}." in text
    # the demo's five folds: fbank five passes (table rounded to 0.1 h), wavlm_large one
    assert audio["fold"]["fbank"] == pytest.approx(5 * audio["fold"]["wavlm_large"], abs=0.25)
    assert audio["condition"]["fbank"] == audio["condition"]["wavlm_large"] \
        == audio["off"]["fbank"] == audio["off"]["wavlm_large"] \
        == audio["fold"]["wavlm_large"] > 0


def test_corpora_table_matches_partitions_and_registry():
    table = corpus_hours.load_corpora()
    corpora = {c.corpus for c in conditions.all_conditions()}
    assert corpora <= set(table)
    for cond in conditions.all_conditions():
        entry = table[cond.corpus]
        assert entry.utterances == sum(cond.expected_rows(1).values()), cond.name
        assert entry.hours and "Table 5" in entry.source


def test_default_throughput_matches_docs_upstreams_table():
    """configs/sweeps/throughput.yaml's CPU RTFs are those of docs/upstreams.md."""
    tp = throughput_file.load_throughput()
    cpu = tp.devices[tp.reference_device]
    docs = {}
    for line in (REPO / "docs" / "upstreams.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"\d+\.\d+", cells[-1]):
            docs[cells[0]] = float(cells[-1])
    assert len(docs) >= 16 and cpu.rtf == docs
    assert set(work_items.EMO_SUPERB_UPSTREAMS) <= set(cpu.rtf)
    if cpu.training_provenance is not None:
        assert set(work_items.EMO_SUPERB_UPSTREAMS) <= set(cpu.training)


def test_plain_device_names_resolve_to_the_measured_kind(throughput):
    work = [ExtractionWork("apc_960hr", "a", 1.0)]
    assert cost.estimate(work, [], throughput, "cuda").device == GPU
    assert cost.estimate(work, [], throughput, "cpu").device == CPU
    assert cost.estimate(work, [], throughput).device == CPU
    other = cost.estimate(work, [], throughput, "cuda-Other GPU")
    assert other.rows[0].extraction_hours is None and other.not_measured == ("apc_960hr",)


def test_emo_superb_upstreams_are_the_registered_paper_rows():
    from emobench.upstream.registry import UPSTREAMS, upstream_info

    rows = {n for n in UPSTREAMS.names() if upstream_info(n).paper_name}
    assert set(work_items.EMO_SUPERB_UPSTREAMS) == rows and len(rows) == 16
