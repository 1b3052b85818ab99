"""Typed configuration of a relabelling (``-m relabel -c configs/relabel/<name>.yaml``).

>>> from emobench.core.config import resolve
>>> cfg = resolve(RelabelConfig, {"client": {"model": "m"}}, "batch_size=10")
>>> cfg.batch_size, cfg.client.model, cfg.splits
(10, 'm', ['train', 'dev'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from emobench.core.config import path_field

DEFAULT_PROMPT = "relabel/emo_superb_prompt.txt"  # under the toolkit's configs/ folder


@dataclass
class ClientConfig:
    """An OpenAI-compatible chat-completions endpoint (hosted, vLLM, llama.cpp server ...).

    ``base_url``, ``model`` and the key come from here or, when null, from the environment:
    ``OPENAI_BASE_URL`` (default https://api.openai.com/v1), ``OPENAI_MODEL``, and the variable
    named by ``api_key_env`` (default ``OPENAI_API_KEY``; none: no Authorization header). The key
    is never written to the report or the cache.
    """

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    api_key: str | None = None  # prefer the environment: a key in a file is easily shared
    timeout_s: float = 120.0  # one request
    max_retries: int = 5  # network errors, timeouts, HTTP 429 and 5xx
    backoff_s: float = 2.0  # wait backoff_s * 2**attempt (or the server's Retry-After)
    max_backoff_s: float = 60.0
    requests_per_minute: float = 0.0  # 0: no limit
    temperature: float = 0.0  # the paper: temperature 0, seed 7, JSON mode
    seed: int | None = 7
    json_mode: bool = True  # response_format {"type": "json_object"}
    max_tokens: int | None = None


@dataclass
class RelabelConfig:
    source: Literal["llm", "ingest"] = "llm"  # ask a model, or ingest a released output CSV
    annotations: str | None = path_field(None)  # raw annotations: id, classes..., words
    label_dir: str | None = path_field(None)  # the EMO-SUPERB condition folder to relabel
    output_dir: str | None = path_field(None)  # default: <label_dir>_relabelled
    ingest_csv: str | None = path_field(None)  # source=ingest: id, classes..., reason
    prompt: str | None = path_field(None)  # default: configs/relabel/emo_superb_prompt.txt
    cache_dir: str | None = path_field("results/relabel/cache")
    batch_size: int = 30  # items per request (the paper's prompt: 30)
    max_reasks: int = 2  # missing or invalid items are asked again at most this often
    sum_tolerance: float = 0.05  # |sum - 1| up to this is renormalised, beyond it re-asked
    reference_tolerance: float = 1e-3  # annotations vs label file check (reported, not fatal)
    splits: list[str] = field(default_factory=lambda: ["train", "dev"])  # rows that may change
    smoothing: Literal["emo_superb", "none"] = "emo_superb"  # 0.95 p + 0.05 (1 - p)/(C - 1)
    figure_examples: int = 4  # utterances in the Fig. 5-like figure
    client: ClientConfig = field(default_factory=ClientConfig)
