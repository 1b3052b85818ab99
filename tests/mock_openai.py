"""A local OpenAI-compatible chat-completions server for the relabelling tests (127.0.0.1 only).

It answers every item of the user message (``<index>: <words>#<reference>`` separated by ``|``)
with ``0.8 * reference + 0.2 * onehot(last class)`` and misbehaves on trigger words, so each
kind of bad answer is produced on purpose:

- ``DROPME``: the item is left out of the first answer it is in
- ``SUM13``: the first answer gives it a distribution summing to 1.3
- ``UNKNOWNCLASS``: the first answer adds a class ``joy``
- ``Garbled``: the first answer to its batch is not JSON
- ``ALWAYSBAD``: every answer gives it a sum of 1.3
- ``NANVALUE``: the first answer gives it a NaN (JSON's non-standard ``NaN`` literal)
- ``EXTRAINDEX``: every answer also holds an item with index 99, not in the batch
- ``script``: a list of (status, headers) to send before answering normally (429, 500, 401 ...)
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLASSES = ["angry", "sad", "disgust", "contempt", "fear", "neutral", "surprise", "happy"]


class MockServer:
    def __init__(self, classes=CLASSES):
        self.classes = list(classes)
        self.bodies: list[dict] = []  # every request body received
        self.seen: Counter = Counter()  # trigger word -> answers given so far
        self.script: list[tuple[int, dict]] = []
        self.delay_first_s = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                server.bodies.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                      **body})
                if server.delay_first_s and len(server.bodies) == 1:
                    time.sleep(server.delay_first_s)
                if server.script:
                    status, headers = server.script.pop(0)
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "scripted"}}')
                    return
                content = server.answer(body["messages"][1]["content"])
                raw = json.dumps({"choices": [{"message": {"role": "assistant",
                                                           "content": content}}],
                                  "usage": {"prompt_tokens": 100, "completion_tokens": 50}})
                data = raw.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left (the timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _first(self, word: str) -> bool:
        self.seen[word] += 1
        return self.seen[word] == 1

    def answer(self, user: str) -> str:
        items = {}
        for part in user.split(" | "):
            head, _, reference = part.rpartition("#")
            index, _, words = head.partition(": ")
            ref = [float(x) for x in reference.split(",")]
            items[int(index)] = (words, ref)
        if any("Garbled" in w for w, _ in items.values()) and self._first("Garbled"):
            return "Sure! Here are the labels: {'0': {'angry': 0.1"  # not JSON
        out = {}
        for index, (words, ref) in items.items():
            if "DROPME" in words and self._first("DROPME"):
                continue
            dist = [0.8 * r for r in ref]
            dist[-1] += 0.2
            item = dict(zip(self.classes, dist))
            if ("SUM13" in words and self._first("SUM13")) or "ALWAYSBAD" in words:
                item = dict(zip(self.classes, [1.3 * v for v in dist]))
            if "UNKNOWNCLASS" in words and self._first("UNKNOWNCLASS"):
                item = {**dict(zip(self.classes, [0.9 * v for v in dist])), "joy": 0.1}
            if "NANVALUE" in words and self._first("NANVALUE"):
                item = {**item, "fear": float("nan")}
            if "EXTRAINDEX" in words:
                out["99"] = {**item, "reason": "an index the batch does not have"}
            out[str(index)] = {**item, "reason": f"mock reason for {words}"}
        return json.dumps(out)
