#!/usr/bin/env bash
# The whole test suite, phase by phase, in the course environment (.venv).
# Called by `make test` (which runs scripts/setup.sh first) and so by .ci/run.
# Every phase must collect and run tests: pytest's exit code 5 ("no tests collected")
# fails the run like any other failure.
#
# The phases run in two lanes at once: the notebook lane (unit tests, then the lessons under
# nbval, then the generator check) and the service lane (the classroom and browser tests:
# servers, a browser, and the classroom's tools installed once; then the solutions under
# nbval, which fill the time the service lane would otherwise end early by). Together they
# keep both cores busy from start to end, so the run's length is set by its CPU work. No phase
# shares files or ports with another; the browser phase's lesson kernels are forked from the
# notebook phases' warm process (below). COURSE_TEST_SERIAL=1 runs the phases one after another instead. Each phase's
# output is shown whole (indented) when it ends, then a summary of all phases.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "test: no .venv; run 'make test' (it sets up first)" >&2; exit 1; }

# Two cores: two workers with one thread each; notebooks keep their cells together.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
export COURSE_NO_PROGRESS=1   # checks run in tests must not write a learner's progress file
# tests/nbval_order.py starts the longest notebooks first (xdist keeps that order).
NBVAL=(--nbval-lax --nbval-cell-timeout=600
       --nbval-sanitize-with tests/nbval_sanitize.cfg -n 2 --dist loadfile --no-loadscope-reorder
       -p tests.nbval_order -p no:cacheprovider --durations=15)

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/course-test.XXXXXX")
KERNEL_SERVER=""
trap '[ -n "$KERNEL_SERVER" ] && kill "$KERNEL_SERVER" 2>/dev/null && wait "$KERNEL_SERVER"; rm -rf "$LOGS"' EXIT
START=$SECONDS

# The notebook phases' kernels (about seventy) are forked from one process that has imported
# torch, instead of each importing it again (2 of a kernel's 3 CPU seconds to start):
# tests/kernel_forkserver.py. Each notebook still gets a kernel process of its own.
# COURSE_TEST_FORK_KERNELS=0 starts every kernel afresh instead.
if [ "${COURSE_TEST_FORK_KERNELS:-1}" != 0 ]; then
  "$PY" - "$LOGS" "$PWD/$PY" "$PWD/tests/kernel_forkserver.py" <<'PYSPEC' || exit 1
import json, pathlib, sys
logs, python, server = sys.argv[1:]
spec = pathlib.Path(logs, "jupyter", "kernels", "course-forked")
spec.mkdir(parents=True)
(spec / "kernel.json").write_text(json.dumps({
    "argv": [python, "-I", server, "client", str(pathlib.Path(logs, "kernels.sock")), "-f", "{connection_file}"],
    "display_name": "Python 3 (course tests, forked)", "language": "python"}))
PYSPEC
  "$PY" tests/kernel_forkserver.py serve "$LOGS/kernels.sock" > "$LOGS/kernel-server.log" 2>&1 &
  KERNEL_SERVER=$!
  NBVAL+=(--nbval-kernel-name course-forked)
else
  NBVAL+=(--nbval-current-env)
fi
nbval() {  # the kernel spec is seen by the notebook phases only
  if [ -n "$KERNEL_SERVER" ]; then
    JUPYTER_PATH="$LOGS/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}" "$PY" -m pytest "${NBVAL[@]}" "$@"
  else
    "$PY" -m pytest "${NBVAL[@]}" "$@"
  fi
}

need_notebooks() {  # fail loudly if a notebook folder is empty rather than test nothing
  local n; n=$(find "$1" -maxdepth 1 -name '*.ipynb' | wc -l)
  if [ "$n" -eq 0 ]; then echo "test: no notebooks in $1/" >&2; return 1; fi
}

