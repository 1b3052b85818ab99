"""Batching, the cache, re-asking and the fallback: the LLM relabelling of one annotations file.

Utterances with a typed description are sent ``batch_size`` at a time, in file order. Items that
come back missing or invalid (:mod:`.repair`) are asked again, only those, at most
``max_reasks`` times; items still without a valid answer then fall back to the reference
distribution: their label file rows stay as they are. Every re-ask and fallback is counted and
listed. Every request goes through the cache (:mod:`.cache`), so a rerun sends nothing.
Ingesting a released output file (:func:`ingest`) validates its rows the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emobench.core.experiment import LOG
from emobench.corpora.relabel import cache as cache_keys
from emobench.corpora.relabel.cache import ResponseCache
from emobench.corpora.relabel.client import ChatClient
from emobench.corpora.relabel.inputs import Table
from emobench.corpora.relabel.prompt import Prompt, user_message
from emobench.corpora.relabel.repair import Tally, parse_answer, validate


@dataclass
class Outcome:
    """Adjusted (not smoothed) distributions of the accepted items, and what happened."""

    classes: list[str]
    adjusted: dict[str, np.ndarray] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    fallback: list[str] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    described: int = 0  # utterances with a typed description
    stats: dict[str, Any] = field(default_factory=dict)  # requests, cache hits, tokens

    def summary(self) -> dict[str, Any]:
        return {"with_description": self.described, "accepted": len(self.adjusted),
                "fallback": len(self.fallback), "fallback_ids": list(self.fallback),
                **self.stats, **self.tally.as_dict()}


def _described(table: Table, tally: Tally) -> list[int]:
    rows = []
    for i, words in enumerate(table.text):
        if words.strip():
            rows.append(i)
        else:
            tally.add("no_description")
    return rows


def relabel(table: Table, prompt: Prompt, client: ChatClient, cache: ResponseCache, *,
            batch_size: int, max_reasks: int, tolerance: float) -> Outcome:
    out = Outcome(list(table.classes))
    rows = _described(table, out.tally)
    out.described = len(rows)
    batches = [rows[s:s + batch_size] for s in range(0, len(rows), batch_size)]
    for number, batch in enumerate(batches):
        pending = batch
        for attempt in range(max_reasks + 1):
            if not pending:
                break
            where = f"batch {number} attempt {attempt}"
            for i in pending if attempt else ():
                out.tally.add("reasked", table.ids[i])
            user, replaced = user_message([(j, table.text[i], table.values[i])
                                           for j, i in enumerate(pending)])
            if attempt == 0 and replaced:
                out.tally.counts["separator_replaced"] += replaced
            system = prompt.render(table.classes, len(pending))
            body = client.body(system, user)
            k = cache_keys.key(body, attempt)
            content = cache.get(k)
            if content is None:
                content = client.complete(system, user)
                cache.put(k, body, content)
            answer = parse_answer(content, len(pending), out.tally, where)
            still = []
            for j, i in enumerate(pending):
                uid = table.ids[i]
                if j not in answer:
                    out.tally.add("missing_item", uid)
                    still.append(i)
                    continue
                dist, reason = validate(answer[j], table.classes, tolerance, out.tally, uid)
                if dist is None:
                    still.append(i)
                else:
                    out.adjusted[uid], out.reasons[uid] = dist, reason
            pending = still
        for i in pending:
            out.fallback.append(table.ids[i])
            out.tally.add("fallback", table.ids[i])
        LOG.info("relabel: batch %d/%d done (%d accepted so far, %d fallbacks)", number + 1,
                 len(batches), len(out.adjusted), len(out.fallback))
    out.stats = {"requests": client.requests, "cache_hits": cache.hits,
                 "cache_unreadable": list(cache.unreadable), "usage": dict(client.usage),
                 "batches": len(batches), "model": client.target.model}
    return out


def ingest(annotations: Table, output: Table, tolerance: float) -> Outcome:
    """A released output file through the same validation (rows: id, classes, reason)."""
    out = Outcome(list(annotations.classes))
    rows = _described(annotations, out.tally)
    out.described = len(rows)
    given = output.index()
    for i in rows:
        uid = annotations.ids[i]
        if uid not in given:
            out.tally.add("missing_item", uid)
        else:
            r = given[uid]
            item: dict[str, Any] = dict(zip(output.classes, output.values[r].tolist()))
            item["reason"] = output.text[r]
            dist, reason = validate(item, output.classes, tolerance, out.tally, uid)
            if dist is not None:
                out.adjusted[uid], out.reasons[uid] = dist, reason
                continue
        out.fallback.append(uid)
        out.tally.add("fallback", uid)
    described = {annotations.ids[i] for i in rows}
    for uid in output.ids:
        if uid not in described:  # a relabelled row for an utterance without description
            out.tally.add("output_without_description", uid)  # not applied
    out.stats = {"requests": 0, "source_csv": str(output.path), "rows_in_output": len(output.ids)}
    return out
