#!/usr/bin/env bash
# Run the checks CI runs: lint, types, and the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup-dev.sh
.venv/bin/ruff check appliance tests bench
.venv/bin/mypy appliance
.venv/bin/python -m pytest "$@"
