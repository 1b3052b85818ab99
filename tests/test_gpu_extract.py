"""benchmarks/gpu_extract.py on the CPU with tiny random upstreams (the GPU run is the same code).

Checks what its JSON reports (positive throughput, RTF, FLOPs; FLOPs linear in the batch size
for equal-length utterances), that OOM rows and time-budget skips are reported rather than fatal
or silent, and that skipping the loader's random initialisation loads the same model.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from emobench.upstream import build_upstream, make_tiny

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_extract.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gpu_extract", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_extract"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gpu_extract", None)


def tiny_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--device", "cpu", "--tiny", "--upstreams", "wavlm_large", "--precisions", "float32",
            "--seconds", "0.5", "--repeats", "1", "--warmup", "0", "--matmul-size", "64",
            "--out", str(tmp_path / "out.json"), *extra]


def test_cpu_tiny_run_reports_throughput_rtf_and_flops(bench, tmp_path, capsys):
    threads = torch.get_num_threads()
    try:
        result = bench.main(tiny_args(tmp_path, "--batch-sizes", "1", "3",
                                      "--peak-tflops-fp32", "2.0", "--threads", "2"))
    finally:
        torch.set_num_threads(threads)
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["rows"] == json.loads(json.dumps(result["rows"]))
    one, three = written["rows"]
    assert (one["batch_size"], three["batch_size"]) == (1, 3)
    for row in (one, three):
        assert row["status"] == "ok", row
        assert row["utterances_per_s"] > 0 and row["rtf"] > 0 and row["median_s"] > 0
        assert row["flops_per_audio_s"] > 0 and row["achieved_tflops"] > 0
        assert row["uncounted_bulk_ops"] == []  # attention included (the CPU kernel's formula)
        assert row["audio_s"] == pytest.approx(0.5 * row["batch_size"])
        assert row["rtf"] == pytest.approx(row["median_s"] / row["audio_s"])
        assert row["utterances_per_s"] == pytest.approx(row["batch_size"] / row["median_s"])
        assert row["fraction_of_datasheet_peak"] == pytest.approx(row["achieved_tflops"] / 2.0)
        assert row["fraction_of_measured_peak"] > 0
        assert row["peak_gpu_mb"] is None  # CPU
    assert three["flops"] == pytest.approx(3 * one["flops"], rel=0.01)
    assert three["flops_per_audio_s"] == pytest.approx(one["flops_per_audio_s"], rel=0.01)
    assert any("attention" in op for op in one["flops_by_op"])
    env = written["environment"]
    assert env["torch"] == torch.__version__ and env["device"] == "cpu" and env["date"]
    assert env["float32_matmul_precision"] == torch.get_float32_matmul_precision()
    assert "--tiny" in env["command"] and env["threads"] == 2
    assert written["measured_peaks"]["bfloat16"]["tflops"] > 0
    assert written["measured_peaks"]["float32"]["tflops"] > 0
    assert written["builds"][0]["size"] == "tiny" and written["builds"][0]["padded_batch"]
    out = capsys.readouterr().out
    assert out.count("upstream=wavlm_large") == 2  # one line per row, as measured
    assert "| upstream | precision | batch |" in out
    assert out.rstrip().splitlines()[-1].startswith('{"benchmark": "gpu_extract"')


def test_time_budget_skips_are_printed_not_silent(bench, tmp_path, capsys):
    result = bench.main(tiny_args(tmp_path, "--batch-sizes", "1", "2", "--matmul-size", "0",
                                  "--time-budget-s", "0", "--upstreams", "wavlm_large",
                                  "xls_r_1b"))
    assert [row["status"] for row in result["rows"]] == ["skipped (time budget)"] * 4
    assert result["builds"] == [] and result["measured_peaks"] == {"bfloat16": None,
                                                                   "float32": None}
    printed = capsys.readouterr().out.rsplit("\n{", 1)[0]  # before the JSON line
    assert printed.count("status=skipped (time budget)") == 4  # the rows, as they come
    assert printed.count("| skipped (time budget) |") == 4  # the table


def test_oom_is_a_row_and_larger_batches_are_skipped(bench, tmp_path, monkeypatch, capsys):
    measure = bench.measure_row

    def fake(upstream, name, precision, batch, *args):
        if batch >= 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
        return measure(upstream, name, precision, batch, *args)

    monkeypatch.setattr(bench, "measure_row", fake)
    result = bench.main(tiny_args(tmp_path, "--batch-sizes", "1", "2", "4", "--matmul-size",
                                  "0"))
    assert [row["status"] for row in result["rows"]] == ["ok", "OOM", "skipped (OOM at batch 2)"]
    assert "status=OOM" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["wavlm_large", "xls_r_1b"])
def test_loading_without_random_init_gives_the_same_model(bench, tmp_path, name):
    spec = make_tiny(name, tmp_path / "tiny.ckpt", seed=3)
    plain = build_upstream(name, spec.path, padded_batch=True)
    inits = {n: getattr(torch.nn.init, n) for n in bench.RANDOM_INITS}
    with bench.no_random_init():
        fast = build_upstream(name, spec.path, padded_batch=True)
    assert {n: getattr(torch.nn.init, n) for n in bench.RANDOM_INITS} == inits  # restored
    a, b = plain.state_dict(), fast.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    wavs = bench.synthetic_batch(2, 0.5, 0, pin=False)
    assert torch.equal(plain(wavs)[0], fast(wavs)[0])


def test_flop_count_includes_cpu_attention_and_reports_ops_without_a_formula(bench,
                                                                             monkeypatch):
    q = torch.randn(2, 4, 50, 8)  # (batch, heads, frames, head dim)
    attend = lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q)  # noqa: E731
    counted = bench.count_flops(attend)
    assert counted["total"] == 2 * 2 * (2 * 4 * 50 * 50 * 8)  # Q K^T and A V, 2 FLOPs per MAC
    assert counted["uncounted"] == []
    monkeypatch.setattr(bench, "EXTRA_FLOP_FORMULAS", {})
    counted = bench.count_flops(attend)
    assert counted["total"] == 0
    assert counted["uncounted"] == ["aten._scaled_dot_product_flash_attention_for_cpu"]
