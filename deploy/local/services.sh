#!/usr/bin/env bash
# Local services for churnwatch on loopback: a real Apache Kafka broker (KRaft, one node, jars
# resolved from Maven Central with deploy/local/pom.xml) and a real redis-server.
#
#   deploy/local/services.sh up       start what is not running yet, health-check both
#   deploy/local/services.sh down     stop what `up` started (nothing else)
#   deploy/local/services.sh status   what runs where
#
# Idempotent. Logs: .cache/logs/ (kafka.log, kafka.out, redis.log). Settings:
#   CHURNWATCH_LOCAL_KAFKA_PORT (9092; the controller uses the next port), CHURNWATCH_LOCAL_REDIS_PORT (6379),
#   CHURNWATCH_KAFKA_BOOTSTRAP / CHURNWATCH_REDIS_URL pointing elsewhere: use those, start nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${CHURNWATCH_CACHE_DIR:-$ROOT/.cache}
LOGS=$CACHE/logs
RUN=$CACHE/run
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/deploy/local/pom.xml")
KAFKA_HOME=$CACHE/kafka-$KAFKA_VERSION
KAFKA_PORT=${CHURNWATCH_LOCAL_KAFKA_PORT:-9092}
CONTROLLER_PORT=$((KAFKA_PORT + 1))
REDIS_PORT=${CHURNWATCH_LOCAL_REDIS_PORT:-6379}
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
CLUSTER_ID=Y2h1cm53YXRjaC1sb2NhbA  # fixed: the storage is ours alone

mkdir -p "$LOGS" "$RUN"
say() { printf 'services: %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

external_kafka() {
  local b=${CHURNWATCH_KAFKA_BOOTSTRAP:-}
  [ -n "$b" ] && [ "$b" != "localhost:$KAFKA_PORT" ] && [ "$b" != "127.0.0.1:$KAFKA_PORT" ]
}
external_redis() {
  local u=${CHURNWATCH_REDIS_URL:-}
  [ -n "$u" ] && [[ "$u" != *"localhost:$REDIS_PORT"* ]] && [[ "$u" != *"127.0.0.1:$REDIS_PORT"* ]]
}

kafka_jars() {
  local marker=$KAFKA_HOME/libs/.complete
  [ -f "$marker" ] && return 0
  command -v mvn >/dev/null || { say "Maven (mvn) is needed to fetch the Kafka jars"; exit 1; }
  say "resolving Apache Kafka $KAFKA_VERSION from Maven Central (once; cached in $KAFKA_HOME)"
  local t0=$SECONDS
  mvn -q -B -f "$ROOT/deploy/local/pom.xml" -Dmaven.repo.local="$CACHE/m2" \
    dependency:copy-dependencies -DoutputDirectory="$KAFKA_HOME/libs" -DincludeScope=runtime \
    >"$LOGS/maven.log" 2>&1 || { say "Maven failed; see $LOGS/maven.log"; tail -20 "$LOGS/maven.log" >&2; exit 1; }
  touch "$marker"
  say "Kafka jars ready in $((SECONDS - t0)) s"
}

kafka_config() {
  mkdir -p "$KAFKA_HOME/data"
  cat >"$KAFKA_HOME/server.properties" <<PROPS
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

kafka_up() {
  if external_kafka; then
    say "using the Kafka at CHURNWATCH_KAFKA_BOOTSTRAP=$CHURNWATCH_KAFKA_BOOTSTRAP (not starting one)"
    return 0
  fi
  if alive "$RUN/kafka.pid" && port_open "$KAFKA_PORT"; then
    say "Kafka already running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$RUN/kafka.pid"))"
    return 0
  fi
  if port_open "$KAFKA_PORT" && ! alive "$RUN/kafka.pid"; then
    say "something else listens on 127.0.0.1:$KAFKA_PORT; using it as the broker"
    return 0
  fi
  command -v java >/dev/null || { say "a JDK (java) is needed to run Kafka"; exit 1; }
  kafka_jars
  kafka_config
  if [ ! -f "$KAFKA_HOME/data/meta.properties" ]; then
    java -cp "$KAFKA_HOME/libs/*" -Dlog4j.configuration="file:$ROOT/deploy/local/log4j.properties" \
      -Dkafka.logs.dir="$LOGS" kafka.tools.StorageTool format -t "$CLUSTER_ID" \
      -c "$KAFKA_HOME/server.properties" >"$LOGS/kafka-format.log" 2>&1 \
      || { say "formatting the Kafka storage failed; see $LOGS/kafka-format.log"; exit 1; }
  fi
  local t0=$SECONDS
  nohup java -Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/deploy/local/log4j.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_HOME/server.properties" >"$LOGS/kafka.out" 2>&1 &
  echo $! >"$RUN/kafka.pid"
  for _ in $(seq 1 120); do
    port_open "$KAFKA_PORT" && break
    alive "$RUN/kafka.pid" || { say "Kafka exited; see $LOGS/kafka.out and $LOGS/kafka.log"; tail -20 "$LOGS/kafka.out" >&2; exit 1; }
    sleep 0.5
  done
  port_open "$KAFKA_PORT" || { say "Kafka did not open port $KAFKA_PORT in 60 s; see $LOGS/kafka.log"; exit 1; }
  say "Kafka $KAFKA_VERSION listening on 127.0.0.1:$KAFKA_PORT after $((SECONDS - t0)) s (logs: $LOGS/kafka.log)"
}

