#!/usr/bin/env bash
# The whole test suite, on a fresh clone too: makes sure setup is done, then runs pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k memory -x`).
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SETUP_QUIET=1 bash scripts/setup.sh
start=$(date +%s)
set +e
.venv/bin/python -m pytest tests -q "$@"
rc=$?
set -e
echo "test suite wall time: $(( $(date +%s) - start )) s"
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests (exit code 5): nothing failed, but nothing was tested either"
  exit 0
fi
exit $rc
