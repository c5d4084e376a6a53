#!/usr/bin/env bash
# Browser tests: the course in JupyterLab, driven in Chromium by Playwright (tests/browser).
# Installs Debian's `chromium` package when it is missing (Playwright's own browser downloads
# are not used), then runs the suite with the course environment. Screenshots of every lesson
# after Run All land in artifacts/screenshots/ (git-ignored).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "test_browser: no .venv; run 'make test' (it sets up first)" >&2; exit 1; }

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "test_browser: Chromium not found; installing Debian's chromium package"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test_browser: apt-get is not available here; install Chromium yourself (a 'chromium' or" \
         "'chromium-browser' on PATH) and rerun" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      echo "test_browser: need root (or sudo) to apt-get install chromium" >&2; exit 1
    fi
  fi
  log=$(mktemp)
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >"$log" 2>&1; then
    echo "test_browser: 'apt-get install chromium' failed; its last lines:" >&2
    tail -n 20 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi

# One thread per process on small machines; COURSE_NO_PROGRESS: checks must not write a
# learner's progress file. The kernels draw figures inline, so no MPLBACKEND here.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} COURSE_NO_PROGRESS=1
unset MPLBACKEND
exec "$PY" -m pytest tests/browser -p no:cacheprovider -rA --durations=0 "$@"
