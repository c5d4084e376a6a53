#!/usr/bin/env bash
# Open the course in JupyterLab (called by `make lab` after scripts/setup.sh).
# Extra arguments go to `jupyter lab`, e.g. `bash scripts/lab.sh --no-browser --port 8890`.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=()
# JupyterLab refuses to start as root (containers, cloud VMs) unless told it is deliberate.
if [ "$(id -u)" = 0 ]; then extra+=(--allow-root); fi
exec .venv/bin/jupyter lab "${extra[@]}" "$@" notebooks/00_welcome.ipynb
