#!/usr/bin/env bash
# Sets up the development tools on first use, then runs the linter and the whole test suite.
# Extra arguments go to pytest (e.g. ./test.sh -k audio). Tests need no display, GPU or ../shared.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh dev
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/lint-imports --no-cache  # the architecture contracts in pyproject.toml
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest "$@"
