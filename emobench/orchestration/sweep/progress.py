"""The sweep's live one-line summary on the console: queued / running / done / failed, ETA.

On a terminal the line is rewritten in place (``\\r``); elsewhere (a log file, CI) a new line is
printed whenever a count changes. The ETA is the mean wall time per job finished in this
session (jobs running side by side included) times the jobs left (none before the first).
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Mapping


def counts(states: Mapping[str, str], handles: Mapping[str, Any]) -> dict[str, int]:
    """The engine's job states as queued / running / done / failed.

    >>> class H: job = object()
    >>> counts({"a": "waiting", "b": "submitted", "c": "skipped", "d": "blocked"}, {"b": H()})
    {'queued': 1, 'running': 1, 'done': 1, 'failed': 1}
    """
    out = {"queued": 0, "running": 0, "done": 0, "failed": 0}
    for key, state in states.items():
        if state == "submitted":
            started = getattr(handles.get(key), "job", True) is not None
            out["running" if started else "queued"] += 1
        elif state == "waiting":
            out["queued"] += 1
        elif state in ("done", "skipped"):
            out["done"] += 1
        else:  # failed, blocked
            out["failed"] += 1
    return out


def eta_text(seconds: float | None) -> str:
    """The ETA in words.

    >>> eta_text(None), eta_text(42), eta_text(3725)
    ('ETA ?', 'ETA 42s', 'ETA 1h02m')
    """
    if seconds is None:
        return "ETA ?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"ETA {seconds}s"
    if seconds < 3600:
        return f"ETA {seconds // 60}m{seconds % 60:02d}s"
    return f"ETA {seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Prints the summary line of a running sweep (call :meth:`update` after every poll)."""

    def __init__(self, name: str, stream: IO[str] | None = None):
        self.name = name
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.first_done: int | None = None
        self.last: tuple | None = None

    def line(self, now: dict[str, int]) -> str:
        if self.first_done is None:
            self.first_done = now["done"] + now["failed"]
        finished = now["done"] + now["failed"] - self.first_done
        left = now["queued"] + now["running"]
        eta = None
        if finished > 0:
            per_job = (time.monotonic() - self.start) / finished
            eta = per_job * left
        return (f"sweep {self.name}: {now['queued']} queued / {now['running']} running / "
                f"{now['done']} done / {now['failed']} failed; {eta_text(eta)}")

    def update(self, now: dict[str, int], final: bool = False) -> None:
        key = tuple(now.values())
        if key == self.last and not (self.tty or final):
            return
        self.last = key
        text = self.line(now)
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
