"""``python -m emobench.orchestration.doctor``: do the installed dependencies load? (docs/install.md)

Imports the modules of :data:`MODULES` one by one, in that order (torch first: everything after
it is built on it). On the first failure it prints ONE line naming the package and its version,
the error and the fix, and exits 1; otherwise one line with the versions, and exits 0.
``bash quickstart.sh`` runs it right after installing an environment.

A broken pair such as torchaudio 2.11.1 with torch 2.11.0 fails here (``import torchaudio``:
undefined symbol in libtorchaudio.so) instead of in the middle of a run.

This module imports only the standard library at import time.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import warnings
from pathlib import Path

# The modules checked, in order, as plain import names (rename here when packages move).
MODULES = (
    "torch",
    "torchaudio",
    # s3prl's per-upstream loaders the toolkit imports (upstream/*.py), one at a time as it does:
    # `import s3prl.hub` imports all of them and is broken under torchaudio >= 2.9. byol_s's
    # hubconf is left out: it calls torchaudio.set_audio_backend (gone since torchaudio 2.9) and
    # the toolkit imports it with a stand-in for that call (upstream/byol.py).
    "s3prl.upstream.baseline.hubconf",
    "s3prl.upstream.wavlm.hubconf",
    "s3prl.upstream.wav2vec2.hubconf",
    "s3prl.upstream.hubert.hubconf",
    "s3prl.upstream.data2vec.hubconf",
    "s3prl.upstream.wav2vec.hubconf",
    "s3prl.upstream.vq_wav2vec.hubconf",
    "s3prl.upstream.cpc.hubconf",
    "s3prl.upstream.decoar2.hubconf",
    "s3prl.upstream.tera.hubconf",
    "s3prl.upstream.mockingjay.hubconf",
    "s3prl.upstream.npc.hubconf",
    "s3prl.upstream.apc.hubconf",
    "s3prl.upstream.vq_apc.hubconf",
    "s3prl.upstream.byol_a.hubconf",
    "opensmile",
    "soundfile",
    "transformers",  # text upstreams (upstream/text.py)
    # the toolkit's own packages
    "emobench",
    "emobench.core.config",
    "emobench.upstream.registry",
    "emobench.corpora.registry",
    "emobench.downstream",
    "emobench.orchestration.cli",
)
# Packages built against torch: a failure names the torch they were loaded with.
BUILT_ON_TORCH = ("torchaudio", "s3prl")
# Import names whose distribution is this toolkit (installed with `pip install --no-deps -e .`).
OWN = ("emobench",)
LOCK = "requirements.lock"
# Distributions whose versions the success line shows.
SHOWN = ("torch", "torchaudio", "s3prl", "opensmile", "soundfile", "transformers", "emobench")


def _dist(module: str) -> str:
    """The distribution providing import name ``module`` (its top-level name for non-toolkit)."""
    top = module.split(".")[0]
    return "emobench" if top in OWN else top


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _pip() -> str:
    """The pip of the interpreter running this check, as a command to copy."""
    return f"{_shown(Path(sys.executable))} -m pip" if sys.executable else "pip"


def fix_for(module: str, exc: BaseException) -> str:
    """What to run to repair the environment after ``import module`` raised ``exc``."""
    lock = Path(__file__).resolve().parents[2] / LOCK  # the repository root
    lock_text = _shown(lock) if lock.is_file() else f"{LOCK} (emobench's repository)"
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    if missing and missing.split(".")[0] in OWN:
        return f"install the toolkit: {_pip()} install --no-deps -e ."
    return f"reinstall from the lock: {_pip()} install -r {lock_text}"


def describe(exc: BaseException) -> str:
    """``Type: message``, followed by the exceptions it was raised from (the undefined symbol
    of a library that torchaudio reports only as "Could not load this library")."""
    parts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 4:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or (None if current.__suppress_context__
                                         else current.__context__)
    return ", caused by ".join(parts)


def failure_line(module: str, exc: BaseException) -> str:
    """One line: which package does not load (with which torch), the error, the fix."""
    dist = _dist(module)
    version = _version(dist)
    if version:
        what = f"{dist} {version}"
    else:  # no distribution metadata: named "not installed" when the import found no module
        what = f"{dist} (not installed)" if isinstance(exc, ModuleNotFoundError) else dist
    if module != dist:
        what += f" ({module})"
    torch_version = _version("torch")
    with_torch = f" with torch {torch_version}" if dist in BUILT_ON_TORCH and torch_version else ""
    error = " ".join(describe(exc).split())
    return f"emobench doctor: {what} does not load{with_torch}: {error}; {fix_for(module, exc)}"


def check(modules: tuple[str, ...] = MODULES) -> str | None:
    """Import ``modules`` in order; the failure line of the first that fails, else None.

    Their warnings and printed output are swallowed: the result is one line either way.
    """
    for module in modules:
        sink = io.StringIO()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(sink), \
                    contextlib.redirect_stderr(sink):
                warnings.simplefilter("ignore")
                importlib.import_module(module)
        except Exception as exc:  # an import may fail any way: OSError, ImportError, ...
            return failure_line(module, exc)
    return None


def versions_line() -> str:
    shown = ", ".join(f"{d} {_version(d) or '?'}" for d in SHOWN)
    return (f"emobench doctor: ok: {shown} (Python {sys.version.split()[0]}, "
            f"{len(MODULES)} modules imported)")


def main() -> int:
    problem = check()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(versions_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
