#!/usr/bin/env bash
# The tests of pytest-roo: set up what is missing, then lint, type-check and run every tier.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
mypy
pytest --doctest-modules pytest_roo -q -p no:cacheprovider
pytest tests -n 2 "$@"
