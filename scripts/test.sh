#!/usr/bin/env bash
# The whole test suite, phase by phase, in the course environment (.venv).
# Called by `make test` (which runs scripts/setup.sh first) and so by .ci/run.
# Every phase must collect and run tests: pytest's exit code 5 ("no tests collected")
# fails the run like any other failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "test: no .venv; run 'make test' (it sets up first)" >&2; exit 1; }

# Two cores: two workers with one thread each; notebooks keep their cells together.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
export COURSE_NO_PROGRESS=1   # checks run in tests must not write a learner's progress file
NBVAL=(--nbval-lax --nbval-current-env --nbval-cell-timeout=600
       --nbval-sanitize-with tests/nbval_sanitize.cfg -n 2 --dist loadfile -p no:cacheprovider)

failed=()
phase() {  # phase NAME COMMAND...
  local name=$1; shift
  echo; echo "=== $name: $*"
  local t0=$SECONDS
  "$@"; local rc=$?
  if [ $rc -eq 5 ]; then echo "=== $name: pytest collected no tests, which counts as a failure"; fi
  echo "=== $name: exit $rc after $((SECONDS - t0)) s"
  [ $rc -eq 0 ] || failed+=("$name (exit $rc)")
}

need_notebooks() {  # fail loudly if a notebook folder is empty rather than test nothing
  local n; n=$(find "$1" -maxdepth 1 -name '*.ipynb' | wc -l)
  if [ "$n" -eq 0 ]; then echo "test: no notebooks in $1/" >&2; return 1; fi
}

phase "unit tests" "$PY" -m pytest tests -n 2 -q -p no:cacheprovider --ignore=tests/browser --ignore=tests/classroom
if need_notebooks notebooks && need_notebooks exercises; then
  phase "lessons + exercises (nbval)" "$PY" -m pytest "${NBVAL[@]}" notebooks exercises
else
  failed+=("lesson/exercise notebooks missing")
fi
if need_notebooks solutions; then
  phase "solutions, strict checks (nbval)" env COURSE_STRICT=1 "$PY" -m pytest "${NBVAL[@]}" solutions
else
  failed+=("solution notebooks missing")
fi
phase "exercises match solutions" "$PY" -m course_utils.course.build --check
phase "classroom (nbgrader, JupyterHub)" bash scripts/test_classroom.sh
phase "browser (JupyterLab + Chromium)" bash scripts/test_browser.sh

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED phases: ${failed[*]}"
  exit 1
fi
echo "All test phases passed."
