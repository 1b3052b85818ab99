"""The layer contract (tests/architecture.py) holds, and a wrong import breaks it by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from architecture import package_roots, violations
from emobench.core.resources import CHECKOUT

MAX_LINES = 350


def test_the_packages_keep_the_layer_contract():
    problems = violations(package_roots(CHECKOUT / "setup.cfg"))
    assert not problems, "layer contract broken:\n" + "\n".join(problems)


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """A miniature of the real layout: core, upstream, corpora, downstream, orchestration."""
    roots = {"emobench": tmp_path / "emobench", "emobench.upstream": tmp_path / "upstream",
             "emobench.corpora": tmp_path / "corpora",
             "emobench.downstream": tmp_path / "downstream"}
    for folder in [*roots.values(), tmp_path / "emobench/core", tmp_path / "emobench/orchestration"]:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("")
    (tmp_path / "emobench/core/io.py").write_text("def write(): ...\ndef _hidden(): ...\n")
    (tmp_path / "upstream/base.py").write_text("from emobench.core import io\n")
    (tmp_path / "downstream/task.py").write_text("from emobench.upstream import base\n")
    (tmp_path / "emobench/orchestration/cli.py").write_text("import emobench.downstream.task\n")
    return roots


def _write(roots, package, name, text):
    (roots[package] / name).write_text(text)


def test_a_clean_miniature_passes(tree):
    assert violations(tree) == []


@pytest.mark.parametrize("package, text, expected", [
    ("emobench", "core/bad.py:from emobench.upstream import base\n",
     "emobench.core.bad (layer emobench.core) imports emobench.upstream.base from the higher "
     "layer emobench.upstream"),
    ("emobench.upstream", "bad.py:def f():\n    from emobench.downstream import task\n",
     "bad.py:2: emobench.upstream.bad (layer emobench.upstream) imports emobench.downstream.task"),
    ("emobench.corpora", "bad.py:REGISTRY = {'x': 'emobench.orchestration.cli:main'}\n",
     "imports emobench.orchestration.cli from the higher layer emobench.orchestration"),
    ("emobench.upstream", "bad.py:import emobench.corpora\n",
     "emobench.upstream and emobench.corpora must stay independent"),
    ("emobench.downstream", "bad.py:from emobench.core.io import _hidden\n",
     "imports the private name(s) _hidden of emobench.core.io"),
    ("emobench.downstream", "bad.py:from emobench.core import io\nio._hidden()\n",
     "bad.py:2: emobench.downstream.bad uses the private name emobench.core.io._hidden"),
    ("emobench.downstream", "a.py:from emobench.downstream import b\n",
     "import cycle: emobench.downstream.a -> emobench.downstream.b -> emobench.downstream.a"),
])
def test_a_wrong_import_is_named(tree, package, text, expected):
    name, _, code = text.partition(":")
    _write(tree, package, name, code)
    if name == "a.py":
        _write(tree, package, "b.py", "from emobench.downstream import a\n")
    problems = violations(tree)
    assert any(expected in p for p in problems), problems


def test_no_module_is_over_the_size_limit():
    from architecture import modules

    sizes = {str(path.relative_to(CHECKOUT)): len(path.read_text(encoding="utf-8").splitlines())
             for path in modules(package_roots(CHECKOUT / "setup.cfg")).values()}
    long = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
