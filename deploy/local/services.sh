#!/usr/bin/env bash
# Local services for churnwatch on loopback: a real Apache Kafka broker (KRaft, one combined
# broker+controller node, jars resolved from Maven Central with deploy/local/pom.xml) and a real
# redis-server (Debian's package, installed with apt-get when missing).
#
#   deploy/local/services.sh up [kafka|redis]     start what is not running yet, then health-check
#   deploy/local/services.sh down [kafka|redis]   stop what `up` started (pid files), nothing else
#   deploy/local/services.sh status               what runs where, and the log folder
#   deploy/local/services.sh running              names of the services `up` started that are alive
#
# Idempotent, and safe to call from two places at once (a lock serialises callers).
# Everything lives under .cache/ (ignored by git): jars, Maven repository, data, pid files, logs.
# Logs: .cache/logs/ (kafka.log, kafka.out, redis.log, maven.log, apt.log).
# Settings:
#   CHURNWATCH_LOCAL_KAFKA_PORT  9092 (the controller listens on the next port)
#   CHURNWATCH_LOCAL_REDIS_PORT  6379
#   CHURNWATCH_KAFKA_BOOTSTRAP   pointing anywhere but 127.0.0.1/localhost:<kafka port>: that broker is
#                                used (it must answer) and none is started
#   CHURNWATCH_REDIS_URL         the same for Redis
#   CHURNWATCH_CACHE_DIR         instead of .cache
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${CHURNWATCH_CACHE_DIR:-$ROOT/.cache}
LOGS=$CACHE/logs
RUN=$CACHE/run
POM=$ROOT/deploy/local/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
KAFKA_HOME=$CACHE/kafka-$KAFKA_VERSION
KAFKA_PORT=${CHURNWATCH_LOCAL_KAFKA_PORT:-9092}
CONTROLLER_PORT=$((KAFKA_PORT + 1))
REDIS_PORT=${CHURNWATCH_LOCAL_REDIS_PORT:-6379}
KAFKA_HEAP=${CHURNWATCH_LOCAL_KAFKA_HEAP:-512m}
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
CLUSTER_ID=Y2h1cm53YXRjaC1sb2NhbA # fixed: the storage is ours alone

mkdir -p "$LOGS" "$RUN"
say() { printf 'services: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

external_kafka() {
  local b=${CHURNWATCH_KAFKA_BOOTSTRAP:-}
  [ -n "$b" ] && [ "$b" != "localhost:$KAFKA_PORT" ] && [ "$b" != "127.0.0.1:$KAFKA_PORT" ]
}
external_redis() {
  local u=${CHURNWATCH_REDIS_URL:-}
  [ -n "$u" ] && [[ "$u" != *"localhost:$REDIS_PORT"* ]] && [[ "$u" != *"127.0.0.1:$REDIS_PORT"* ]]
}

# --- Kafka -------------------------------------------------------------------------------------

kafka_jars() {
  # resolved once per pom content; a second run (or an offline one) reuses the jars
  local stamp=$KAFKA_HOME/libs/.pom-sha1 want
  want=$(sha1sum "$POM" | cut -c1-40)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed once to fetch the Kafka jars (apt-get install maven)"
  say "resolving Apache Kafka $KAFKA_VERSION from Maven Central (once; jars in $KAFKA_HOME/libs, repository $CACHE/m2)"
  local t0
  t0=$(now)
  rm -rf "$KAFKA_HOME/libs"
  mvn -q -B -f "$POM" -Dmaven.repo.local="$CACHE/m2" dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_HOME/libs" -DincludeScope=runtime >"$LOGS/maven.log" 2>&1 \
    || { tail -20 "$LOGS/maven.log" >&2; die "Maven failed; see $LOGS/maven.log"; }
  echo "$want" >"$stamp"
  say "Kafka jars ready in $(since "$t0") s"
}

kafka_config() {
  mkdir -p "$KAFKA_HOME/data"
  cat >"$KAFKA_HOME/server.properties" <<PROPS
# written by deploy/local/services.sh: one KRaft node, broker and controller, loopback only
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_HOME/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
log.segment.bytes=67108864
PROPS
}

java_opts() {
  echo "-Xms128m -Xmx$KAFKA_HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError" \
    "-Djava.awt.headless=true -Dlog4j.configuration=file:$ROOT/deploy/local/log4j.properties -Dkafka.logs.dir=$LOGS"
}

kafka_up() {
  if external_kafka; then
    say "using the Kafka at CHURNWATCH_KAFKA_BOOTSTRAP=$CHURNWATCH_KAFKA_BOOTSTRAP (not starting one)"
    return 0
  fi
  if alive kafka; then
    # ours, maybe still starting (another caller started it a moment ago)
    wait_kafka_port
    say "Kafka already running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$RUN/kafka.pid"))"
    return 0
  fi
  rm -f "$RUN/kafka.pid"
  if port_open "$KAFKA_PORT"; then
    say "something else listens on 127.0.0.1:$KAFKA_PORT; using it as the broker (the health check decides)"
    return 0
  fi
  command -v java >/dev/null || die "a Java runtime (17+) is needed to run Kafka (apt-get install openjdk-17-jre-headless)"
  kafka_jars
  kafka_config
  # shellcheck disable=SC2046
  if [ ! -f "$KAFKA_HOME/data/meta.properties" ]; then
    java $(java_opts) -cp "$KAFKA_HOME/libs/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" \
      -c "$KAFKA_HOME/server.properties" >"$LOGS/kafka-format.log" 2>&1 \
      || die "formatting the Kafka storage failed; see $LOGS/kafka-format.log"
  fi
  local t0
  t0=$(now)
  # shellcheck disable=SC2046
  nohup java $(java_opts) -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_HOME/server.properties" \
    >"$LOGS/kafka.out" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/kafka.pid"
  wait_kafka_port
  say "Kafka $KAFKA_VERSION listening on 127.0.0.1:$KAFKA_PORT after $(since "$t0") s (log: $LOGS/kafka.log)"
}

