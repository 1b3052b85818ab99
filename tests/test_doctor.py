"""emobench.orchestration.doctor: one line naming the package that does not load, its error and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emobench.orchestration import doctor

ROOT = Path(__file__).resolve().parents[1]


def test_doctor_imports_nothing_heavy() -> None:
    code = ("import sys, emobench.orchestration.doctor; "
            "print(sorted(m for m in ('torch', 'torchaudio', 's3prl', 'numpy', 'opensmile', "
            "'soundfile', 'upstream', 'downstream', 'corpora') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_failing_import_is_one_line_with_package_error_and_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "brokenlib.py").write_text(
        "print('noise on stdout')\n"
        "raise OSError('libbroken.so: undefined symbol: torch_new_stable_ivalue\\nsecond line')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    line = doctor.check(("json", "brokenlib", "never_reached_module"))
    assert line is not None and "\n" not in line
    assert line.startswith("emobench doctor: brokenlib does not load: "
                           "OSError: libbroken.so: undefined symbol: torch_new_stable_ivalue "
                           "second line; reinstall from the lock: ")
    assert line.endswith("-m pip install -r requirements.lock"), line


def test_the_line_names_the_error_an_import_was_raised_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wrappedlib.py").write_text(
        "try:\n"
        "    raise OSError('libwrapped.so: undefined symbol: torch_exception_get_what')\n"
        "except OSError as e:\n"
        "    raise OSError('Could not load this library: libwrapped.so') from e\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    line = doctor.check(("wrappedlib",))
    assert ("OSError: Could not load this library: libwrapped.so, caused by OSError: "
            "libwrapped.so: undefined symbol: torch_exception_get_what; reinstall") in line


def test_a_missing_module_and_a_missing_toolkit_package(monkeypatch: pytest.MonkeyPatch) -> None:
    line = doctor.check(("no_such_dependency_xyz",))
    assert "no_such_dependency_xyz (not installed) does not load: ModuleNotFoundError" in line
    assert "reinstall from the lock" in line
    missing = ModuleNotFoundError("No module named 'emobench.upstream'", name="emobench.upstream")
    assert "install the toolkit: " in doctor.failure_line("emobench.upstream", missing)
    assert doctor.failure_line("emobench.upstream", missing).endswith("install --no-deps -e .")


def test_torch_built_packages_name_the_torch_they_were_loaded_with(
        monkeypatch: pytest.MonkeyPatch) -> None:
    versions = {"torch": "2.11.0", "torchaudio": "2.11.1"}
    monkeypatch.setattr(doctor, "_version", versions.get)
    line = doctor.failure_line("torchaudio", OSError("libtorchaudio.so: undefined symbol: x"))
    assert line.startswith("emobench doctor: torchaudio 2.11.1 does not load with torch 2.11.0: "
                           "OSError: libtorchaudio.so: undefined symbol: x; reinstall from the "
                           "lock: ")


def test_main_prints_versions_on_success(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(doctor, "MODULES", ("json",))
    monkeypatch.setattr(doctor, "check", lambda: None)
    assert doctor.main() == 0
    out = capsys.readouterr().out
    assert out.startswith("emobench doctor: ok: torch ") and out.count("\n") == 1
