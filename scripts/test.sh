#!/usr/bin/env bash
# Run the checks CI runs: lint, types, and the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup-dev.sh
.venv/bin/ruff check appliance tests bench
.venv/bin/mypy appliance
# The tests mostly wait in real time (audio played at its real rate, servers that stall on
# purpose), so more workers than cores is fastest. Measured on 2 cores (whole suite, s):
# 2 workers 214, 4: 116, 6: 84, 8: 70, 12: 60, 16: 55 (but the most CPU, which the
# real-time tests share). Work stealing keeps every worker busy to the end.
# TEST_WORKERS=0 runs them in this one process.
.venv/bin/python -m pytest -n "${TEST_WORKERS:-12}" --dist worksteal "$@"
