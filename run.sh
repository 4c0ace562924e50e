#!/usr/bin/env bash
# Sets up musictagger on first use, then runs it. Arguments go to main.py, e.g.:
#   ./run.sh                        (the desktop app)
#   ./run.sh tag ~/Music            (headless: analyse a folder, print genres and moods)
#   ./run.sh tag ~/Music --json     (one JSON object per file)
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh app
exec .venv/bin/python main.py "$@"
