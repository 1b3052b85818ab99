"""The experiment folder: logging, seeding and provenance shared by every task."""

from __future__ import annotations

import logging
import os
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
    deterministic_algorithms()
    set_threads()


def thread_count() -> int:
    """Intra-op threads: ``EMOBENCH_THREADS``, else ``OMP_NUM_THREADS``, else the cores this
    process may run on (fixed, not load-dependent, so results do not vary with other jobs).

    >>> thread_count() >= 1
    True
    """
    for name in ("EMOBENCH_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def set_threads() -> int:
    """Set torch's intra-op thread count explicitly (:func:`thread_count`) and log it."""
    import torch

    count = thread_count()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    LOG.info("torch threads: %d", count)
    return count


def deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` without its import of the
    compiler stack (torch._inductor, about 2.3 s CPU): the flag is set directly, and the
    compiler's own ``deterministic`` setting too where the compiler is already loaded (the
    toolkit never compiles)."""
    import torch

    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        inductor.deterministic = True
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:  # another torch: the public call (with its import)
        torch.use_deterministic_algorithms(True, warn_only=True)
        return
    setter(True, warn_only=True)


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
