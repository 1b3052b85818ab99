"""The doctests of every module of the installed packages (setup.cfg's ``packages``).

pytest's ``--doctest-modules`` would import ``upstream/registry.py`` as a top-level module
``upstream.registry`` next to the installed ``emobench.upstream.registry`` (two copies of every
registry), so the doctests run here through the package names instead.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from architecture import modules, package_roots
from emobench.core.resources import CHECKOUT


def _modules() -> list[str]:
    return sorted(modules(package_roots(CHECKOUT / "setup.cfg")))


MODULES = _modules()


def test_every_package_has_modules():
    assert "emobench.upstream.registry" in MODULES
    assert "emobench.core.config" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             report=True, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctests failed in {name}"