redis_up() {
  if external_redis; then
    say "using the Redis at CHURNWATCH_REDIS_URL (not starting one)"
    return 0
  fi
  if alive "$RUN/redis.pid" && port_open "$REDIS_PORT"; then
    say "Redis already running on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  if port_open "$REDIS_PORT"; then
    say "something else listens on 127.0.0.1:$REDIS_PORT; using it as Redis"
    return 0
  fi
  if ! command -v redis-server >/dev/null; then
    say "installing Debian's redis-server package"
    # keep the package's own service from starting: we run our own instance
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1; fi
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >"$LOGS/apt.log" 2>&1 \
      || { apt-get update -q >>"$LOGS/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >>"$LOGS/apt.log" 2>&1; }; } \
      || { [ "$created_policy" = 1 ] && rm -f "$policy"; say "could not install redis-server; see $LOGS/apt.log"; exit 1; }
    [ "$created_policy" = 1 ] && rm -f "$policy"
  fi
  mkdir -p "$CACHE/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$RUN/redis.pid" \
    --logfile "$LOGS/redis.log" --dir "$CACHE/redis" --save "" --appendonly no >/dev/null
  for _ in $(seq 1 50); do port_open "$REDIS_PORT" && break; sleep 0.1; done
  port_open "$REDIS_PORT" || { say "Redis did not start; see $LOGS/redis.log"; exit 1; }
  say "Redis listening on 127.0.0.1:$REDIS_PORT (logs: $LOGS/redis.log)"
}

health() {
  local bootstrap=${CHURNWATCH_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}
  local redis=${CHURNWATCH_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
  "$PY" "$ROOT/deploy/local/healthcheck.py" "$bootstrap" "$redis" \
    || { say "health check failed; logs in $LOGS"; exit 1; }
}

stop_pid() {
  local name=$1 file=$RUN/$1.pid
  if alive "$file"; then
    local pid
    pid=$(cat "$file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$file"
}

case "${1:-}" in
  up)
    t0=$SECONDS
    kafka_up
    redis_up
    health
    say "up in $((SECONDS - t0)) s; logs in $LOGS"
    ;;
  down)
    stop_pid kafka
    stop_pid redis
    ;;
  status)
    if alive "$RUN/kafka.pid"; then echo "kafka: running (pid $(cat "$RUN/kafka.pid")) on 127.0.0.1:$KAFKA_PORT"; else echo "kafka: not started by us"; fi
    if alive "$RUN/redis.pid"; then echo "redis: running (pid $(cat "$RUN/redis.pid")) on 127.0.0.1:$REDIS_PORT"; else echo "redis: not started by us"; fi
    echo "logs: $LOGS"
    ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
