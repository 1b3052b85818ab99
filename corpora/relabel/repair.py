"""Strict parsing of a model's answer and validation of every returned distribution.

An answer must be JSON (``json.loads``; never evaluated). Accepted shapes, since the paper's
prompt asks only for "the JSON format with index": an object keyed by the items' indices
(``{"0": {...}, "1": {...}}``), a list of objects with an ``index`` field, either of them as the
single value of a wrapping object (``{"results": [...]}``), or, for a batch of one, the item itself.
A Markdown code fence around the JSON is removed (counted).

An item is accepted when it has exactly the label folder's classes (keys compared without case,
surrounding spaces and quotes/punctuation: the prompt writes ``'angry,'``), every value a finite
non-negative number, and a sum within ``tolerance`` of 1; it is then renormalised to sum to 1.
Anything else rejects the item with a reason (it is asked again, then falls back to the
reference distribution: :mod:`.engine`). Every repair and rejection is counted in a
:class:`Tally`, with the utterances it concerns.

>>> tally = Tally()
>>> dist, reason = validate({"a": 0.6, "B": 0.6, "reason": "r"}, ["a", "b"], 0.05, tally, "u1")
>>> dist, tally.counts["rejected:sum_out_of_tolerance"]
(None, 1)
>>> dist, reason = validate({"a": 0.5, "b": 0.52, "reason": "r"}, ["a", "b"], 0.05, tally, "u2")
>>> dist.round(4).tolist(), tally.listed["renormalised"]
([0.4902, 0.5098], ['u2'])
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

IGNORED_KEYS = ("index", "id", "reason")
_FENCE = re.compile(r"^\s*```[A-Za-z]*\s*\n(.*)\n\s*```\s*$", re.DOTALL)


@dataclass
class Tally:
    """Counts of every repair and rejection, with the ids (or batches) each concerns."""

    counts: Counter = field(default_factory=Counter)
    listed: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, what: str | None = None) -> None:
        self.counts[kind] += 1
        if what is not None:
            self.listed.setdefault(kind, []).append(what)

    def as_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())),
                "listed": {k: v for k, v in sorted(self.listed.items())}}


def _index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _indexed(obj: Any, tally: Tally, where: str) -> dict[int, Any] | None:
    if isinstance(obj, list):
        out: dict[int, Any] = {}
        for item in obj:
            i = _index(item.get("index", item.get("id"))) if isinstance(item, dict) else None
            if i is None:
                tally.add("item_without_index", where)
            elif i in out:
                tally.add("duplicate_index", f"{where} index {i}")
            else:
                out[i] = item
        return out
    if isinstance(obj, dict) and obj and all(_index(k) is not None for k in obj):
        return {_index(k): v for k, v in obj.items()}
    return None


def parse_answer(text: str, batch_size: int, tally: Tally, where: str) -> dict[int, Any]:
    """Items of the answer by their index in the batch (empty when the answer is unusable)."""
    fenced = _FENCE.match(text or "")
    if fenced:
        tally.add("code_fence_removed", where)
        text = fenced.group(1)
    try:
        obj = json.loads(text)
    except (ValueError, TypeError):
        tally.add("malformed_answer", where)
        return {}
    items = _indexed(obj, tally, where)
    if items is None and isinstance(obj, dict) and len(obj) == 1:
        items = _indexed(next(iter(obj.values())), tally, where)
    if items is None and isinstance(obj, dict) and batch_size == 1 and "reason" in {
            str(k).strip().lower() for k in obj}:
        items = {0: obj}
    if items is None:
        tally.add("malformed_answer", where)
        return {}
    for i in sorted(i for i in items if not 0 <= i < batch_size):
        tally.add("unknown_index", f"{where} index {i}")
        del items[i]
    return items


def _key(raw: Any) -> str:
    return str(raw).strip().strip("'\".,:; ").lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def validate(item: Any, classes: Sequence[str], tolerance: float, tally: Tally,
             uid: str) -> tuple[np.ndarray | None, str]:
    """The renormalised distribution (None when rejected) and the item's reason text."""
    def reject(kind: str, detail: str) -> tuple[None, str]:
        tally.add(f"rejected:{kind}", f"{uid}: {detail}")
        return None, ""

    if not isinstance(item, dict):
        return reject("not_an_object", f"{item!r:.80}")
    lower = {c.lower(): c for c in classes}
    values: dict[str, Any] = {}
    reason = ""
    for raw, value in item.items():
        k = _key(raw)
        if k == "reason":
            reason = value if isinstance(value, str) else json.dumps(value)
        elif k in IGNORED_KEYS:
            continue
        elif k in lower:
            if str(raw) != lower[k]:
                tally.add("key_normalised", f"{uid}: {raw!r}")
            values[lower[k]] = value
        else:
            return reject("unknown_class", f"{raw!r} is not one of {list(classes)}")
    missing = [c for c in classes if c not in values]
    if missing:
        return reject("missing_class", f"no value for {missing}")
    numbers = []
    for c in classes:
        number = _number(values[c])
        if number is None:
            return reject("not_a_number", f"{c}={values[c]!r}")
        if isinstance(values[c], str):
            tally.add("number_as_text", f"{uid}: {c}={values[c]!r}")
        if not math.isfinite(number):
            return reject("nan", f"{c}={values[c]!r}")
        if number < 0:
            return reject("negative", f"{c}={number}")
        numbers.append(number)
    dist = np.array(numbers, dtype=np.float64)
    total = float(dist.sum())
    if abs(total - 1.0) > tolerance or total <= 0:
        return reject("sum_out_of_tolerance", f"sum {total:.6g} (tolerance {tolerance})")
    if abs(total - 1.0) > 1e-9:
        tally.add("renormalised", uid)
    return dist / total, reason
