"""Debian packages installed for the tests that need system programs (tests/browser.py:
Chromium, tests/slurm_cluster.py: SLURM). The callers check root and the programs themselves."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Sequence


def apt_install(packages: Sequence[str], apt: str | None = None
                ) -> subprocess.CompletedProcess:
    """``apt-get install -y`` of ``packages`` (non-interactive, no recommended packages); when
    it fails, ``apt-get update`` once (stale package lists) and install again. The finished
    install; a ``RuntimeError`` naming the packages, the command and the end of its output when
    it failed twice (or there is no ``apt-get``)."""
    apt = apt or shutil.which("apt-get")
    if apt is None:
        raise RuntimeError(f"there is no apt-get to install {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [apt, "install", "-y", "-q", "--no-install-recommends", *packages]
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run([apt, "update", "-q"], env=env, capture_output=True, text=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"apt-get could not install {' '.join(packages)} (exit "
                           f"{done.returncode}, also after apt-get update): {' '.join(install)}"
                           f"\n{(done.stdout + done.stderr)[-3000:]}")
    return done
