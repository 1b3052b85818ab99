"""The base classes of errors caused by user input (bad config, label file, audio, name).

The command line prints these as one clear message without a traceback.
"""

from __future__ import annotations

from pathlib import Path

MAX_LISTED = 20


class UserError(Exception):
    """An error the user can fix; its message names the file or key and the problem."""


class LabelFileError(UserError, ValueError):
    """Problems in a label file or its audio; the message lists them with file and line."""

    def __init__(self, source: Path, problems: list[str]):
        self.source, self.problems = source, problems
        listed = "\n".join(f"  {p}" for p in problems[:MAX_LISTED])
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        super().__init__(f"{source}: {len(problems)} problem(s)\n{listed}{more}")
