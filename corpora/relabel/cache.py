"""The response cache: one JSON file per request, keyed by the sha256 of what was asked.

The key covers the whole request body (system prompt, user message with the batch, model,
temperature, seed, JSON mode, max_tokens) and the attempt number (a re-ask of the same items is
a different request), so a rerun replays every answer from disk: no request, the same labels.
Files are written atomically; one that cannot be read is reported and asked again.

>>> key({"model": "m", "messages": []}, 0) == key({"messages": [], "model": "m"}, 0)
True
>>> key({"model": "m"}, 0) == key({"model": "m"}, 1)
False
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from emobench.core import io
from emobench.core.experiment import LOG


def key(body: dict[str, Any], attempt: int) -> str:
    text = json.dumps({"request": body, "attempt": attempt}, sort_keys=True, ensure_ascii=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """``<folder>/<key[:2]>/<key>.json`` holding the request body and the answer's text."""

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder else None
        self.hits = 0
        self.unreadable: list[str] = []

    def _path(self, k: str) -> Path:
        assert self.folder is not None
        return self.folder / k[:2] / f"{k}.json"

    def get(self, k: str) -> str | None:
        if self.folder is None:
            return None
        path = self._path(k)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            content = record["content"]
            if not isinstance(content, str):
                raise TypeError("content is not text")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            LOG.warning("relabel cache: %s is unreadable (%s); asking again", path, exc)
            self.unreadable.append(str(path))
            return None
        self.hits += 1
        return content

    def put(self, k: str, body: dict[str, Any], content: str) -> None:
        if self.folder is not None:
            io.write_json(self._path(k), {"request": body, "content": content})
