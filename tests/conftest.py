"""Shared fixtures. Real corpora are found through SER_TEST_DATA (.ci/run sets ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def test_data() -> Path:
    root = os.environ.get("SER_TEST_DATA")
    if not root:
        pytest.skip("SER_TEST_DATA is not set: real-data tests need the shared test corpora "
                    "(.ci/run sets it to ../shared/data)")
    path = Path(root)
    if not path.is_dir():
        pytest.fail(f"SER_TEST_DATA={root} is not a folder")
    return path
