"""emobench.core.io.sha256_file: computed once per unchanged file, never stale."""

from __future__ import annotations

import hashlib
import os

from emobench.core import io


def test_a_rewritten_file_gets_its_new_digest_even_within_one_clock_tick(tmp_path):
    path = tmp_path / "a.wav"
    for content in (b"one", b"two", b"six"):  # same size, same inode, back to back
        with open(path, "r+b" if path.exists() else "wb") as f:
            f.write(content)
        assert io.sha256_file(path) == hashlib.sha256(content).hexdigest()


def test_an_old_unchanged_file_is_hashed_once(tmp_path, monkeypatch):
    path = tmp_path / "b.wav"
    path.write_bytes(b"audio")
    old = 1_000_000_000
    os.utime(path, (old, old))  # the change time stays recent: still hashed afresh
    first = io.sha256_file(path)
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    assert io.sha256_file(path) == first == hashlib.sha256(b"audio").hexdigest()
    monkeypatch.setattr(io.time, "time_ns", lambda: 10**20)  # long after the change time
    io.sha256_file(path)
    count = len(opened)
    assert io.sha256_file(path) == first and len(opened) == count  # memoised: not read again
