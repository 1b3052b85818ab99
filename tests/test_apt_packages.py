"""tests/apt_packages.py against a fake apt-get on PATH: install, ``apt-get update`` and install
again when the first one fails, a clear error when both fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import browser
import slurm_cluster
from apt_packages import apt_install

FAKE = """#!/bin/sh
echo "$*" >> "{log}"
case "$1" in
  update) touch "{folder}/updated"; exit 0 ;;
  install)
    if [ -e "{folder}/updated" ] && [ ! -e "{folder}/broken" ]; then
      echo "Setting up $5"; exit 0
    fi
    echo "E: Unable to locate package $5" >&2; exit 100 ;;
esac
exit 2
"""


@pytest.fixture
def fake_apt(tmp_path, monkeypatch) -> Path:
    """A fake apt-get first on PATH (its calls in ``calls.log``); ``broken`` makes every
    install fail."""
    script = tmp_path / "apt-get"
    script.write_text(FAKE.format(log=tmp_path / "calls.log", folder=tmp_path))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def calls(folder: Path) -> list[str]:
    return (folder / "calls.log").read_text().splitlines()


def test_a_failed_install_updates_the_lists_and_installs_again(fake_apt):
    done = apt_install(["pkg-a", "pkg-b"])
    assert done.returncode == 0 and "Setting up pkg-a" in done.stdout
    assert done.args[0] == str(fake_apt / "apt-get")
    install = "install -y -q --no-install-recommends pkg-a pkg-b"
    assert calls(fake_apt) == [install, "update -q", install]


def test_an_install_that_fails_twice_names_the_packages_and_the_output(fake_apt):
    (fake_apt / "broken").touch()
    with pytest.raises(RuntimeError) as error:
        apt_install(["pkg-a", "pkg-b"])
    message = str(error.value)
    assert "apt-get could not install pkg-a pkg-b (exit 100, also after apt-get update)" in message
    assert "E: Unable to locate package pkg-a" in message
    assert len(calls(fake_apt)) == 3


def test_no_apt_get_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="there is no apt-get to install pkg-a"):
        apt_install(["pkg-a"])


def test_the_browser_and_slurm_keep_their_own_messages(fake_apt, monkeypatch):
    (fake_apt / "broken").touch()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(browser, "executable", lambda: None)
    with pytest.raises(RuntimeError, match="installing Chromium as root failed: apt-get could "
                                           "not install chromium chromium-driver"):
        browser.ensure_installed()
    monkeypatch.setattr(slurm_cluster, "missing_programs", lambda: ["slurmd"])
    with pytest.raises(RuntimeError, match=r"installing SLURM as root failed \(missing "
                                           r"slurmd\): apt-get could not install slurmctld"):
        slurm_cluster.ensure_installed()
    (fake_apt / "broken").unlink()  # installed, but the program is still not there
    with pytest.raises(RuntimeError, match="installing Chromium as root gave no chromium "
                                           "executable"):
        browser.ensure_installed()
