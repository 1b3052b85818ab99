"""The probe on the real EmoDB copy (SERAB split) with the real BYOL-S 512 weights (slow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from emobench.orchestration.cli import main


@pytest.mark.slow
def test_byol_s_512_with_speaker_standardisation_reaches_70_percent(test_data: Path, tmp_path,
                                                                     monkeypatch):
    weights = sorted((test_data.parent / "weights" / "byol_s_512").glob("*.pth"))
    if not (test_data / "emodb" / "wav").is_dir() or not weights:
        pytest.skip("needs $SER_TEST_DATA/emodb and ../weights/byol_s_512")
    monkeypatch.chdir(tmp_path)
    # extraction dominates a cold run (535 clips through BYOL-S on CPU); SER_TEST_CACHE names a
    # feature cache to reuse between runs (its entries are keyed by audio, weights and settings)
    cache = os.environ.get("SER_TEST_CACHE") or str(tmp_path / "cache")
    assert main(["-m", "prepare", "--recipe", "emodb", "--source", str(test_data / "emodb"),
                 "--target", "emodb"]) == 0
    # logistic regression alone keeps the test short; docs/serab.md has all five families
    assert main(["-m", "train", "-u", "byol_s_512", "-k", str(weights[0]), "-d", "probe",
                 "-c", "configs/probe/emodb.yaml", "--device", "cpu", "-p", "run", "-o",
                 f"data.label_dir=emodb/SERAB,,data.audio_root={test_data / 'emodb' / 'wav'},,"
                 f"data.cache_dir={cache},,features.speaker_standardize=true,,"
                 "probe.families=[logistic_regression]"]) == 0
    result = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert result["counts"] == {"train": 344, "dev": 107, "test": 84}
    assert result["metrics"]["test"]["accuracy"] >= 0.70
