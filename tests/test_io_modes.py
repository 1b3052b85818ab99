"""Atomic writes honour the user's umask (a group-shared results folder stays readable)."""

from __future__ import annotations

import os
import stat

import pytest

from emobench.core import io


@pytest.fixture
def umask():
    old = os.umask(0o022)
    os.umask(old)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(old)


@pytest.mark.parametrize("mask, expected", [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_atomic_writes_get_the_mode_of_an_ordinary_open(tmp_path, umask, mask, expected):
    umask(mask)
    written = [io.write_text(tmp_path / "a.txt", "x"), io.write_json(tmp_path / "b.json", {}),
               io.torch_save({"x": 1}, tmp_path / "c.ckpt")]
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("x")
    assert stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode) == expected
    for path in written:
        assert stat.S_IMODE(os.stat(path).st_mode) == expected, path
    assert io.file_mode() == expected


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    io.write_text(tmp_path / "a.txt", "old")

    def boom(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        io._atomic(tmp_path / "a.txt", boom)
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
