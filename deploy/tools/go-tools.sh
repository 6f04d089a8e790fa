#!/usr/bin/env bash
# Builds the chart tools from their Go modules (the Go module proxy), once per pinned version:
#   helm          helm.sh/helm/v3            (helm lint, helm template)
#   kubeconform   github.com/yannh/kubeconform (validates manifests against Kubernetes JSON schemas)
# Binaries go to .cache/tools/bin (CHURNWATCH_CACHE_DIR instead of .cache); Go's own module and build
# caches keep the sources and objects, so a second run returns at once.
#
#   deploy/tools/go-tools.sh            build what is missing; print the bin folder on stdout
# Exit 3 (with one line on stderr) when Go is not installed: the chart tests then skip.
set -euo pipefail

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${CHURNWATCH_CACHE_DIR:-$ROOT/.cache}
BIN=$CACHE/tools/bin
LOGS=$CACHE/logs
mkdir -p "$BIN" "$LOGS"
say() { printf 'go-tools: %s\n' "$*" >&2; }

command -v go >/dev/null || { say "Go is not installed: helm and kubeconform cannot be built"; exit 3; }

build() { # name module version
  local name=$1 module=$2 version=$3 stamp="$BIN/.$1.version"
  if [ -x "$BIN/$name" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$module@$version" ]; then
    return 0
  fi
  say "building $name $version from $module (once; log $LOGS/go-tools.log)"
  local t0=$SECONDS
  if ! CGO_ENABLED=0 GOBIN=$BIN GOFLAGS=-buildvcs=false go install -trimpath -ldflags='-s -w' \
    "$module@$version" >>"$LOGS/go-tools.log" 2>&1; then
    tail -20 "$LOGS/go-tools.log" >&2
    say "building $name failed; see $LOGS/go-tools.log"
    exit 1
  fi
  echo "$module@$version" >"$stamp"
  say "$name $version built in $((SECONDS - t0)) s"
}

exec 9>"$BIN/.lock"
flock 9
build helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
build kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
echo "$BIN"