# ----------------------------------------------------------------------------- the phases
phase_unit() {  # worksteal: a worker that runs out of tests takes some of the other's (the judge's tests are long)
  "$PY" -m pytest tests -n 2 --dist worksteal -q -p no:cacheprovider --ignore=tests/browser --ignore=tests/classroom --durations=25
}
phase_lessons() {
  need_notebooks notebooks && need_notebooks exercises && need_notebooks zh/notebooks && need_notebooks zh/exercises \
    || return 1
  nbval notebooks exercises zh/notebooks zh/exercises
}
phase_solutions() {
  need_notebooks solutions && need_notebooks zh/solutions || return 1
  COURSE_STRICT=1 nbval solutions zh/solutions
}
phase_build() { "$PY" -m course_utils.course.build --check; }
phase_lint() { "$PY" -m ruff check . && echo "ruff: the package, tests, benchmarks and scripts are clean"; }
phase_classroom() { bash scripts/test_classroom.sh; }
phase_browser() {  # its lesson kernels are forked from the same warm process as the notebooks'
  if [ -n "$KERNEL_SERVER" ]; then
    COURSE_TEST_KERNEL_SOCKET="$LOGS/kernels.sock" bash scripts/test_browser.sh
  else
    COURSE_TEST_FORK_KERNELS=0 bash scripts/test_browser.sh
  fi
}

declare -A TITLE=(
  [unit]="unit tests" [lessons]="lessons + exercises, both editions (nbval)"
  [solutions]="solutions, both editions, strict checks (nbval)"
  [build]="exercises and zh/ match their sources" [lint]="linter (ruff)" [classroom]="classroom (nbgrader, JupyterHub)"
  [browser]="browser (JupyterLab + Chromium)")
NOTEBOOK_LANE=(lint unit lessons build)
SERVICE_LANE=(classroom browser solutions)
ORDER=(lint unit lessons solutions build classroom browser)

# the machine's load averages (1, 5, 15 min): timings mean little without them on a shared machine
load() { printf 'load %s' "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"; }
run_phase() {  # run_phase NAME: output to $LOGS/NAME.log, exit code and seconds to $LOGS/NAME.rc
  local name=$1 t0=$SECONDS rc
  echo "=== ${TITLE[$name]}: started at $((SECONDS - START)) s ($(load))"
  "phase_$name" > "$LOGS/$name.log" 2>&1; rc=$?
  echo "$rc $((SECONDS - t0))" > "$LOGS/$name.rc"
  echo "=== ${TITLE[$name]}: exit $rc after $((SECONDS - t0)) s (at $((SECONDS - START)) s; $(load))"
  sed 's/^/    /' "$LOGS/$name.log"
}
run_lane() { local name; for name in "$@"; do run_phase "$name"; done; }

if [ "${COURSE_TEST_SERIAL:-0}" != 0 ]; then
  run_lane "${ORDER[@]}"
else
  run_lane "${NOTEBOOK_LANE[@]}" &
  notebooks=$!
  run_lane "${SERVICE_LANE[@]}" &
  services=$!
  wait $notebooks $services
fi

echo
echo "=== Summary ($((SECONDS - START)) s in all; $(load) at the end, $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cores)"
failed=()
for name in "${ORDER[@]}"; do
  read -r rc secs < "$LOGS/$name.rc" 2>/dev/null || { rc=missing; secs=0; }
  line=$(grep -E "(passed|failed|error)[^=]* in [0-9.]+s" "$LOGS/$name.log" 2>/dev/null | tail -n 1 | tr -d '=')
  printf '%-36s exit %-3s %5s s  %s\n' "${TITLE[$name]}" "$rc" "$secs" "$line"
  if [ "$rc" = 5 ]; then echo "    (pytest collected no tests, which counts as a failure)"; fi
  [ "$rc" = 0 ] || failed+=("${TITLE[$name]} (exit $rc)")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED phases: ${failed[*]}"
  exit 1
fi
echo "All test phases passed."
