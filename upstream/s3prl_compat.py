"""Small, local adapters between s3prl 0.4.18 and torch / torchaudio 2.11.

- ``import s3prl.hub`` imports every upstream and fails under torchaudio >= 2.9; we import one
  ``s3prl.upstream.<pkg>.hubconf`` at a time (:func:`hubconf`), so one broken upstream breaks
  only itself.
- torch.load defaults to ``weights_only=True``; real s3prl checkpoints pickle
  ``argparse.Namespace``. :func:`trusted_checkpoints` allow-lists exactly the classes such
  checkpoints need, for the duration of one loader call, instead of turning weights_only off.
- Without ``-k``, s3prl downloads the published weights; offline, :func:`fetch` turns the
  download library's exception into a message explaining how to pass a local checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import torch

from emobench.core.errors import UserError
from emobench.core.io import sha256_file

TRUSTED_CLASSES: list[Any] = [argparse.Namespace]


class UpstreamUnavailable(UserError):
    """An upstream that cannot be loaded here (missing dependency, weights not reachable)."""


def hubconf(package: str) -> ModuleType:
    """``s3prl.upstream.<package>.hubconf``, imported alone."""
    try:
        return importlib.import_module(f"s3prl.upstream.{package}.hubconf")
    except Exception as exc:  # any import-time failure of that one upstream
        raise UpstreamUnavailable(f"s3prl upstream package {package!r} cannot be imported "
                                  f"here: {type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def trusted_checkpoints(*extra: Any) -> Iterator[None]:
    """Let ``torch.load(weights_only=True)`` accept the classes trusted s3prl checkpoints pickle."""
    with torch.serialization.safe_globals([*TRUSTED_CLASSES, *extra]):
        yield


def fetch(name: str, download: Callable[[], Any]) -> Any:
    """Run s3prl's downloading loader; explain what to do when the weights cannot be fetched."""
    try:
        with trusted_checkpoints():
            return download()
    except Exception as exc:
        if not isinstance(exc, (OSError, ConnectionError, TimeoutError)) \
                and not _is_network_error(exc):
            raise
        raise UpstreamUnavailable(offline_hint(name, exc)) from None


def offline_hint(name: str, exc: BaseException) -> str:
    """One paragraph: the file s3prl wanted, where from, and where to put it.

    >>> offline_hint("apc_960hr", OSError("no network"))[:60]
    "cannot fetch the published weights of upstream 'apc_960hr' ("
    """
    text = str(exc)
    found = re.search(r"host='([^']+)'.*?url: (/\S+?)\s*\(", text, re.S)
    url = f"https://{found.group(1)}{found.group(2)}" if found else None
    url = url or next(iter(re.findall(r"https?://[^\s'\")]+", text)), None)
    why = f"{found.group(1)} not reachable" if found else (text.splitlines() or [""])[0][:120]
    head = f"cannot fetch the published weights of upstream {name!r} ({type(exc).__name__}: {why})."
    if url is None:
        return (f"{head} On a machine with network access, download the checkpoint, then pass "
                "it with -k PATH (s3prl caches downloads under ~/.cache/s3prl/download).")
    cached = download_dir() / f"{hashlib.sha256(url.encode()).hexdigest()}.{Path(url).name}"
    return (f"{head} The file it needs is {Path(url).name}: download {url} on a machine with "
            f"network access, then either put it at {cached} (where s3prl looks for it, so "
            f"-u {name} works as is) or pass it with -k PATH.")


def download_dir() -> Path:
    """The folder s3prl downloads into (``~/.cache/s3prl/download`` unless set otherwise)."""
    try:
        from s3prl.util.download import get_dir
    except ImportError:  # pragma: no cover - s3prl is a dependency
        return Path.home() / ".cache" / "s3prl" / "download"
    return Path(get_dir())


def _is_network_error(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:  # pragma: no cover - requests comes with s3prl
        return False
    return isinstance(exc, requests.exceptions.RequestException)


def local_checkpoint(path: str) -> tuple[Path, str]:
    """The checkpoint file given with -k and its sha256; a clear error if it is not a file."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"upstream checkpoint {path} does not exist or is not a file")
    return file, sha256_file(file)
