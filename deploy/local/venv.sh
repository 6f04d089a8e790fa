#!/usr/bin/env bash
# The project's Python environment: .venv with `pip install -e '.[EXTRAS]'`.
# Skipped when .venv already holds an install of this very pyproject.toml with these extras
# (a stamp file named after its hash), so a second `make` costs nothing.
#
#   deploy/local/venv.sh [EXTRAS]      default: test,bench,rocksdb
#   PYTHON=python3.12 deploy/local/venv.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=$ROOT/.venv
EXTRAS=${1:-test,bench,rocksdb}
PYTHON=${PYTHON:-python3}
STAMP=$VENV/.installed-$(cat "$ROOT/pyproject.toml" <(echo "$EXTRAS") | sha1sum | cut -c1-12)

say() { printf 'venv: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

[ -f "$STAMP" ] && [ -x "$VENV/bin/python" ] && exit 0

t0=$SECONDS
command -v "$PYTHON" >/dev/null || { say "$PYTHON not found: Python 3.11+ is needed"; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { say "$PYTHON is $("$PYTHON" -V 2>&1); Python 3.11+ is needed (PYTHON=... make)"; exit 1; }

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
