#!/usr/bin/env bash
# The main job: run the ready suites against the embedded reference system (or --roo-target URL)
# and write the report (terminal table + report/roo-report.json).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
exec pytest suites --roo-report-json=report/roo-report.json "$@"
