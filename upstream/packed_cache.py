"""Packed pooled-cache entries: the utterances of a split read in one file, not one file each.

:class:`upstream.cache.PooledCache` extracts into one file per utterance (``items/<aa>/<key>.pt``,
atomic and resumable per utterance). Reading a split that way costs one ``torch.load`` per
utterance (1,285 for a warm EmoDB run). Here the entries a run reads are packed once into
``packs/<name>.pt`` (a dict: one stacked ``(n, L, D)`` tensor per statistic in the cache's
dtype, ``frames``; packs of the first version also held the keys) plus ``packs/<name>.json``
(its keys, in row order; ``<name>`` is their hash), the JSON written last: a pack
counts only once its JSON exists, and both are written atomically (emobench.core.io), so a
killed packing leaves at most an unlisted ``.pt`` that the next run rewrites. Packs are read
memory-mapped and only the requested rows are copied.

Old caches stay readable and migrate by themselves: :func:`load_statistics` packs the requested
entries that no pack holds yet (from their per-utterance files, which are kept: they remain the
unit of extraction, resuming and sharding), then reads everything from packs. A pack that cannot
be read is reported and its utterances are read from their per-utterance files instead.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import torch

from emobench.core import io
from emobench.core.errors import UserError
from emobench.core.experiment import LOG
from emobench.upstream.cache import PooledCache

PACKS = "packs"
VERSION = 1


def pack_name(keys: Sequence[str]) -> str:
    """A pack's file stem: the hash of its keys, in order (the same keys give the same pack).

    >>> pack_name(["a", "b"]) == pack_name(["a", "b"]) != pack_name(["b", "a"])
    True
    """
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:20]


def write_pack(folder: Path, keys: Sequence[str], stats: Mapping[str, torch.Tensor],
               frames: torch.Tensor) -> Path:
    """Write one pack of ``keys`` (``stats[name]``: ``(n, ...)`` rows in the keys' order)."""
    keys = list(keys)
    if len(set(keys)) != len(keys) or any(len(v) != len(keys) for v in stats.values()):
        raise ValueError("a pack needs distinct keys and one row per key in every statistic")
    path = Path(folder) / PACKS / f"{pack_name(keys)}.pt"
    io.torch_save({**{k: v.contiguous() for k, v in stats.items()}, "frames": frames.long()},
                  path)  # the keys only in the JSON (the file name is their hash)
    io.write_json(path.with_suffix(".json"), {"keys": keys, "version": VERSION})
    return path


def read_index(folder: Path) -> dict[str, tuple[Path, int]]:
    """Every packed key -> (its pack, its row); packs without their JSON are not listed."""
    index: dict[str, tuple[Path, int]] = {}
    for listing in sorted((Path(folder) / PACKS).glob("*.json")):
        pack = listing.with_suffix(".pt")
        try:
            keys = json.loads(listing.read_text())["keys"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            LOG.warning("%s: unreadable pack listing (%s): not used", listing, exc)
            continue
        if not pack.is_file():
            LOG.warning("%s: its pack %s is missing: not used", listing, pack.name)
            continue
        for row, key in enumerate(keys):
            index.setdefault(key, (pack, row))
    return index


def read_packed(keys: Sequence[str], names: Sequence[str], index: Mapping[str, tuple[Path, int]]
                ) -> dict[str, torch.Tensor]:
    """``{name: (N, ...) float32}`` of ``keys`` (all in ``index``), one read per pack."""
    by_pack: dict[Path, list[tuple[int, int]]] = defaultdict(list)
    for position, key in enumerate(keys):
        pack, row = index[key]
        by_pack[pack].append((position, row))
    out: dict[str, torch.Tensor] = {}
    buffers: dict[tuple, torch.Tensor] = {}  # reused across packs: no page faults per pack
    for pack, pairs in by_pack.items():
        data = torch.load(pack, map_location="cpu", weights_only=True, mmap=True)
        positions = torch.tensor([p for p, _ in pairs])
        rows = torch.tensor([r for _, r in pairs])
        first, count = int(positions[0]), len(pairs)
        runs = (bool((positions == torch.arange(first, first + count)).all())
                and bool((rows == torch.arange(int(rows[0]), int(rows[0]) + count)).all()))
        for name in names:
            if name not in out:
                out[name] = torch.empty((len(keys), *data[name].shape[1:]), dtype=torch.float32)
            if runs:  # the pack's rows in its order (a split read as packed): one copy
                out[name][first:first + count].copy_(data[name][int(rows[0]):int(rows[0]) + count])
            else:  # gathered in the pack's row order (sequential reads of the mapped file)
                rows_sorted, order = rows.sort()
                source = buffer(buffers, data[name], count)
                torch.index_select(data[name], 0, rows_sorted, out=source)
                converted = buffer(buffers, out[name], count)
                out[name].index_copy_(0, positions[order], converted.copy_(source))
        del data
    return out


def buffer(buffers: dict[tuple, torch.Tensor], like: torch.Tensor, rows: int) -> torch.Tensor:
    """A reusable ``(rows, *like.shape[1:])`` tensor of ``like``'s dtype (grown when needed)."""
    key = (like.dtype, tuple(like.shape[1:]))
    if key not in buffers or len(buffers[key]) < rows:
        buffers[key] = torch.empty((rows, *like.shape[1:]), dtype=like.dtype)
    return buffers[key][:rows]


def pack_loose(cache: PooledCache, keys: Sequence[str], index: Mapping[str, tuple[Path, int]]
               ) -> int:
    """Pack the ``keys`` that no pack holds, from their per-utterance files; how many."""
    loose = [k for k in dict.fromkeys(keys) if k not in index]
    if not loose:
        return 0
    missing = cache.missing(loose)
    if missing:
        raise UserError(f"feature cache {cache.folder} lacks {len(missing)} utterances "
                        "(run -m extract, or train, which extracts what is missing)")
    entries = [torch.load(cache.entry(k), map_location="cpu", weights_only=True) for k in loose]
    names = [n for n in entries[0] if n != "frames"]
    write_pack(cache.folder, loose, {n: torch.stack([e[n] for e in entries]) for n in names},
               torch.tensor([int(e["frames"]) for e in entries]))
    return len(loose)


def load_statistics(cache: PooledCache, keys: Sequence[str], names: Sequence[str]
                    ) -> dict[str, torch.Tensor]:
    """``{name: (N, L, D) float32}`` of ``keys`` in order: packs first (packing what is loose).

    The same values as ``cache.load(keys, name)`` for every name (tests/test_packed_cache.py).
    """
    index = read_index(cache.folder)
    if pack_loose(cache, keys, index):
        index = read_index(cache.folder)
    try:
        return read_packed(keys, names, index)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # a damaged pack
        LOG.warning("feature cache %s: a pack could not be read (%s): reading per-utterance "
                    "files", cache.folder, exc)
        return {name: cache.load(keys, name) for name in names}
