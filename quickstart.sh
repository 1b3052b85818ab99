#!/usr/bin/env bash
# One-command set-up and run. On first use it creates a virtual environment and installs the
# toolkit with its dependencies (torch/torchaudio 2.11, s3prl 0.4.18, ...); later runs reuse it.
#
#   bash quickstart.sh demo   # the main job: ExVo multitask (-d exvo_mtl) on the generated demo corpus
#   bash quickstart.sh test   # run the test suite
#
# EMOBENCH_VENV chooses the environment folder (default .venv); PYTHON the interpreter (python3).
set -euo pipefail
cd "$(dirname "$0")"
VENV="${EMOBENCH_VENV:-.venv}"
PY="${PYTHON:-python3}"

ensure_env() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "quickstart: creating the virtual environment $VENV" >&2
    if ! "$PY" -m venv "$VENV"; then
      # Debian's python3 without the python3-venv package: fall back to virtualenv from PyPI
      # (and a system pip that refuses --user installs under PEP 668 needs its override)
      rm -rf "$VENV"
      "$PY" -m pip install --user --quiet virtualenv 2>/dev/null \
        || "$PY" -m pip install --user --quiet --break-system-packages virtualenv
      "$PY" -m virtualenv --quiet "$VENV"
    fi
  fi
  local stamp="$VENV/.emobench-install" want
  want="$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16) $(pwd)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "quickstart: installing the toolkit and its dependencies into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
    echo "$want" > "$stamp"  # written only after a complete install
  fi
}

case "${1:-}" in
  demo)
    ensure_env
    shift
    exec "$VENV/bin/python" run_downstream.py -m train -u fbank_no_cmvn -d exvo_mtl --demo -n demo "$@"
    ;;
  test)
    ensure_env
    shift
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: bash quickstart.sh demo|test [extra arguments]" >&2
    exit 2
    ;;
esac
