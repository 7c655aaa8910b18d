#!/usr/bin/env bash
# Run the checks CI runs: lint, types, and the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup-dev.sh
.venv/bin/ruff check appliance tests bench
.venv/bin/mypy appliance
# The tests mostly wait in real time (audio played at its real rate, servers that stall on
# purpose), so more workers than cores is what is fastest: 8 measured best on 2 cores.
# TEST_WORKERS=0 runs them in this one process.
.venv/bin/python -m pytest -n "${TEST_WORKERS:-8}" "$@"
