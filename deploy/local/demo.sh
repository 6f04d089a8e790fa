#!/usr/bin/env bash
# `make demo`: a churnwatch worker on the local Kafka and Redis, 45 days of simulated history for
# 2,000 customers pushed through the event clock, then the first alerts as a table and a summary of
# all of them by tier and rule (`churnwatch alerts`; `churnwatch alerts --follow` shows them as they come).
# Ctrl-C stops the worker and the printer (the services keep running: `make down` stops them).
#
#   DEMO_CUSTOMERS=2000 DEMO_DAYS=45   size of the simulated history
#   DEMO_SECONDS=N                     stop by itself N seconds after the traffic is in (unattended runs)
#   DEMO_ROWS=15                       alert rows shown before the summary
# Each run uses fresh topics (prefix demo-<time>-) and its own consumer group, so runs don't mix.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/.venv/bin
LOGS=${CHURNWATCH_CACHE_DIR:-$ROOT/.cache}/logs
mkdir -p "$LOGS"
RUN_ID=$(date +%s)
export CHURNWATCH_TOPIC_PREFIX=${CHURNWATCH_TOPIC_PREFIX:-demo-$RUN_ID-}
export CHURNWATCH_APP_ID=${CHURNWATCH_APP_ID:-churnwatch-demo-$RUN_ID}
export CHURNWATCH_KAFKA_BOOTSTRAP=${CHURNWATCH_KAFKA_BOOTSTRAP:-127.0.0.1:${CHURNWATCH_LOCAL_KAFKA_PORT:-9092}}
export CHURNWATCH_CLOCK=${CHURNWATCH_CLOCK:-event}
export CHURNWATCH_PARTITIONS=${CHURNWATCH_PARTITIONS:-4}
export CHURNWATCH_REDIS_URL=${CHURNWATCH_REDIS_URL:-redis://127.0.0.1:${CHURNWATCH_LOCAL_REDIS_PORT:-6379}/0}
export CHURNWATCH_WEB_PORT=${CHURNWATCH_WEB_PORT:-6066}
export CHURNWATCH_DATA_DIR=${CHURNWATCH_DATA_DIR:-$ROOT/.cache/demo-data}
CUSTOMERS=${DEMO_CUSTOMERS:-2000}
DAYS=${DEMO_DAYS:-45}
WEB=http://127.0.0.1:$CHURNWATCH_WEB_PORT

get() { "$BIN/python" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo
  echo "demo stopped (services still up: make down stops them; logs in $LOGS)"
}
trap 'exit 130' INT TERM
trap cleanup EXIT

echo "== churnwatch demo: Kafka $CHURNWATCH_KAFKA_BOOTSTRAP, Redis $CHURNWATCH_REDIS_URL, topics ${CHURNWATCH_TOPIC_PREFIX}*"
"$BIN/python" -m agents.topics
echo "== starting the worker (log: $LOGS/demo-worker.log)"
(cd "$ROOT/.cache" && exec "$BIN/churnwatch" worker -l info) >"$LOGS/demo-worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 240); do
  get "$WEB/healthz" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the worker exited; see $LOGS/demo-worker.log"; tail -20 "$LOGS/demo-worker.log"; exit 1; }
  sleep 0.5
done
get "$WEB/healthz" >/dev/null 2>&1 || { echo "the worker is not ready after 120 s; see $LOGS/demo-worker.log"; exit 1; }
echo "== worker ready: $WEB/metrics  $WEB/at-risk  $WEB/customers/c-1  $WEB/healthz"
echo "== producing $DAYS days of history for $CUSTOMERS customers (ending now)"
said=$("$BIN/churnwatch" simulate --customers "$CUSTOMERS" --days "$DAYS" --end now 2>&1) || { echo "$said"; exit 1; }
echo "$said"
produced=$(sed -n 's/^simulate: \([0-9]*\) events .*/\1/p' <<<"$said" | head -1)
# the worker is done when it has taken every event produced (its churnwatch_events_total, all
# outcomes) and its alerts stop growing; alerts alone can stand still for a while mid-history
taken() { get "$WEB/metrics" 2>/dev/null | awk '/^churnwatch_events_total[{]/ {n += $NF} END {printf "%d", n}'; }
last=-1
for _ in $(seq 1 150); do
  sleep 2
  [ "$(taken || echo 0)" -lt "${produced:-0}" ] && continue
  now=$("$BIN/churnwatch" alerts --count 2>/dev/null || echo 0)
  [ "$now" = "$last" ] && break
  last=$now
done
echo "== the worker took $(taken || echo 0) of the $produced events"
echo "== top revenue at risk (GET /at-risk?limit=5):"
get "$WEB/at-risk?limit=5" || true
echo "== Redis: redis-cli -p ${CHURNWATCH_LOCAL_REDIS_PORT:-6379} zrevrange churnwatch:at_risk 0 4 withscores; Prometheus text at $WEB/metrics"
echo "== the first alerts, and all of them summed up (churnwatch alerts; --follow, --tier, --rule, --customer filter):"
"$BIN/churnwatch" alerts --limit "${DEMO_ROWS:-15}"
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
  exit 0
fi
echo "== Ctrl-C to stop"
wait "${pids[0]}"
