#!/usr/bin/env bash
# The whole test suite, on a fresh clone too: makes sure setup is done, then lint (ruff), types (mypy on
# the pure cores) and pytest. Any of the three failing fails the run.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k memory -x`); LINT=0 skips ruff and mypy.
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SETUP_QUIET=1 bash scripts/setup.sh
start=$(date +%s)
failed=()
if [ "${LINT:-1}" != 0 ]; then
  echo "[test] ruff check (lint + import order)"
  .venv/bin/ruff check --quiet . || failed+=(ruff)
  echo "[test] mypy (pure core)"
  .venv/bin/mypy || failed+=(mypy)
fi
set +e
.venv/bin/python -m pytest tests -q "$@"
rc=$?
set -e
echo "test suite wall time: $(( $(date +%s) - start )) s"
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests (exit code 5): nothing failed, but nothing was tested either"
  rc=0
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "[test] FAILED: ${failed[*]} (see above)"
  [ $rc -eq 0 ] && rc=1
fi
exit $rc
