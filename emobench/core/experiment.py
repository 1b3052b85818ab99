"""The experiment folder: logging, seeding and provenance shared by every task."""

from __future__ import annotations

import logging
import platform
import random
import subprocess
import sys
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import emobench
from emobench.core.resources import CHECKOUT, in_checkout
LOG = logging.getLogger("emobench")
# Python warnings and the logs of these libraries go to log.log only, never to the console
THIRD_PARTY = ("py.warnings", "matplotlib", "torch", "sklearn", "s3prl", "transformers")


def setup_logging(expdir: Path | None, verbose: bool = False) -> logging.Logger:
    """Log to stderr and, when ``expdir`` is given, to ``expdir/log.log`` (appending)."""
    LOG.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(LOG.handlers):
        LOG.removeHandler(handler)
        handler.close()
    fmt = logging.Formatter("%(asctime)s [%(levelname)s] %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if expdir is not None:
        expdir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(expdir / "log.log", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(fmt)
        LOG.addHandler(handler)
    LOG.propagate = False
    route_third_party(handlers[1:])
    return LOG


def route_third_party(handlers: list[logging.Handler]) -> None:
    """Send Python warnings (torch, sklearn, ...) and third-party loggers to ``handlers``
    (the experiment's log.log; none: dropped) instead of the console."""
    if warnings.showwarning.__module__ != "logging":  # not (or no longer) captured: capture
        logging.captureWarnings(False)
        logging.captureWarnings(True)
    for name in THIRD_PARTY:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for handler in handlers or [logging.NullHandler()]:
            logger.addHandler(handler)
        logger.propagate = False


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch; ask torch for deterministic kernels."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def git_commit() -> str | None:
    """The toolkit's git commit (``-dirty`` when the work tree has changes), if in a checkout."""
    if not in_checkout():
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=CHECKOUT, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=CHECKOUT, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty.strip() else "")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def provenance() -> dict[str, Any]:
    """Who produced a result: toolkit version and commit, library versions, machine, date."""
    import torch

    return {
        "version": emobench.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torchaudio": _version("torchaudio"),
        "s3prl": _version("s3prl"),
        "platform": platform.platform(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
