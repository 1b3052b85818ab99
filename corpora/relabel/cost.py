"""Token and cost estimate of a relabelling, before any request is sent.

Tokens are approximated as characters / 4 (OpenAI's rule of thumb for English text; a real
tokenizer gives other counts, especially for numbers, so treat the result as +- 30 %). Per
request of n items the input is the system prompt plus the user message, and the output is n
answer items; an answer item is taken as the JSON of one item with two-decimal values and a
reason of ``reason_chars`` characters (the prompt asks for 15 to 20 words)::

    requests   = ceil(N / n)
    input      = requests * T(system prompt) + sum over items of T(item in the user message)
    output     = N * T(answer item)
    cost       = input / 1e6 * price_in + output / 1e6 * price_out   (prices per 1M tokens)

Re-asks come on top; the run's ``relabel_report.json`` has the real token usage the server
reported.

>>> est = estimate(1000, system_chars=2000, item_chars=60, batch_size=30,
...                classes=["a", "b"], price_in=10.0, price_out=30.0)
>>> est["requests"], est["input_tokens"], est["output_tokens"]
(34, 32000, 44000)
>>> round(est["cost"], 2)
1.64
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

CHARS_PER_TOKEN = 4.0


def tokens(chars: float) -> int:
    return int(math.ceil(chars / CHARS_PER_TOKEN))


def answer_item_chars(classes: Sequence[str], reason_chars: int = 130) -> int:
    """Characters of one answer item, e.g. ``"12": {"angry": 0.05, ..., "reason": "..."}, ``."""
    item = {"12": {**{c: 0.05 for c in classes}, "reason": "x" * reason_chars}}
    return len(json.dumps(item)) + 2


def estimate(n_items: int, *, system_chars: int, item_chars: float, batch_size: int,
             classes: Sequence[str], price_in: float, price_out: float,
             reason_chars: int = 130) -> dict[str, Any]:
    """Requests, tokens and cost of relabelling ``n_items`` utterances (prices per 1M tokens).
    ``item_chars``: the mean length of one item in the user message, separator included."""
    requests = math.ceil(n_items / batch_size)
    input_tokens = requests * tokens(system_chars) + tokens(n_items * item_chars)
    output_tokens = n_items * tokens(answer_item_chars(classes, reason_chars))
    return {"requests": requests, "input_tokens": input_tokens, "output_tokens": output_tokens,
            "cost": input_tokens / 1e6 * price_in + output_tokens / 1e6 * price_out}
