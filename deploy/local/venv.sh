#!/usr/bin/env bash
# The project's Python environment: .venv with `pip install -e '.[EXTRAS]'`.
# Skipped when .venv already holds an install of this very pyproject.toml with these extras
# (a stamp file named after its hash), so a second `make` costs nothing.
#
#   deploy/local/venv.sh [EXTRAS]      default: test,bench,rocksdb
#   PYTHON=python3.12 deploy/local/venv.sh
#
# Without PYTHON, the distribution's /usr/bin/python3 when it is 3.11+ and has its C headers
# (Debian: python3-dev, which the compiled core needs), else python3 on PATH. Debian builds
# CPython with profile-guided and link-time optimisation (its changelog) into a statically linked
# interpreter; a build from source (pyenv's default) has neither, and runs the engine's loop with
# about 10% more instructions per event (callgrind over the bench's mix: 31,445 on pyenv's 3.11.7
# against 28,584 on Debian's 3.11.2, the same alerts and states).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=$ROOT/.venv
EXTRAS=${1:-test,bench,rocksdb}

say() { printf 'venv: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  if /usr/bin/python3 -c 'import sys, sysconfig, os
sys.exit(sys.version_info < (3, 11) or not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
    PYTHON=/usr/bin/python3
  fi
fi
command -v "$PYTHON" >/dev/null || { say "$PYTHON not found: Python 3.11+ is needed"; exit 1; }
# the interpreter is part of the stamp: another one (PYTHON=..., or a new default) makes a new .venv
INTERPRETER=$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable), sys.version)' 2>/dev/null || true)
STAMP=$VENV/.installed-$(cat "$ROOT/pyproject.toml" <(echo "$EXTRAS") <(echo "$INTERPRETER") | sha1sum | cut -c1-12)

[ -f "$STAMP" ] && [ -x "$VENV/bin/python" ] && exit 0

t0=$SECONDS
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { say "$PYTHON is $("$PYTHON" -V 2>&1); Python 3.11+ is needed (PYTHON=... make)"; exit 1; }

# a .venv of another interpreter (or another version of it) is made again
if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import os, sys; print(os.path.realpath(sys._base_executable), sys.version)' 2>/dev/null)" != "$INTERPRETER" ]; then
  say "the interpreter changed ($("$PYTHON" -V 2>&1), $PYTHON): making .venv again"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/pip" ]; then
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian ships venv's pip bootstrap separately
    say "python venv is not usable; installing Debian's python3-venv"
    rm -rf "$VENV"
    export DEBIAN_FRONTEND=noninteractive
    { as_root apt-get install -y -q python3-venv || { as_root apt-get update -q && as_root apt-get install -y -q python3-venv; }; } >&2 \
      || { say "could not install python3-venv (needs root or passwordless sudo)"; exit 1; }
    "$PYTHON" -m venv "$VENV"
  fi
fi

LOG=${CHURNWATCH_CACHE_DIR:-$ROOT/.cache}/logs/pip.log
mkdir -p "$(dirname "$LOG")"
say "installing churnwatch with extras [$EXTRAS] into .venv (once per pyproject.toml; log: $LOG)"
{ "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip \
  && "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$ROOT[$EXTRAS]"; } >"$LOG" 2>&1 \
  || { tail -30 "$LOG" >&2; say "pip install failed; see $LOG"; exit 1; }
rm -f "$VENV"/.installed-*
touch "$STAMP"
say "ready in $((SECONDS - t0)) s"
