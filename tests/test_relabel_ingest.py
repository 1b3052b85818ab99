"""Ingesting a released-format output file, the command line, and the Table 3 gain report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emobench.core.config import load_yaml
from emobench.core.errors import LabelFileError
from emobench.corpora.emotion_labels import read_labels
from emobench.corpora.relabel import job
from emobench.corpora.relabel.config import RelabelConfig
from emobench.orchestration import relabel_gain
from emobench.orchestration.cli import main
from emobench.orchestration.sweep import spec as sweep_spec

DATA = Path(__file__).parent / "data" / "relabel"
ROOT = Path(__file__).resolve().parents[1]


def ingest_config(tmp_path: Path, output: Path = DATA / "output.csv") -> RelabelConfig:
    return RelabelConfig(source="ingest", annotations=str(DATA / "input.csv"),
                         ingest_csv=str(output), label_dir=str(DATA / "Primary"),
                         output_dir=str(tmp_path / "Primary_relabelled"))


def test_ingest_reproduces_the_hand_written_label_files_exactly(tmp_path):
    report = job.run(ingest_config(tmp_path))
    out = tmp_path / "Primary_relabelled"
    for fold in (1, 2):
        name = f"labels_consensus_{fold}.csv"
        assert (out / name).read_bytes() == (DATA / "expected" / name).read_bytes()
    assert (out / "config.json").read_bytes() == (DATA / "Primary" / "config.json").read_bytes()
    assert report["accepted"] == 4 and report["with_description"] == 7
    assert report["fallback_ids"] == ["a05.wav", "a06.wav", "a07.wav"]
    assert report["counts"] == {"fallback": 3, "kept_in_split:test": 2, "missing_item": 1,
                                "no_description": 1, "rejected:nan": 1,
                                "rejected:sum_out_of_tolerance": 1, "renormalised": 1}
    assert report["listed"]["renormalised"] == ["a03.wav"]
    assert report["listed"]["missing_item"] == ["a06.wav"]
    fold1, fold2 = report["folds"]["labels_consensus_1"], report["folds"]["labels_consensus_2"]
    assert (fold1["relabelled"], fold1["majority_changed"]) == (3, 1)  # a03: neutral -> happy
    assert (fold2["relabelled"], fold2["majority_changed"]) == (3, 2)  # and a04: sad -> fear
    assert fold1["by_split"] == {"dev": 1, "train": 2}
    # a01 (0.761429 -> 0.667143 neutral), a03 (0.572857 -> 0.376891), a08 (0.007143 -> 0.195714)
    assert fold1["mean_abs_change"]["neutral"] == pytest.approx(
        (0.094286 + 0.195966 + 0.188571) / 3, abs=1e-6)
    saved = json.loads((out / "relabel_report.json").read_text())
    assert saved["counts"] == report["counts"] and "written" not in saved
    assert (out / "relabel_examples.png").stat().st_size > 0
    assert report["figure_examples"][0] == "a08.wav"  # the largest change (L1 0.6)
    audio = tmp_path / "audio"
    audio.mkdir()
    for i in range(1, 10):
        (audio / f"a0{i}.wav").touch()
    for fold in (1, 2):  # the training task accepts the merged files (sums, columns, splits)
        table = read_labels(out, fold, audio, check_audio=False, allow_speaker_overlap=True)
        assert len(table) == 9


def test_ingest_bad_rows_are_errors_naming_file_and_line(tmp_path):
    lines = (DATA / "output.csv").read_text().splitlines()
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("\n".join(lines + ["zz.wav,0,0,0,0,0,1,0,0,not in the input"]) + "\n")
    with pytest.raises(LabelFileError, match=r"unknown.csv.*\n.*line 8: id 'zz.wav' is not in "
                                             r"the annotations"):
        job.run(ingest_config(tmp_path, unknown))
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(LabelFileError, match=r"lines 2, 8: duplicate id 'a01.wav'"):
        job.run(ingest_config(tmp_path, dup))
    assert not (tmp_path / "Primary_relabelled").exists()  # nothing written on an error


def test_command_line_relabel_and_its_errors(tmp_path, capsys):
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text(f"source: ingest\nannotations: {DATA / 'input.csv'}\n"
                   f"ingest_csv: {DATA / 'output.csv'}\nlabel_dir: {DATA / 'Primary'}\n")
    out = tmp_path / "Primary_relabelled"
    assert main(["-m", "relabel", "-c", str(cfg), "-o", f"output_dir={out}"]) == 0
    printed = capsys.readouterr().out
    assert "relabelled 4 of 7 utterances" in printed and "3 fell back" in printed
    assert (out / "labels_consensus_1.csv").read_bytes() == \
        (DATA / "expected" / "labels_consensus_1.csv").read_bytes()
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("no placeholders here")
    code = main(["-m", "relabel", "-c", str(cfg), "-o",
                 f"source=llm,,prompt={prompt},,client.model=m,,output_dir={out}"])
    err = capsys.readouterr().err
    assert code == 2 and "prompt.txt: it lacks the required placeholder(s) ${classes}, " \
                          "${batch_size}" in err
    assert main(["-m", "relabel", "-c", str(cfg), "-o", f"output_dir={DATA / 'Primary'}"]) == 2
    assert "never overwritten" in capsys.readouterr().err


def test_relative_gain_table_from_synthetic_aggregates(tmp_path, capsys):
    scores = {"wavlm_large": (0.350, 0.360), "modified_cpc": (0.265, 0.290),
              "fbank": (0.186, 0.186), "tera_960hr": (0.295, None)}
    for upstream, (without, with_) in scores.items():
        for condition, value in (("Primary", without), ("Primary_relabelled", with_)):
            if value is None:
                continue
            path = tmp_path / upstream / condition / "aggregate.json"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps({"task": "emotion", "upstream": upstream,
                                        "corpus": "msp_podcast", "condition": condition,
                                        "main": {"mean": value, "std": 0.0}}))
    assert main(["-m", "relabel_gain", "-p", str(tmp_path)]) == 0
    table = json.loads((tmp_path / "report" / "relabel_gain.json").read_text())
    t = table["msp_podcast/Primary"]
    gains = {r["row"]: round(r["gain"], 6) for r in t["rows"]}
    assert gains == {"fbank": 0.0, "modified_cpc": round(0.025 / 0.265, 6),
                     "wavlm_large": round(0.01 / 0.35, 6)}
    assert t["average"]["gain"] == pytest.approx((0.025 / 0.265 + 0.01 / 0.35) / 3)
    assert t["incomplete"] == ["tera_960hr"]
    text = capsys.readouterr().out
    assert "| modified_cpc | 0.265 | 0.290 | 9.43% |" in text
    with pytest.raises(Exception, match="no pair of conditions"):
        relabel_gain.write(tmp_path / "wavlm_large" / "Primary", tmp_path / "r")


def test_the_with_without_sweep_pairs_the_two_conditions():
    spec = sweep_spec.parse(load_yaml(ROOT / "configs" / "sweeps" / "relabel_podcast_p.yaml"))
    without, with_ = spec.conditions
    assert len(spec.upstreams) == 16
    assert with_.overrides[-1] == "data.condition=Primary" + relabel_gain.SUFFIX
    assert without.config == with_.config == "configs/emotion/podcast_p.yaml"
    label_dirs = [next(o for o in c.overrides if o.startswith("data.label_dir="))
                  for c in (without, with_)]
    assert label_dirs[1] == label_dirs[0] + relabel_gain.SUFFIX
