"""Where the toolkit's data folders lie: ``configs/`` and ``partitions/``.

In a repository checkout they are the top-level folders beside ``emobench/``; in an installed
wheel (``pip install .``) they are package data inside it (``emobench/configs``, ...). Code asks
here instead of assuming either layout, so the toolkit runs from any working directory.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # the emobench package folder
CHECKOUT = PACKAGE.parent  # the repository root when running from a checkout
DATA_FOLDERS = ("configs", "partitions")


def data_dir(name: str) -> Path:
    """The folder ``name`` (``configs`` or ``partitions``), installed or in the checkout.

    >>> data_dir("configs").joinpath("emotion", "demo.yaml").is_file()
    True
    """
    if name not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {name!r}; one of {DATA_FOLDERS}")
    for candidate in (PACKAGE / name, CHECKOUT / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the toolkit's {name}/ folder is missing: neither {PACKAGE / name} "
                            f"nor {CHECKOUT / name} exists; reinstall emobench")


def in_checkout() -> bool:
    """True when the package runs from a git checkout (not from an installed wheel)."""
    return (CHECKOUT / ".git").exists() and (CHECKOUT / "setup.cfg").is_file()
