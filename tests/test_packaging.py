"""What ``pip install .`` installs: every package under the emobench namespace, the data files,
no generic top-level import names."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from architecture import package_roots
from emobench.core.resources import CHECKOUT


def _declared() -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read(CHECKOUT / "setup.cfg", encoding="utf-8")
    return set(cfg["options"]["packages"].split())


def test_every_package_folder_is_declared():
    found = set()
    for name, folder in package_roots(CHECKOUT / "setup.cfg").items():
        if not (folder / "__init__.py").is_file():
            found.add(name)  # a data folder (configs/, partitions/)
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            if not any(part in ("__pycache__",) for part in relative):
                found.add(".".join([name, *relative]))
    missing, extra = found - _declared(), _declared() - found
    assert not missing, f"package folders missing from setup.cfg [options] packages: {missing}"
    assert not extra, f"setup.cfg lists packages that do not exist: {extra}"


@pytest.mark.slow
def test_the_wheel_holds_the_namespace_and_the_data(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(CHECKOUT)], check=True)
    wheel = next(tmp_path.glob("emobench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"emobench"}, f"top-level names other than emobench: {tops - {'emobench'}}"
    for expected in ("emobench/upstream/registry.py", "emobench/downstream/emotion/task.py",
                     "emobench/corpora/emodb.py", "emobench/orchestration/cli.py",
                     "emobench/core/schemas/scores.schema.json",
                     "emobench/configs/emotion/emodb.yaml", "emobench/configs/sweeps/demo.yaml",
                     "emobench/partitions/emodb.yaml", "emobench/corpora/relabel/job.py",
                     "emobench/configs/relabel/emo_superb_prompt.txt"):
        assert expected in names, f"{expected} is not in {wheel.name}"
    configs = {p.relative_to(CHECKOUT).as_posix() for p in (CHECKOUT / "configs").rglob("*.yaml")}
    assert {f"emobench/{c}" for c in configs} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "emobench = emobench.orchestration.cli:main" in text