wait_kafka_port() {
  local i
  for i in $(seq 1 240); do
    port_open "$KAFKA_PORT" && return 0
    alive kafka || { tail -20 "$LOGS/kafka.out" "$LOGS/kafka.log" >&2 || true; die "Kafka exited; see $LOGS/kafka.log"; }
    sleep 0.5
  done
  die "Kafka did not open port $KAFKA_PORT in $((i / 2)) s; see $LOGS/kafka.log"
}

# --- Redis -------------------------------------------------------------------------------------

install_redis() {
  say "installing Debian's redis-server package (log: $LOGS/apt.log)"
  # keep the package's own service from starting: we run our own instance
  local policy=/usr/sbin/policy-rc.d created=0 ok=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod +x "$policy" && created=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if as_root apt-get install -y -q --no-install-recommends redis-server >"$LOGS/apt.log" 2>&1 \
    || { as_root apt-get update -q >>"$LOGS/apt.log" 2>&1 \
      && as_root apt-get install -y -q --no-install-recommends redis-server >>"$LOGS/apt.log" 2>&1; }; then
    ok=1
  fi
  [ "$created" = 1 ] && as_root rm -f "$policy"
  [ "$ok" = 1 ] || die "could not install redis-server (needs root or passwordless sudo); see $LOGS/apt.log"
}

redis_up() {
  if external_redis; then
    say "using the Redis at CHURNWATCH_REDIS_URL (not starting one)"
    return 0
  fi
  if alive redis && port_open "$REDIS_PORT"; then
    say "Redis already running on 127.0.0.1:$REDIS_PORT (pid $(cat "$RUN/redis.pid"))"
    return 0
  fi
  if port_open "$REDIS_PORT"; then
    say "something else listens on 127.0.0.1:$REDIS_PORT; using it as Redis (the health check decides)"
    return 0
  fi
  command -v redis-server >/dev/null || install_redis
  mkdir -p "$CACHE/redis"
  rm -f "$RUN/redis.pid"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$RUN/redis.pid" \
    --logfile "$LOGS/redis.log" --dir "$CACHE/redis" --save "" --appendonly no >/dev/null 9>&-
  for _ in $(seq 1 100); do port_open "$REDIS_PORT" && break; sleep 0.1; done
  port_open "$REDIS_PORT" || die "Redis did not start; see $LOGS/redis.log"
  say "Redis listening on 127.0.0.1:$REDIS_PORT (log: $LOGS/redis.log)"
}

# --- both --------------------------------------------------------------------------------------

health() {
  local bootstrap=${CHURNWATCH_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}
  local redis=${CHURNWATCH_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
  "$PY" -c "import kafka, redis" 2>/dev/null || die "the health check needs the venv (make up creates it)"
  "$PY" "$ROOT/deploy/local/healthcheck.py" ${1:+--only "$1"} "$bootstrap" "$redis" \
    || die "health check failed; logs in $LOGS"
}

stop() {
  local name=$1
  if alive "$name"; then
    local pid
    pid=$(cat "$RUN/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && { say "$name did not stop in 30 s; killing it"; kill -9 "$pid" 2>/dev/null || true; }
    say "stopped $name (pid $pid)"
  fi
  rm -f "$RUN/$name.pid"
}

which_services() {
  case "${1:-}" in
    "") echo kafka redis ;;
    kafka | redis) echo "$1" ;;
    *) echo "unknown service: $1 (kafka or redis)" >&2; exit 2 ;;
  esac
}

exec 9>"$RUN/services.lock" # the services themselves are started with fd 9 closed
case "${1:-}" in
  up)
    flock 9
    t0=$(now)
    for s in $(which_services "${2:-}"); do "${s}_up"; done
    health "${2:-}"
    say "up in $(since "$t0") s; logs in $LOGS"
    ;;
  down)
    flock 9
    for s in $(which_services "${2:-}"); do stop "$s"; done
    ;;
  status)
    if alive kafka; then echo "kafka: running (pid $(cat "$RUN/kafka.pid")) on 127.0.0.1:$KAFKA_PORT, Kafka $KAFKA_VERSION"
    elif port_open "$KAFKA_PORT"; then echo "kafka: not ours, but something listens on 127.0.0.1:$KAFKA_PORT"
    else echo "kafka: not running"; fi
    if alive redis; then echo "redis: running (pid $(cat "$RUN/redis.pid")) on 127.0.0.1:$REDIS_PORT"
    elif port_open "$REDIS_PORT"; then echo "redis: not ours, but something listens on 127.0.0.1:$REDIS_PORT"
    else echo "redis: not running"; fi
    echo "logs: $LOGS"
    ;;
  running)
    for s in kafka redis; do if alive "$s"; then echo "$s"; fi; done
    ;;
  *)
    echo "usage: $0 up|down [kafka|redis] | status | running" >&2
    exit 2
    ;;
esac
