"""Packed cache reads: the same statistics as per-utterance reads, old caches migrate, a damaged
or half-written pack is never trusted."""

from __future__ import annotations

import hashlib

import pytest
import torch

from emobench.core import io
from emobench.core.errors import UserError
from emobench.upstream.cache import CacheSpec, PooledCache
from emobench.upstream.packed_cache import (PACKS, load_statistics, read_index, read_packed,
                                            write_pack)

SPEC = CacheSpec("wavlm_large", "a" * 64, False, False, 16_000, 10.0, 0.0, 1.0)


def old_cache(root, count: int = 12, dtype=torch.float32) -> tuple[PooledCache, list[str]]:
    """A cache of per-utterance entries, as extraction writes them."""
    cache = PooledCache(root, SPEC)
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(count)]
    generator = torch.Generator().manual_seed(0)
    for i, key in enumerate(keys):
        io.torch_save({"mean": torch.randn(3, 5, generator=generator).to(dtype),
                       "square": torch.rand(3, 5, generator=generator).to(dtype),
                       "frames": 10 + i}, cache.entry(key))
    return cache, keys


def test_packed_reads_equal_per_utterance_reads_and_old_caches_migrate(tmp_path):
    cache, keys = old_cache(tmp_path)
    train, dev = keys[:8][::-1], keys[8:]
    stats = load_statistics(cache, train, ["mean", "square"])
    assert all(torch.equal(stats[n], cache.load(train, n)) for n in ("mean", "square"))
    assert len(read_index(cache.folder)) == 8  # the split's entries, packed once
    assert len(list((cache.folder / PACKS).glob("*.pt"))) == 1
    again = load_statistics(cache, keys, ["mean"])  # dev packed now, train read from its pack
    assert torch.equal(again["mean"], cache.load(keys, "mean"))
    assert len(list((cache.folder / PACKS).glob("*.pt"))) == 2
    assert torch.equal(load_statistics(cache, dev, ["mean"])["mean"], cache.load(dev, "mean"))
    assert len(list((cache.folder / PACKS).glob("*.pt"))) == 2  # nothing new to pack


def test_float16_entries_read_as_float32(tmp_path):
    cache, keys = old_cache(tmp_path, dtype=torch.float16)
    stats = load_statistics(cache, keys, ["mean"])
    assert stats["mean"].dtype == torch.float32
    assert torch.equal(stats["mean"], cache.load(keys, "mean"))


def test_missing_entries_are_an_error_naming_the_cache(tmp_path):
    cache, keys = old_cache(tmp_path, count=3)
    with pytest.raises(UserError, match="lacks 1 utterances"):
        load_statistics(cache, keys + ["f" * 64], ["mean"])


def test_a_pack_without_its_listing_is_not_used_and_a_damaged_one_falls_back(tmp_path):
    cache, keys = old_cache(tmp_path, count=4)
    pack = write_pack(cache.folder, keys, {"mean": torch.zeros(4, 3, 5)}, torch.ones(4))
    pack.with_suffix(".json").unlink()  # killed between the two writes: an unlisted pack
    assert read_index(cache.folder) == {}
    stats = load_statistics(cache, keys, ["mean"])  # packs again, from the entries
    assert torch.equal(stats["mean"], cache.load(keys, "mean"))
    pack.write_bytes(b"damaged")  # the same name: its listing now exists
    stats = load_statistics(cache, keys, ["mean"])  # reported, read per utterance
    assert torch.equal(stats["mean"], cache.load(keys, "mean"))


def test_write_pack_refuses_duplicate_keys_and_short_rows(tmp_path):
    with pytest.raises(ValueError):
        write_pack(tmp_path, ["a", "a"], {"mean": torch.zeros(2, 1)}, torch.ones(2))
    with pytest.raises(ValueError):
        write_pack(tmp_path, ["a", "b"], {"mean": torch.zeros(1, 1)}, torch.ones(2))
    write_pack(tmp_path, ["a", "b"], {"mean": torch.arange(2.0)[:, None]}, torch.ones(2))
    index = read_index(tmp_path)
    assert read_packed(["b", "a"], ["mean"], index)["mean"].flatten().tolist() == [1.0, 0.0]
