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


@pytest.fixture(scope="session")
def slurm_cluster():
    """A real single-node SLURM cluster with accounting (tests/slurm_cluster.py), started once
    per session and stopped at its end. Installs the Debian packages as root when missing; skips
    (with the reason) only without root, where SLURM can be neither installed nor run."""
    from slurm_cluster import LocalSlurm, SlurmUnavailable

    cluster = LocalSlurm()
    try:
        cluster.start()
    except SlurmUnavailable as e:
        pytest.skip(str(e))
    try:
        yield cluster
    finally:
        cluster.stop()
