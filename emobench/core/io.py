"""Atomic file writes and hashing: an interrupted run never leaves a partial result behind."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, IO


def file_mode() -> int:
    """The mode a newly created file gets under the process's umask (0o666 & ~umask).

    ``tempfile.mkstemp`` creates files with mode 0600 whatever the umask; atomic writes restore
    the mode an ordinary ``open()`` would give, so a research group's shared results folder stays
    readable (umask 002 gives 0664, umask 022 gives 0644).
    """
    try:  # Linux: read it without changing it (os.umask would race with other threads)
        with open("/proc/self/status", encoding="ascii") as f:
            umask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0)
        os.umask(umask)
    return 0o666 & ~umask


def _atomic(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    return _atomic(path, lambda f: f.write(data))


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def torch_save(obj: Any, path: str | Path) -> Path:
    import torch

    return _atomic(path, lambda f: torch.save(obj, f))


_DIGESTS: dict[tuple, str] = {}  # one process's file digests, keyed by the file's identity


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The file's sha256, computed once per process while the file is unchanged.

    A file counts as unchanged while its device, inode, size, modification and change times
    are (the change time cannot be set back by a user), so a rewritten file is hashed again. File
    times are coarse (a few ms), so a file changed in the last 2 s is always hashed afresh (two
    writes within one tick would otherwise look alike), as git does for its "racy" entries."""
    info = os.stat(path)
    key = (os.fspath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
           info.st_ctime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    if time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) > 2_000_000_000:
        _DIGESTS[key] = digest.hexdigest()
    return digest.hexdigest()
