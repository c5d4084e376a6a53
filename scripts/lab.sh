#!/usr/bin/env bash
# Open the course in JupyterLab (called by `make lab` and `make lab-zh` after scripts/setup.sh).
# The server's root is the repository root, so the lessons, exercises, solutions and the README
# are all in the file browser and every link between them works; the browser opens on lesson 00
# (COURSE_START names another notebook: `make lab-zh` opens the Chinese edition's lesson 00).
# Extra arguments go to `jupyter lab`, e.g. `bash scripts/lab.sh --no-browser --port 8890`.
set -euo pipefail
cd "$(dirname "$0")/.."
start=${COURSE_START:-notebooks/00_welcome.ipynb}
if [ ! -f "$start" ]; then
  echo "lab: $start is missing from this checkout; the Chinese edition is written by \`course build\`" >&2
  exit 1
fi
extra=()
# JupyterLab refuses to start as root (containers, cloud VMs) unless told it is deliberate.
if [ "$(id -u)" = 0 ]; then extra+=(--allow-root); fi
# root_dir: serve the whole course, not the folder of the notebook opened first (JupyterLab's
# default when a file is named); default_url: where the browser (and the printed link) opens.
exec .venv/bin/jupyter lab "${extra[@]}" --ServerApp.root_dir="$PWD" --LabApp.default_url="/lab/tree/$start" "$@"
