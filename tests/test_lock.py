"""requirements.lock agrees with setup.cfg (docs/install.md).

Every dependency that setup.cfg names (install_requires and the ``test`` extra) is in the lock
at an exact ``==`` version inside setup.cfg's range, the lock's direct dependencies (uv's
``# via emobench (setup.cfg)``) are exactly setup.cfg's (both ways), every pin carries hashes,
and torch and torchaudio are one release. A lock that is out of date with setup.cfg fails naming
the package.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("test",)  # the extras the lock includes (bash quickstart.sh lock: --extra test)
SAME_RELEASE = ("torch", "torchaudio")
REGENERATE = "regenerate it: bash quickstart.sh lock (docs/install.md)"


def setup_cfg_requirements(path: Path) -> list[Requirement]:
    """install_requires and the locked extras of a setup.cfg, comments dropped."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    values = [parser.get("options", "install_requires", fallback="")]
    values += [parser.get("options.extras_require", e, fallback="") for e in EXTRAS]
    lines = (raw.split("#", 1)[0].strip() for value in values for raw in value.splitlines())
    return [Requirement(line) for line in lines if line]


def lock_entries(path: Path) -> list[dict]:
    """The pins of a requirements lock: name, specifier, marker, hashes and ``# via`` sources.

    Handles continuation lines (``\\``), ``--hash`` options, markers (``; sys_platform == ...``)
    and uv's annotations, both ``# via x`` and ``# via`` followed by ``#   x`` lines.
    """
    entries: list[dict] = []
    logical, in_via = "", False
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        stripped = raw.strip()
        if logical:  # a requirement continued from the previous line
            logical += " " + stripped.rstrip("\\")
            if not stripped.endswith("\\"):
                entries.append(_entry(logical))
                logical, in_via = "", False
            continue
        if stripped.startswith("#"):
            comment = stripped.lstrip("#").strip()
            if entries and raw.startswith((" ", "\t")):  # an annotation of the last pin
                if comment == "via":
                    in_via = True
                elif comment.startswith("via "):
                    entries[-1]["via"].append(comment[4:].strip())
                elif in_via and raw.lstrip().startswith("#   "):
                    entries[-1]["via"].append(comment)
            continue
        in_via = False
        if not stripped or stripped.startswith("-"):  # blank, or an option line such as --index-url
            continue
        if stripped.endswith("\\"):
            logical = stripped.rstrip("\\")
        else:
            entries.append(_entry(stripped))
    return entries


def _entry(line: str) -> dict:
    hashes = re.findall(r"--hash=(\S+)", line)
    requirement = Requirement(re.sub(r"--hash=\S+", "", line).strip())
    return {"line": line.split(" --hash")[0].strip(), "name": canonicalize_name(requirement.name),
            "requirement": requirement, "hashes": hashes, "via": []}


def _pinned(entry: dict) -> Version | None:
    specs = list(entry["requirement"].specifier)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        return Version(specs[0].version)
    return None


def lock_problems(setup_cfg: Path, lock: Path) -> list[str]:
    """What makes ``lock`` not a lock of ``setup_cfg``: one message per problem, naming the package."""
    wanted = {canonicalize_name(r.name): r for r in setup_cfg_requirements(setup_cfg)}
    entries = lock_entries(lock)
    by_name: dict[str, list[dict]] = {}
    for entry in entries:
        by_name.setdefault(entry["name"], []).append(entry)
    problems = []
    for name, requirement in wanted.items():
        if name not in by_name:
            problems.append(f"{name}: in setup.cfg ({requirement}) but not in {lock.name}; "
                            f"{REGENERATE}")
            continue
        for entry in by_name[name]:
            version = _pinned(entry)
            if version is None:
                problems.append(f"{name}: not pinned to one exact version (==) in {lock.name}: "
                                f"{entry['line']}")
            elif not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{name}: {lock.name} pins {version}, outside setup.cfg's "
                                f"range {requirement}; {REGENERATE}")
    direct = {e["name"] for e in entries if any(v.startswith("emobench") for v in e["via"])}
    for name in sorted(direct - set(wanted)):
        problems.append(f"{name}: a direct dependency in {lock.name} (via emobench) but not in "
                        f"setup.cfg; {REGENERATE}")
    for name in sorted(set(wanted) & set(by_name) - direct):  # pinned for another package only
        problems.append(f"{name}: in setup.cfg but not a direct dependency in {lock.name} (no "
                        f"'# via emobench'): the lock predates it; {REGENERATE}")
    for entry in entries:
        if _pinned(entry) is None and entry["name"] not in wanted:
            problems.append(f"{entry['name']}: not pinned to one exact version (==) in "
                            f"{lock.name}: {entry['line']}")
        if not entry["hashes"]:
            problems.append(f"{entry['name']}: no --hash in {lock.name}; {REGENERATE}")
    releases = {name: {_pinned(e).release for e in by_name.get(name, []) if _pinned(e)}
                for name in SAME_RELEASE}
    if all(releases.values()) and (len(set.union(*releases.values())) != 1
                                   or any(len(r) != 1 for r in releases.values())):
        shown = ", ".join(f"{n} {sorted('.'.join(map(str, r)) for r in releases[n])}"
                          for n in SAME_RELEASE)
        problems.append(f"{' and '.join(SAME_RELEASE)} must be one release in {lock.name}: "
                        f"{shown}")
    return problems


