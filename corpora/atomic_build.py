"""Corpus folders built atomically: written in a temporary sibling, then renamed into place.

An interrupted build leaves only a temporary (``.<name>.building-<host>-<pid>-<random>``) that
the next build removes once its builder process is gone; a concurrent build that finished first
wins; a folder that is not a corpus is never replaced.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]  # tags temporaries


def files_digest(root: Path, names: Sequence[str]) -> str:
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + hashlib.sha256((root / name).read_bytes()).digest())
    return h.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only, nothing is sent
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def sibling(root: Path, kind: str, pid: int) -> Path:
    """Temporary sibling ``.<name>.<kind>-<host>-<pid>-<random>`` of ``root``."""
    return root.with_name(f".{root.name}.{kind}-{_HOST}-{pid}-{secrets.token_hex(4)}")


def _remove_stale_temporaries(root: Path) -> None:
    """Delete leftovers of interrupted builds whose builder (on this host) is gone."""
    pattern = re.compile(re.escape(f".{root.name}.") + r"(?:building|old)-(\w{8})-([1-9]\d*)-")
    for entry in root.parent.iterdir():
        match = pattern.match(entry.name)
        if (match and match.group(1) == _HOST and entry.is_dir()
                and not _pid_alive(int(match.group(2)))):
            shutil.rmtree(entry, ignore_errors=True)


def build_atomically(root: Path, entries: set[str], reusable: Callable[[], bool],
                     write: Callable[[Path], object]) -> None:
    """Build a corpus folder in a temporary sibling and rename it into place.

    Nothing happens when ``reusable()`` (the MANIFEST matches); a folder holding anything but
    ``entries`` is refused; a concurrent build that finished first wins; an interrupted build
    leaves only a temporary that the next build removes.
    """
    if reusable():
        return
    if root.exists() and (not root.is_dir() or not {p.name for p in root.iterdir()} <= entries):
        raise FileExistsError(f"{root} exists and is not a demo corpus; not replacing it")
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(root)
    tmp = sibling(root, "building", os.getpid())
    tmp.mkdir()
    try:
        write(tmp)
        if reusable():  # a concurrent build finished first
            shutil.rmtree(tmp)
            return
        if root.exists():
            old = sibling(root, "old", os.getpid())
            os.rename(root, old)
            os.rename(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
