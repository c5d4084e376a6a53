#!/usr/bin/env bash
# The classroom tests (nbgrader autograding, a real JupyterHub): a phase of `make test`.
# They need tools the learners' environment does not: this script makes .venv-classroom
# (requirements-lock.txt + requirements-classroom.txt + the course package) and installs
# JupyterHub's proxy (configurable-http-proxy, from npm) into .classroom-node/, once.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-classroom
NODE=.classroom-node
CHP_VERSION=5.3.0
stamp=$(cat requirements-lock.txt requirements-classroom.txt pyproject.toml | sha256sum | cut -c1-16)

# The hub test starts learners' servers as other Unix accounts (when run as root): they run this
# environment's Python, so it must be one they can reach (a Python under /root, as pyenv makes,
# is not: then a system Python is used, as docs/TEACHING.md tells instructors).
others_can_run() { [ "$(id -u)" != 0 ] || runuser -u nobody -- "$1" -c "" 2>/dev/null; }
if [ -x "$VENV/bin/python" ] && ! others_can_run "$VENV/bin/python"; then
  echo "classroom: $VENV's Python cannot be run by other accounts; making it again"
  rm -rf "$VENV"
fi

if [ ! -f "$VENV/.course-stamp" ] || [ "$(cat "$VENV/.course-stamp")" != "$stamp" ]; then
  echo "classroom: setting up $VENV (once)"
  PY=${PYTHON:-python3}
  if ! others_can_run "$(command -v "$PY")" && [ -z "${PYTHON:-}" ]; then
    for candidate in /usr/bin/python3.11 /usr/local/bin/python3.11; do
      if others_can_run "$candidate"; then PY=$candidate; break; fi
    done
  fi
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV" || exit 1
  "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored: it is neither" || true
  "$VENV/bin/python" -m pip install --quiet -r requirements-lock.txt -r requirements-classroom.txt 2>&1 \
    | grep -v "is ignored: it is neither" || true
  "$VENV/bin/python" -m pip install --quiet --no-deps -e . 2>&1 | grep -v "is ignored: it is neither" || true
  "$VENV/bin/python" -c "import nbgrader, jupyterhub, nbgitpuller, jupyterhub_idle_culler, course_utils" \
    || { echo "classroom: the environment is incomplete; see pip's messages above" >&2; exit 1; }
  echo "$stamp" > "$VENV/.course-stamp"
fi

if [ ! -x "$NODE/node_modules/.bin/configurable-http-proxy" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "classroom: installing configurable-http-proxy@$CHP_VERSION into $NODE (once)"
    npm install --no-audit --no-fund --prefix "$NODE" "configurable-http-proxy@$CHP_VERSION" > "$NODE.log" 2>&1 \
      || { cat "$NODE.log" >&2; echo "classroom: npm could not install configurable-http-proxy@$CHP_VERSION" >&2; exit 1; }
  else
    echo "classroom: npm is needed for JupyterHub's proxy (Debian: apt-get install npm)" >&2; exit 1
  fi
fi

export PATH="$PWD/$NODE/node_modules/.bin:$PATH"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 COURSE_CLASSROOM_REQUIRED=1
exec "$VENV/bin/python" -m pytest tests/classroom -q -p no:cacheprovider -rs "$@"
