#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements, once per change of the requirement files, plus the
# system libraries Qt needs on Debian/Ubuntu (playback: libpulse0; a real display: the xcb libraries).
# Usage: scripts/bootstrap.sh [app|dev]   (dev adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-app}
reqs=requirements.txt
[ "$kind" = dev ] && reqs=requirements-dev.txt

# Debian packages: QtMultimedia loads libpulse.so.0; Qt's xcb platform plugin needs the xcb libraries.
system_packages="libpulse0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 libegl1 libgl1 libfontconfig1"
if command -v dpkg-query >/dev/null 2>&1; then
  missing=$(for p in $system_packages; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "musictagger: installing system libraries for Qt: $(echo $missing)" >&2
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null \
        || echo "musictagger: could not install $(echo $missing); playback or the window may not work" >&2
    else
      echo "musictagger: for playback and the desktop window, install: sudo apt-get install $(echo $missing)" >&2
    fi
  fi
fi

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
