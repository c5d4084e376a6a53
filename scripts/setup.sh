#!/usr/bin/env bash
# Create (or bring up to date) the course environment in .venv from requirements-lock.txt,
# install course_utils in editable mode (notebooks use the environment's own "python3"
# kernel, so none is registered). Safe to run again:
# it does nothing when .venv already matches the lock.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
stamp_of() { cat requirements-lock.txt pyproject.toml | sha256sum | cut -c1-16; }
want=$(stamp_of)
if [ -f "$VENV/.course-stamp" ] && [ "$(cat "$VENV/.course-stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3.10 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY=$cand; break; fi
  done
fi
[ -n "$PY" ] || { echo "setup: no python3 found; install Python 3.11 (3.10-3.13 work)" >&2; exit 1; }
"$PY" - <<'PYCHECK' || { echo "setup: $PY is too old; the course needs Python >= 3.10" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)
PYCHECK

echo "setup: creating the course environment in $VENV with $("$PY" --version) (a few minutes, once)"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -m pip install --quiet -r requirements-lock.txt 2>&1 | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -m pip install --quiet --no-deps -e . 2>&1 | grep -v "is ignored: it is neither" || true
# pip's output was filtered above, so check the result explicitly
"$VENV/bin/python" -c "import torch, numpy, matplotlib, ipywidgets, nbval, course_utils" \
  || { echo "setup: the environment is incomplete; see pip's messages above" >&2; exit 1; }
echo "$want" > "$VENV/.course-stamp"
echo "setup: done ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
