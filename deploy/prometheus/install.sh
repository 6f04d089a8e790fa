#!/usr/bin/env bash
# Installs Debian's prometheus package (prometheus + promtool) when missing, without starting its service.
set -euo pipefail
command -v promtool >/dev/null && command -v prometheus >/dev/null && exit 0
policy=/usr/sbin/policy-rc.d created=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
{ DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends prometheus \
  || { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends prometheus; }; } >&2
status=$?
[ "$created" = 1 ] && rm -f "$policy"
exit $status
