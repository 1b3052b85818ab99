"""The LLM relabelling against a local mock OpenAI-compatible server (no network)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from emobench.core.config import ConfigError
from emobench.core.errors import LabelFileError
from emobench.corpora.relabel import job
from emobench.corpora.relabel.client import ChatClient, RelabelClientError, endpoint
from emobench.corpora.relabel.config import ClientConfig, RelabelConfig
from emobench.corpora.relabel.inputs import read_annotations
from emobench.corpora.relabel.prompt import load_prompt
from mock_openai import CLASSES, MockServer

DATA = Path(__file__).parent / "data" / "relabel"
HEADER = "," + ",".join(CLASSES) + ",words\n"


def annotations(path: Path, rows: dict[str, tuple[str, list[float]]]) -> Path:
    """An annotations CSV in the released layout: id, classes, words."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        writer = csv.writer(f, lineterminator="\n")
        for uid, (words, ref) in rows.items():
            writer.writerow([uid, *ref, words])
    return path


def reference(uid: str) -> list[float]:
    """a01..a09's vote fractions (tests/data/relabel/input.csv)."""
    table = read_annotations(DATA / "input.csv")
    return table.values[table.ids.index(uid)].tolist() if uid in table.ids else \
        [0, 1.0, 0, 0, 0, 0, 0, 0]


def config(tmp_path: Path, server: MockServer, notes: Path, **changes) -> RelabelConfig:
    client = ClientConfig(base_url=server.base_url, model="mock-model", backoff_s=0.0,
                          timeout_s=5.0, api_key_env="RELABEL_TEST_KEY")
    return RelabelConfig(**{"annotations": str(notes), "label_dir": str(DATA / "Primary"),
                            "output_dir": str(tmp_path / "Primary_relabelled"),
                            "cache_dir": str(tmp_path / "cache"), "client": client, **changes})


def items_in(body: dict) -> int:
    return len(body["messages"][1]["content"].split(" | "))


def test_batches_of_n_and_a_rerun_from_the_cache_sends_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RELABEL_TEST_KEY", "sk-test")
    rows = {f"a0{i}.wav": (f"word{i}", reference(f"a0{i}.wav")) for i in range(1, 10) if i != 2}
    notes = annotations(tmp_path / "input.csv", rows)
    with MockServer() as server:
        first = job.run(config(tmp_path, server, notes, batch_size=3, figure_examples=0))
        assert [items_in(b) for b in server.bodies] == [3, 3, 2]  # 8 items, 3 per request
        system = server.bodies[0]["messages"][0]["content"]
        assert "I will give you 3 data points each time" in system
        assert "'angry,' 'sad,' 'disgust,' 'contempt,' 'fear,' 'neutral,' 'surprise,' and " \
               "'happy.'" in system
        assert "${" not in system
        body = server.bodies[0]
        assert body["model"] == "mock-model" and body["temperature"] == 0.0 and body["seed"] == 7
        assert body["response_format"] == {"type": "json_object"}
        assert body["auth"] == "Bearer sk-test" and body["path"] == "/v1/chat/completions"
        assert first["requests"] == 3 and first["accepted"] == 8 and first["fallback"] == 0
        assert first["usage"] == {"prompt_tokens": 300, "completion_tokens": 150}
        merged = {p.name: p.read_bytes() for p in (tmp_path / "Primary_relabelled").iterdir()
                  if p.suffix == ".csv"}
        shutil.rmtree(tmp_path / "Primary_relabelled")
        second = job.run(config(tmp_path, server, notes, batch_size=3, figure_examples=0))
        assert len(server.bodies) == 3  # the rerun made zero requests
    assert second["requests"] == 0 and second["cache_hits"] == 3
    again = {p.name: p.read_bytes() for p in (tmp_path / "Primary_relabelled").iterdir()
             if p.suffix == ".csv"}
    assert again == merged  # the same labels


