"""The layer contract of the packages, checked over the standard library's ``ast``.

Layers, lowest first (a module may import its own layer and the layers below it):

    0  emobench.core            configs, registries, files, audio, scores: knows no upstream/task/corpus
    1  emobench.upstream        frozen upstreams and the featurizer      } independent of
    1  emobench.corpora         label formats, partitions, recipes, demos} each other
    2  emobench.downstream      tasks: models, losses, metrics, training
    3  emobench.orchestration   command line, modes, sweeps, report tables

``emobench`` itself (its ``__init__``: the version) is importable from anywhere. Imports are
``import`` and ``from ... import`` statements anywhere in a module (lazy ones too) and module
paths in string constants (registries name modules as ``"emobench.x.y"`` or ``"emobench.x.y:f"``).
Also checked: no module imports a private name (``_x``) of another module, and the graph of
modules (statements only) has no cycle.
"""

from __future__ import annotations

import ast
import configparser
import re
from dataclasses import dataclass
from pathlib import Path

LAYERS = {"emobench.core": 0, "emobench.upstream": 1, "emobench.corpora": 1,
          "emobench.downstream": 2, "emobench.orchestration": 3}
MODULE_STRING = re.compile(r"^(emobench(?:\.\w+)+)(?::\w+)?$")


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (or module.name)
    line: int
    names: tuple[str, ...] = ()  # names taken by ``from target import ...``
    statement: bool = True  # False: a module path in a string constant

    def where(self, files: dict[str, Path]) -> str:
        return f"{files.get(self.source, self.source)}:{self.line}"


def package_roots(setup_cfg: Path) -> dict[str, Path]:
    """``{dotted package: folder}`` from setup.cfg's ``package_dir`` (the installed names)."""
    cfg = configparser.ConfigParser()
    cfg.read(setup_cfg, encoding="utf-8")
    roots = {}
    for line in cfg["options"]["package_dir"].strip().splitlines():
        name, _, folder = (part.strip() for part in line.partition("="))
        roots[name] = setup_cfg.parent / folder
    return roots


def modules(roots: dict[str, Path]) -> dict[str, Path]:
    """``{dotted module: file}`` of every Python file under the roots (nested roots win)."""
    found: dict[str, Path] = {}
    for name, folder in sorted(roots.items(), key=lambda kv: kv[0].count(".")):
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([name, *parts])] = path
    return found


def imports(module: str, path: Path, known: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = tuple(alias.name for alias in node.names)
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            out += [Import(module, sub, node.lineno) for sub in submodules]
            rest = tuple(n for n in names if f"{base}.{n}" not in known)
            if rest or not submodules:
                out.append(Import(module, base, node.lineno, rest))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = MODULE_STRING.match(node.value)
            if match:
                out.append(Import(module, match.group(1), node.lineno, statement=False))
    return out


def private_uses(module: str, path: Path, known: set[str]) -> list[Import]:
    """``mod._name`` where ``mod`` is another of our modules bound by an import statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound.update({alias.asname: alias.name for alias in node.names
                          if alias.asname and alias.name in known})
        elif isinstance(node, ast.ImportFrom) and node.module:
            bound.update({alias.asname or alias.name: f"{node.module}.{alias.name}"
                          for alias in node.names if f"{node.module}.{alias.name}" in known})
    return [Import(module, bound[node.value.id], node.lineno, (node.attr,))
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in bound and bound[node.value.id] != module
            and node.attr.startswith("_") and not node.attr.startswith("__")]


def layer_of(name: str) -> tuple[str, int] | None:
    for package, level in LAYERS.items():
        if name == package or name.startswith(package + "."):
            return package, level
    return None


def violations(roots: dict[str, Path]) -> list[str]:
    """Every broken rule, as ``file:line: what`` lines (empty when the contract holds)."""
    files = modules(roots)
    known = set(files)
    graph: dict[str, set[str]] = {m: set() for m in files}
    problems = []
    for module, path in files.items():
        here = layer_of(module)
        for imp in private_uses(module, path, known):
            problems.append(f"{imp.where(files)}: {module} uses the private name "
                            f"{imp.target}.{imp.names[0]}")
        for imp in imports(module, path, known):
            there = layer_of(imp.target)
            if here and there:
                if there[1] > here[1]:
                    problems.append(f"{imp.where(files)}: {module} (layer {here[0]}) imports "
                                    f"{imp.target} from the higher layer {there[0]}")
                elif there[1] == here[1] and there[0] != here[0]:
                    problems.append(f"{imp.where(files)}: {module} imports {imp.target}: "
                                    f"{here[0]} and {there[0]} must stay independent")
            if imp.target.startswith("emobench") and imp.target != module:
                private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
                if private:
                    problems.append(f"{imp.where(files)}: {module} imports the private name(s) "
                                    f"{', '.join(private)} of {imp.target}")
            if imp.statement and imp.target in known and imp.target != module:
                graph[module].add(imp.target)
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a cycle path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component) + [sorted(component)[0]])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
