#!/usr/bin/env bash
# `make demo`: a churnwatch worker on the local Kafka and Redis, 45 days of simulated history for
# 2,000 customers pushed through the event clock, and the alerts printed as they arrive.
# Ctrl-C stops the worker and the printer (the services keep running: `make down` stops them).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/.venv/bin
LOGS=$ROOT/.cache/logs
mkdir -p "$LOGS"
RUN_ID=$(date +%s)
export CHURNWATCH_TOPIC_PREFIX=${CHURNWATCH_TOPIC_PREFIX:-demo-$RUN_ID-}
export CHURNWATCH_APP_ID=${CHURNWATCH_APP_ID:-churnwatch-demo-$RUN_ID}
export CHURNWATCH_CLOCK=${CHURNWATCH_CLOCK:-event}
export CHURNWATCH_PARTITIONS=${CHURNWATCH_PARTITIONS:-4}
export CHURNWATCH_REDIS_URL=${CHURNWATCH_REDIS_URL:-redis://127.0.0.1:${CHURNWATCH_LOCAL_REDIS_PORT:-6379}/0}
export CHURNWATCH_WEB_PORT=${CHURNWATCH_WEB_PORT:-6066}
export CHURNWATCH_DATA_DIR=$ROOT/.cache/demo-data
CUSTOMERS=${DEMO_CUSTOMERS:-2000}
DAYS=${DEMO_DAYS:-45}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; echo; echo "demo stopped (services still up: make down)"; }
trap 'exit 130' INT TERM
trap cleanup EXIT

echo "== churnwatch demo: topics ${CHURNWATCH_TOPIC_PREFIX}*, worker log $LOGS/demo-worker.log"
(cd "$ROOT/.cache" && exec "$BIN/churnwatch" worker -l info) >"$LOGS/demo-worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$CHURNWATCH_WEB_PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the worker exited; see $LOGS/demo-worker.log"; tail -20 "$LOGS/demo-worker.log"; exit 1; }
  sleep 0.5
done
echo "== worker ready: http://127.0.0.1:$CHURNWATCH_WEB_PORT/metrics  /at-risk  /customers/c-1  /healthz"
"$BIN/python" -m agents.tail &
pids+=($!)
echo "== producing $DAYS days of history for $CUSTOMERS customers (ending now); alerts follow:"
"$BIN/churnwatch" simulate --customers "$CUSTOMERS" --days "$DAYS" --end now
sleep 5
echo "== top revenue at risk (GET /at-risk?limit=5):"
curl -s "http://127.0.0.1:$CHURNWATCH_WEB_PORT/at-risk?limit=5"; echo
echo "== Redis: redis-cli zrevrange churnwatch:at_risk 0 4 withscores; Prometheus text at /metrics"
echo "== Ctrl-C to stop"
wait "${pids[0]}"