def test_lock_matches_setup_cfg() -> None:
    problems = lock_problems(ROOT / "setup.cfg", ROOT / "requirements.lock")
    assert not problems, "\n".join(problems)


def test_lock_pins_torch_and_torchaudio_to_one_release() -> None:
    entries = lock_entries(ROOT / "requirements.lock")
    pins = {e["name"]: _pinned(e) for e in entries if e["name"] in SAME_RELEASE}
    assert set(pins) == set(SAME_RELEASE), pins
    assert pins["torch"] == pins["torchaudio"] == Version("2.11.0"), pins


SETUP_CFG = """\
[options]
install_requires =
    # a comment line
    torch==2.11.*
    torchaudio==2.11.*,!=2.11.1
    numpy>=1.24
{extra_dependency}
[options.extras_require]
test =
    pytest>=7.4
"""

LOCK = """\
# a header comment
numpy==2.2.6 ; python_full_version < '3.11' \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
    # via
    #   emobench (setup.cfg)
    #   pandas
numpy==2.4.6 ; python_full_version >= '3.11' \\
    --hash=sha256:cccc
    # via emobench (setup.cfg)
nvidia-nccl-cu13==2.28.9 ; sys_platform == 'linux' \\
    --hash=sha256:dddd
    # via torch
pytest==9.2.0 \\
    --hash=sha256:eeee
    # via emobench (setup.cfg)
torch==2.11.0 \\
    --hash=sha256:ffff
    # via
    #   emobench (setup.cfg)
    #   torchaudio
torchaudio=={torchaudio} \\
    --hash=sha256:0000
    # via emobench (setup.cfg)
{extra_lock}"""


def _pair(tmp_path: Path, *, extra_dependency: str = "", extra_lock: str = "",
          torchaudio: str = "2.11.0") -> tuple[Path, Path]:
    setup_cfg, lock = tmp_path / "setup.cfg", tmp_path / "requirements.lock"
    setup_cfg.write_text(SETUP_CFG.format(extra_dependency=extra_dependency), encoding="utf-8")
    lock.write_text(LOCK.format(torchaudio=torchaudio, extra_lock=extra_lock), encoding="utf-8")
    return setup_cfg, lock


def test_lock_problems_accepts_a_consistent_pair_with_markers(tmp_path: Path) -> None:
    assert lock_problems(*_pair(tmp_path)) == []


def test_lock_problems_name_the_package_when_out_of_date(tmp_path: Path) -> None:
    # a dependency added to setup.cfg only
    problems = lock_problems(*_pair(tmp_path, extra_dependency="    submitit>=1.5"))
    assert len(problems) == 1 and problems[0].startswith("submitit: in setup.cfg"), problems
    assert "bash quickstart.sh lock" in problems[0]
    # a direct dependency left in the lock only
    problems = lock_problems(*_pair(tmp_path, extra_lock="tqdm==4.70.1 \\\n    --hash=sha256:1111"
                                                         "\n    # via emobench (setup.cfg)\n"))
    assert len(problems) == 1 and problems[0].startswith("tqdm: a direct dependency"), problems
    # a pin outside setup.cfg's range, which is also a second torch release
    problems = lock_problems(*_pair(tmp_path, torchaudio="2.11.1"))
    assert problems[0].startswith("torchaudio: requirements.lock pins 2.11.1, outside"), problems
    assert "torch and torchaudio must be one release" in problems[1], problems
    # a dependency added to setup.cfg that the lock has only for another package
    problems = lock_problems(*_pair(tmp_path, extra_dependency="    six>=1.0",
                                    extra_lock="six==1.17.0 \\\n    --hash=sha256:2222\n"
                                               "    # via pandas\n"))
    assert len(problems) == 1 and problems[0].startswith("six: in setup.cfg but not a direct"), \
        problems
    # a range instead of a pin, and a pin without hashes
    problems = lock_problems(*_pair(tmp_path, extra_lock="six>=1.0\n    # via pandas\n"))
    assert [p.split(":")[0] for p in problems] == ["six", "six"], problems
