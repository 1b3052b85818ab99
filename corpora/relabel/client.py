"""A minimal OpenAI-compatible chat-completions client over the standard library (``urllib``).

``POST <base_url>/chat/completions`` with the paper's parameters (Listing 1: temperature 0,
seed 7, JSON mode), a system message (the prompt) and a user message (the batch). Works with
hosted APIs and with local servers that speak the same protocol (vLLM, llama.cpp's
``llama-server``). The HTTP answer is data: it is parsed with :func:`json.loads` and only the
message text is taken from it.

Network errors, timeouts, HTTP 429 and 5xx are retried ``max_retries`` times with exponential
backoff (the server's ``Retry-After`` seconds when it sends them); other HTTP errors (401 bad key,
404 wrong model or URL, 400 ...) stop at once with a clear :class:`RelabelClientError`.
Requests are spaced by ``60 / requests_per_minute`` seconds when a rate is set.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from emobench.core.errors import UserError
from emobench.corpora.relabel.config import ClientConfig

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = (408, 409, 429, 500, 502, 503, 504)


class RelabelClientError(UserError):
    """The endpoint refused or kept failing; the message says which URL and why."""


@dataclass
class Endpoint:
    url: str  # the full chat-completions URL
    model: str
    api_key: str | None


def endpoint(config: ClientConfig, env: dict[str, str] | None = None) -> Endpoint:
    """Base URL, model and key from the config, else from the environment.

    >>> e = endpoint(ClientConfig(base_url="http://127.0.0.1:8000/v1/", model="m"), env={})
    >>> e.url, e.model, e.api_key
    ('http://127.0.0.1:8000/v1/chat/completions', 'm', None)
    """
    env = os.environ if env is None else env
    base = config.base_url or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    model = config.model or env.get("OPENAI_MODEL")
    if not model:
        raise UserError("relabel: no model named: set client.model in the relabel config or "
                        "OPENAI_MODEL in the environment")
    if not base.startswith(("http://", "https://")):
        raise UserError(f"relabel: client.base_url {base!r} is not an http(s) URL")
    return Endpoint(base.rstrip("/") + "/chat/completions", model,
                    config.api_key or env.get(config.api_key_env) or None)


@dataclass
class ChatClient:
    config: ClientConfig
    target: Endpoint
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    requests: int = 0  # HTTP requests sent (retries included)
    usage: dict[str, int] = field(default_factory=lambda: {"prompt_tokens": 0,
                                                           "completion_tokens": 0})
    _last: float | None = None

    def body(self, system: str, user: str) -> dict[str, Any]:
        c = self.config
        body: dict[str, Any] = {"model": self.target.model, "temperature": c.temperature,
                                "messages": [{"role": "system", "content": system},
                                             {"role": "user", "content": user}]}
        if c.seed is not None:
            body["seed"] = c.seed
        if c.json_mode:
            body["response_format"] = {"type": "json_object"}
        if c.max_tokens is not None:
            body["max_tokens"] = c.max_tokens
        return body

    def _wait_for_rate(self) -> None:
        if self.config.requests_per_minute <= 0 or self._last is None:
            return
        gap = 60.0 / self.config.requests_per_minute - (self.clock() - self._last)
        if gap > 0:
            self.sleep(gap)

    def _post(self, data: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"}
        if self.target.api_key:
            headers["Authorization"] = f"Bearer {self.target.api_key}"
        request = urllib.request.Request(self.target.url, data=data, headers=headers,
                                         method="POST")
        self._wait_for_rate()
        self._last = self.clock()
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers or {}), exc.read() or b""

    def _backoff(self, attempt: int, headers: dict[str, str]) -> float:
        retry_after = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        try:
            wait = float(retry_after) if retry_after is not None else None
        except ValueError:
            wait = None
        if wait is None:
            wait = self.config.backoff_s * 2 ** attempt
        return min(max(wait, 0.0), self.config.max_backoff_s)

    def complete(self, system: str, user: str) -> str:
        """The answer's message text (``choices[0].message.content``)."""
        data = json.dumps(self.body(system, user)).encode("utf-8")
        last = ""
        for attempt in range(self.config.max_retries + 1):
            headers: dict[str, str] = {}
            try:
                status, headers, raw = self._post(data)
            except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
                status, raw, last = 0, b"", f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            if status == 200:
                return self._content(raw)
            if status:
                last = f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}"
                if status not in RETRY_STATUS:
                    raise RelabelClientError(f"{self.target.url} (model {self.target.model}) "
                                             f"refused the request: {last}")
            if attempt < self.config.max_retries:
                self.sleep(self._backoff(attempt, headers))
        raise RelabelClientError(f"{self.target.url} (model {self.target.model}) failed "
                                 f"{self.config.max_retries + 1} times; last: {last}")

    def _content(self, raw: bytes) -> str:
        try:
            answer = json.loads(raw.decode("utf-8"))
            content = answer["choices"][0]["message"]["content"]
        except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError):
            return ""  # not a chat-completions answer: the batch's items count as missing
        usage = answer.get("usage") if isinstance(answer, dict) else None
        if isinstance(usage, dict):
            for key in self.usage:
                if isinstance(usage.get(key), int):
                    self.usage[key] += usage[key]
        return content if isinstance(content, str) else ""