def test_every_bad_answer_is_reasked_counted_and_finally_falls_back(tmp_path):
    words = {"a01.wav": "Interested", "a03.wav": "DROPME", "a04.wav": "SUM13",
             "a05.wav": "UNKNOWNCLASS", "a06.wav": "Garbled", "a07.wav": "Curious",
             "a08.wav": "ALWAYSBAD"}
    notes = annotations(tmp_path / "input.csv", {u: (w, reference(u)) for u, w in words.items()})
    with MockServer() as server:
        report = job.run(config(tmp_path, server, notes, batch_size=2, max_reasks=2))
        sizes = [items_in(b) for b in server.bodies]
    # [a01 a03] [a03] | [a04 a05] [a04 a05] | [a06 a07] [a06 a07] | [a08] x 3
    assert sizes == [2, 1, 2, 2, 2, 2, 1, 1, 1]
    counts = report["counts"]
    assert counts["malformed_answer"] == 1
    assert counts["missing_item"] == 3  # a03 left out; a06 and a07 in the unparseable answer
    assert counts["rejected:sum_out_of_tolerance"] == 4  # a04 once, a08 three times
    assert counts["rejected:unknown_class"] == 1
    assert counts["reasked"] == 7 and counts["fallback"] == 1
    assert report["listed"]["fallback"] == ["a08.wav"] == report["fallback_ids"]
    assert "joy" in report["listed"]["rejected:unknown_class"][0]
    assert "sum 1.3" in report["listed"]["rejected:sum_out_of_tolerance"][0]
    assert report["accepted"] == 6 and report["requests"] == 9
    assert report["listed"]["kept_in_split:test"] == [  # test rows keep their labels
        "labels_consensus_1.csv: a04.wav", "labels_consensus_2.csv: a01.wav"]
    original = (DATA / "Primary" / "labels_consensus_2.csv").read_text().splitlines()
    merged = (tmp_path / "Primary_relabelled" / "labels_consensus_2.csv").read_text().splitlines()
    changed = {a.split(",")[0] for a, b in zip(original, merged) if a != b}
    assert changed == {"a03.wav", "a04.wav", "a05.wav", "a06.wav", "a07.wav"}  # a01: test
    row = next(line for line in merged if line.startswith("a05.wav")).split(",")
    expected = np.round(0.95 * (0.8 * np.eye(8)[5] + 0.2 * np.eye(8)[7])
                        + 0.05 * (1 - (0.8 * np.eye(8)[5] + 0.2 * np.eye(8)[7])) / 7, 6)
    assert [float(x) for x in row[1:9]] == expected.tolist()
    assert (tmp_path / "Primary_relabelled" / "relabel_examples.png").stat().st_size > 0
    fold1 = report["folds"]["labels_consensus_1"]
    assert fold1["relabelled"] == 5 and fold1["by_split"] == {"dev": 2, "train": 3}


def test_retries_429_and_5xx_then_stops_on_401(tmp_path):
    notes = annotations(tmp_path / "input.csv", {"a01.wav": ("Interested", reference("a01.wav"))})
    with MockServer() as server:
        server.script = [(429, {"Retry-After": "0"}), (500, {})]
        report = job.run(config(tmp_path, server, notes))
        assert report["requests"] == 3 and report["accepted"] == 1
        server.script = [(401, {})]
        with pytest.raises(RelabelClientError, match="HTTP 401"):
            job.run(config(tmp_path, server, notes, cache_dir=str(tmp_path / "other")))
        assert len(server.bodies) == 4  # a 401 is not retried
        server.script = [(503, {})] * 3
        cfg = config(tmp_path, server, notes, cache_dir=str(tmp_path / "third"))
        cfg.client.max_retries = 2
        with pytest.raises(RelabelClientError, match="failed 3 times; last: HTTP 503"):
            job.run(cfg)


