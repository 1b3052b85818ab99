"""Reading a checkpoint file safely, with one-line errors: every loader of the toolkit uses it.

``torch.load(weights_only=True)`` refuses a pickle that would run code, but its message is many
lines long and advises re-running with ``weights_only=False`` — exactly what must not be done
with a file from an unknown source. :func:`load_failure` turns any load error into one
:class:`~emobench.core.errors.UserError` line naming the file and why: it does not exist, it is
not a checkpoint (empty, truncated, another format), or it is an unsafe pickle that was refused
(naming the global it wanted). docs/robustness.md lists the cases.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from emobench.core.errors import UserError

_GLOBAL = re.compile(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL) ([\w.]+)", re.I)
_NOT_PICKLE = ("Unsupported operand", "invalid load key", "could not find MARK", "magic number")


class CheckpointFileError(UserError, ValueError):
    """A checkpoint file that cannot be read; the message is one line naming it."""


def reason(exc: BaseException) -> str:
    r"""Why ``torch.load(weights_only=True)`` failed, in a few words (never the advice to turn
    weights_only off).

    >>> reason(EOFError())
    'not a checkpoint (the file is empty or truncated)'
    >>> import pickle
    >>> reason(pickle.UnpicklingError("Weights only load failed. ...\n\nTrying to load "
    ...                               "unsupported GLOBAL posix.system whose module is blocked."))
    'unsafe pickle refused: it would call posix.system (only tensors and plain data are loaded)'
    >>> reason(pickle.UnpicklingError("Weights only load failed. Re-running with weights_only "
    ...     "set to False ...\nWeightsUnpickler error: \n\nUnsupported operand 110\n"))
    'not a checkpoint (Unsupported operand 110)'
    >>> reason(pickle.UnpicklingError("invalid load key, 'n'."))
    "not a checkpoint (invalid load key, 'n'.)"
    """
    text = str(exc)
    found = _GLOBAL.search(text)
    if found:
        return (f"unsafe pickle refused: it would call {found.group(1)} (only tensors and plain "
                "data are loaded)")
    if isinstance(exc, EOFError) or not text.strip():
        return "not a checkpoint (the file is empty or truncated)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "Weights only load failed" in text:  # drop torch's advice; keep what it found
        lines = [line.replace("Please file an issue with the following so that we can make "
                              "`weights_only=True` compatible with your use case: ", "")
                 for line in lines[1:] if not line.startswith("Check the documentation")]
        lines = [line for line in lines if line and line != "WeightsUnpickler error:"]
        if not any(marker in text for marker in _NOT_PICKLE):
            return ("unsafe pickle refused: it holds objects other than tensors and plain data"
                    + (f" ({lines[0][:150]})" if lines else ""))
    first = lines[0][:200] if lines else type(exc).__name__
    return f"not a checkpoint ({first})"


def load_failure(path: str | Path, exc: BaseException, what: str = "checkpoint") -> UserError:
    """The one-line error for ``exc`` raised while loading ``path``."""
    return CheckpointFileError(f"{path}: cannot load this {what}: {reason(exc)}")


def load(path: str | Path, what: str = "checkpoint", map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; any failure is one line naming the file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointFileError(f"{path}: {what} does not exist or is not a file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch.load raises many types on a file it cannot read
        raise load_failure(path, exc, what) from None
