#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements, once per change of the requirement files.
# Usage: scripts/bootstrap.sh [app|dev]   (dev adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-app}
reqs=requirements.txt
[ "$kind" = dev ] && reqs=requirements-dev.txt
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "musictagger: creating .venv with $($python --version 2>&1)" >&2
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$kind
want=$(cat requirements.txt "$reqs" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "musictagger: installing $reqs into .venv (first run: torch is a large download)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$reqs"
  echo "$want" >"$stamp"
fi