def test_timeout_is_retried_and_requests_are_spaced_by_the_rate_limit(tmp_path):
    with MockServer() as server:
        server.delay_first_s = 1.0
        cfg = ClientConfig(base_url=server.base_url, model="m", timeout_s=0.3, backoff_s=0.0,
                           requests_per_minute=120)
        waits: list[float] = []
        client = ChatClient(cfg, endpoint(cfg, env={}), sleep=waits.append)
        text = client.complete("system", "0: Haaapy#0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0")
    assert client.requests == 2 and '"0"' in text
    assert len(waits) == 2 and waits[0] == 0.0  # the backoff (0 s), then the rate limit
    assert 0 < waits[1] <= 0.5  # 120 requests per minute: 0.5 s apart


def test_bad_inputs_are_clear_errors(tmp_path):
    ref = reference("a01.wav")
    dup = tmp_path / "dup.csv"
    dup.write_text(HEADER + f"a01.wav,{','.join(map(str, ref))},x\n" * 2)
    with pytest.raises(LabelFileError, match=r"lines 2, 3: duplicate id 'a01.wav'"):
        read_annotations(dup, CLASSES)
    nan = tmp_path / "nan.csv"
    nan.write_text(HEADER + "a01.wav,0,0,0,0,0,nan,0,1.0,x\n")
    with pytest.raises(LabelFileError, match=r"nan.csv.*\n.*line 2 \(a01.wav\): reference "
                                             r"distribution has a value that is not a number"):
        read_annotations(nan, CLASSES)
    other = tmp_path / "other.csv"
    other.write_text(",angry,sad,joy,words\na01.wav,0.5,0.5,0,x\n")
    with pytest.raises(LabelFileError, match="not the label folder's classes"):
        read_annotations(other, CLASSES)
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Label ${classes} for me.")
    with pytest.raises(ConfigError, match=r"prompt.txt: it lacks the required placeholder\(s\) "
                                          r"\$\{batch_size\}"):
        load_prompt(prompt)
    prompt.write_text("${classes} ${batch_size} ${clases}")
    with pytest.raises(ConfigError, match=r"unknown placeholder\(s\) \$\{clases\}"):
        load_prompt(prompt)
    prompt.write_text("${classes} ${batch_size} costs $5")
    with pytest.raises(ConfigError, match=r"a '\$' that starts no placeholder"):
        load_prompt(prompt)
    with pytest.raises(ConfigError, match="annotations .* is not set"):
        job.run(RelabelConfig(label_dir=str(DATA / "Primary")))


def test_nan_in_an_answer_and_an_index_outside_the_batch_are_counted(tmp_path):
    words = {"a01.wav": "NANVALUE", "a03.wav": "EXTRAINDEX"}
    notes = annotations(tmp_path / "input.csv", {u: (w, reference(u)) for u, w in words.items()})
    with MockServer() as server:
        report = job.run(config(tmp_path, server, notes, batch_size=2, figure_examples=0))
    counts = report["counts"]
    assert counts["rejected:nan"] == 1 and report["listed"]["rejected:nan"] == [
        "a01.wav: fear=nan"]
    assert counts["unknown_index"] == 1 and report["listed"]["unknown_index"] == [
        "batch 0 attempt 0 index 99"]  # ignored, counted
    assert counts["reasked"] == 1 and report["accepted"] == 2 and report["fallback"] == 0
    written = (tmp_path / "Primary_relabelled" / "relabel_output.csv").read_text().splitlines()
    assert written[0] == "," + ",".join(CLASSES) + ",reason"
    assert [line.split(",")[0] for line in written[1:]] == ["a01.wav", "a03.wav"]


def test_the_key_comes_from_the_config_or_the_environment():
    cfg = ClientConfig(base_url="http://127.0.0.1:1/v1", model="m", api_key_env="K")
    assert endpoint(cfg, env={"K": "from-env"}).api_key == "from-env"
    cfg.api_key = "from-config"
    assert endpoint(cfg, env={"K": "from-env"}).api_key == "from-config"
    with pytest.raises(Exception, match="no model named"):
        endpoint(ClientConfig(), env={})
    assert endpoint(ClientConfig(model="m"), env={}).url == \
        "https://api.openai.com/v1/chat/completions"
