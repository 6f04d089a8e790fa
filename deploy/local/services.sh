#!/usr/bin/env bash
# Local services for churnwatch on loopback: a real Apache Kafka broker (KRaft, one combined
# broker+controller node, jars resolved from Maven Central with deploy/local/pom.xml) and a real
# redis-server (Debian's package, installed with apt-get when missing).
# On request, secured twins for the security tests (never started by a plain `up`):
#   kafka-secure   a second broker (own data dir and ports) whose client listeners are SASL_SSL
#                  (SCRAM-SHA-512 users `admin`, the broker's own, and `churnwatch`, the clients',
#                  created by Kafka's storage tool) and SSL with a client certificate required;
#                  TLS with a test CA made here
#   redis-secure   a second redis-server with a TLS port only (no plaintext port), the `default`
#                  user off and an ACL user `churnwatch` limited to churnwatch:* keys
# The CA, certificates, Kafka keystore, Java truststore and random passwords are made once, with
# openssl and the JDK's keytool, under .cache/secure/ (mode 700; nothing of it is committed), and
# .cache/secure/secure.env holds the CHURNWATCH_* settings that reach both (read it, never print it),
# .cache/secure/mtls.env those of the mutual-TLS listener.
#
#   deploy/local/services.sh up [kafka|redis|secure|kafka-secure|redis-secure]
#                                                 start what is not running yet, then health-check
#                                                 (no name: kafka and redis; `secure`: the two twins)
#   deploy/local/services.sh down [NAME]          stop what `up` started (pid files), nothing else
#                                                 (no name: all four)
#   deploy/local/services.sh status               what runs where, and the log folder
#   deploy/local/services.sh running              names of the services `up` started that are alive
#
# Idempotent, and safe to call from two places at once (a lock serialises callers).
# Everything lives under .cache/ (ignored by git): jars, Maven repository, data, pid files, logs.
# Logs: .cache/logs/ (kafka.log, kafka.out, redis.log, maven.log, apt.log).
# Settings:
#   CHURNWATCH_LOCAL_KAFKA_PORT  9092 (the controller listens on the next port)
#   CHURNWATCH_LOCAL_REDIS_PORT  6379
#   CHURNWATCH_LOCAL_SECURE_KAFKA_PORT  9292 (SASL_SSL; the controller listens on the next port, and
#                                       a mutual-TLS listener on the one after: 9294)
#   CHURNWATCH_LOCAL_SECURE_REDIS_PORT  6392 (TLS)
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
SECURE=$CACHE/secure
SKAFKA_HOME=$CACHE/kafka-secure # its own config and data; the jars are $KAFKA_HOME's
SKAFKA_PORT=${CHURNWATCH_LOCAL_SECURE_KAFKA_PORT:-9292}
SKAFKA_CONTROLLER_PORT=$((SKAFKA_PORT + 1))
SKAFKA_MTLS_PORT=$((SKAFKA_PORT + 2))
SECURE_VERSION=2 # bump when secure_material makes more
SREDIS_PORT=${CHURNWATCH_LOCAL_SECURE_REDIS_PORT:-6392}
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

broker_storage_props() { # DATA_DIR AUTO_CREATE_TOPICS: what both local brokers share
  cat <<PROPS
log.dirs=$1
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=$2
log.retention.hours=168
log.segment.bytes=67108864
PROPS
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
$(broker_storage_props "$KAFKA_HOME/data" true)
PROPS
}

java_opts() { # [log name]
  echo "-Xms128m -Xmx$KAFKA_HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError" \
    "-Djava.awt.headless=true -Dlog4j.configuration=file:$ROOT/deploy/local/log4j.properties -Dkafka.logs.dir=$LOGS" \
    "-Dkafka.log.name=${1:-kafka}"
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

wait_kafka_port() { # [name port]
  local i name=${1:-kafka} port=${2:-$KAFKA_PORT}
  for i in $(seq 1 240); do
    port_open "$port" && return 0
    alive "$name" || { tail -20 "$LOGS/$name.out" "$LOGS/$name.log" >&2 || true; die "$name exited; see $LOGS/$name.log"; }
    sleep 0.5
  done
  die "$name did not open port $port in $((i / 2)) s; see $LOGS/$name.log"
}

# --- secured twins -----------------------------------------------------------------------------

secure_material() {
  # once: passwords, a test CA, a server certificate for 127.0.0.1/localhost signed by it (PEM for
  # Redis, a PKCS12 keystore for Kafka), a Java truststore of the CA, and a CA nobody trusts
  [ "$(cat "$SECURE/.complete" 2>/dev/null)" = "$SECURE_VERSION" ] && return 0
  command -v openssl >/dev/null || die "openssl is needed to make the test certificates (apt-get install openssl)"
  command -v keytool >/dev/null || die "the JDK's keytool is needed to make the Kafka truststore (a JDK 17+)"
  say "making the test CA, certificates and passwords under $SECURE (once)"
  rm -rf "$SECURE"
  alive kafka-secure || rm -rf "$SKAFKA_HOME/data" # its SCRAM users hold the old passwords
  mkdir -p "$SECURE"
  chmod 700 "$SECURE"
  (
    umask 077
    cd "$SECURE"
    for name in kafka-admin kafka-client redis-client keystore; do openssl rand -hex 16 >"$name.password"; done
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=churnwatch local test CA" \
      -keyout ca.key -out ca.pem
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=a CA churnwatch does not trust" \
      -keyout untrusted-ca.key -out untrusted-ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile server.ext \
      -out server.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=churnwatch" -keyout client.key -out client.csr
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile client.ext \
      -out client.pem
    openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name broker \
      -passout file:keystore.password -out broker.p12
    keytool -importcert -noprompt -alias churnwatch-test-ca -file ca.pem -keystore truststore.p12 \
      -storetype PKCS12 -storepass:file keystore.password
  ) >"$LOGS/secure-setup.log" 2>&1 || die "making the test certificates failed; see $LOGS/secure-setup.log"
  echo "$SECURE_VERSION" >"$SECURE/.complete"
}

secure_env() {
  # the settings a churnwatch client needs to reach both twins (mode 600, read by the tests)
  (
    umask 077
    cat >"$SECURE/secure.env" <<ENV
CHURNWATCH_KAFKA_BOOTSTRAP=127.0.0.1:$SKAFKA_PORT
CHURNWATCH_KAFKA_SECURITY_PROTOCOL=SASL_SSL
CHURNWATCH_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
CHURNWATCH_KAFKA_SASL_USERNAME=churnwatch
CHURNWATCH_KAFKA_SASL_PASSWORD=$(cat "$SECURE/kafka-client.password")
CHURNWATCH_KAFKA_SSL_CAFILE=$SECURE/ca.pem
CHURNWATCH_REDIS_URL=rediss://churnwatch:$(cat "$SECURE/redis-client.password")@127.0.0.1:$SREDIS_PORT/0
CHURNWATCH_REDIS_SSL_CAFILE=$SECURE/ca.pem
ENV
    cat >"$SECURE/mtls.env" <<ENV
CHURNWATCH_KAFKA_BOOTSTRAP=127.0.0.1:$SKAFKA_MTLS_PORT
CHURNWATCH_KAFKA_SECURITY_PROTOCOL=SSL
CHURNWATCH_KAFKA_SSL_CAFILE=$SECURE/ca.pem
CHURNWATCH_KAFKA_SSL_CERTFILE=$SECURE/client.pem
CHURNWATCH_KAFKA_SSL_KEYFILE=$SECURE/client.key
ENV
  )
}

kafka_secure_config() {
  mkdir -p "$SKAFKA_HOME/data"
  chmod 700 "$SKAFKA_HOME"
  (
    umask 077
    cat >"$SKAFKA_HOME/server.properties" <<PROPS
# written by deploy/local/services.sh: one KRaft node whose only client listener is SASL_SSL
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$SKAFKA_CONTROLLER_PORT
listeners=SASL_SSL://127.0.0.1:$SKAFKA_PORT,CONTROLLER://127.0.0.1:$SKAFKA_CONTROLLER_PORT,SSL://127.0.0.1:$SKAFKA_MTLS_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$SKAFKA_PORT,SSL://127.0.0.1:$SKAFKA_MTLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT,SSL:SSL
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(cat "$SECURE/kafka-admin.password")";
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECURE/broker.p12
ssl.keystore.password=$(cat "$SECURE/keystore.password")
ssl.truststore.type=PKCS12
ssl.truststore.location=$SECURE/truststore.p12
ssl.truststore.password=$(cat "$SECURE/keystore.password")
ssl.client.auth=none
$(broker_storage_props "$SKAFKA_HOME/data" false)
PROPS
  )
}

kafka_secure_up() {
  if alive kafka-secure; then
    wait_kafka_port kafka-secure "$SKAFKA_PORT"
    say "secured Kafka already running on 127.0.0.1:$SKAFKA_PORT (pid $(cat "$RUN/kafka-secure.pid"))"
    return 0
  fi
  rm -f "$RUN/kafka-secure.pid"
  for port in "$SKAFKA_PORT" "$SKAFKA_CONTROLLER_PORT" "$SKAFKA_MTLS_PORT"; do
    port_open "$port" && die "127.0.0.1:$port is taken by another program; set CHURNWATCH_LOCAL_SECURE_KAFKA_PORT"
  done
  command -v java >/dev/null || die "a Java runtime (17+) is needed to run Kafka (apt-get install openjdk-17-jre-headless)"
  kafka_jars
  secure_material
  kafka_secure_config
  # shellcheck disable=SC2046
  if [ ! -f "$SKAFKA_HOME/data/meta.properties" ]; then
    # the SCRAM users go into the cluster metadata with Kafka's own storage tool (KRaft's way)
    java $(java_opts kafka-secure) -cp "$KAFKA_HOME/libs/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" \
      -c "$SKAFKA_HOME/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$SECURE/kafka-admin.password")]" \
      --add-scram "SCRAM-SHA-512=[name=churnwatch,password=$(cat "$SECURE/kafka-client.password")]" \
      >"$LOGS/kafka-secure-format.log" 2>&1 \
      || die "formatting the secured Kafka storage failed; see $LOGS/kafka-secure-format.log"
  fi
  local t0
  t0=$(now)
  # shellcheck disable=SC2046
  nohup java $(java_opts kafka-secure) -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$SKAFKA_HOME/server.properties" \
    >"$LOGS/kafka-secure.out" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/kafka-secure.pid"
  wait_kafka_port kafka-secure "$SKAFKA_PORT"
  say "secured Kafka (SASL_SSL, SCRAM-SHA-512) on 127.0.0.1:$SKAFKA_PORT after $(since "$t0") s (log: $LOGS/kafka-secure.log)"
}

redis_secure_up() {
  if alive redis-secure && port_open "$SREDIS_PORT"; then
    say "secured Redis already running on 127.0.0.1:$SREDIS_PORT (pid $(cat "$RUN/redis-secure.pid"))"
    return 0
  fi
  rm -f "$RUN/redis-secure.pid"
  port_open "$SREDIS_PORT" && die "127.0.0.1:$SREDIS_PORT is taken by another program; set CHURNWATCH_LOCAL_SECURE_REDIS_PORT"
  command -v redis-server >/dev/null || install_redis
  secure_material
  mkdir -p "$CACHE/redis-secure"
  (
    # a config file (mode 600), so that the password is not on a command line
    umask 077
    cat >"$SECURE/redis.conf" <<CONF
port 0
bind 127.0.0.1
tls-port $SREDIS_PORT
tls-cert-file $SECURE/server.pem
tls-key-file $SECURE/server.key
tls-ca-cert-file $SECURE/ca.pem
tls-auth-clients no
user default off
user churnwatch on >$(cat "$SECURE/redis-client.password") ~churnwatch:* resetchannels -@all +@read +@write +@connection -@dangerous +info
daemonize yes
pidfile $RUN/redis-secure.pid
logfile $LOGS/redis-secure.log
dir $CACHE/redis-secure
save ""
appendonly no
CONF
  )
  redis-server "$SECURE/redis.conf" >/dev/null 9>&-
  for _ in $(seq 1 100); do port_open "$SREDIS_PORT" && break; sleep 0.1; done
  port_open "$SREDIS_PORT" || die "secured Redis did not start; see $LOGS/redis-secure.log"
  say "secured Redis (TLS, ACL user churnwatch) on 127.0.0.1:$SREDIS_PORT (log: $LOGS/redis-secure.log)"
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

health_secure() { # kafka-secure | redis-secure
  "$PY" -c "import kafka, redis, agents" 2>/dev/null || die "the health check needs the venv (make up creates it)"
  "$PY" "$ROOT/deploy/local/healthcheck.py" --only "${1%-secure}" --env "$SECURE/secure.env" \
    || die "health check of $1 failed; logs in $LOGS"
  if [ "$1" = kafka-secure ]; then
    "$PY" "$ROOT/deploy/local/healthcheck.py" --only kafka --env "$SECURE/mtls.env" \
      || die "health check of $1's mutual-TLS listener failed; logs in $LOGS"
  fi
}

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

ALL="kafka redis kafka-secure redis-secure"
which_services() { # what a name means; no name: $2 (kafka redis for up, all four for down)
  case "${1:-}" in
    "") echo "$2" ;;
    secure) echo kafka-secure redis-secure ;;
    kafka | redis | kafka-secure | redis-secure) echo "$1" ;;
    *) echo "unknown service: $1 (kafka, redis, secure, kafka-secure or redis-secure)" >&2; exit 2 ;;
  esac
}

exec 9>"$RUN/services.lock" # the services themselves are started with fd 9 closed
case "${1:-}" in
  up)
    flock 9
    t0=$(now)
    plain=""
    for s in $(which_services "${2:-}" "kafka redis"); do
      "${s//-/_}_up"
      case $s in
        *-secure) secure_env; health_secure "$s" ;;
        *) plain="$plain $s" ;;
      esac
    done
    case $plain in
      " kafka redis") health ;;
      " kafka" | " redis") health "${plain# }" ;;
    esac
    say "up in $(since "$t0") s; logs in $LOGS"
    ;;
  down)
    flock 9
    for s in $(which_services "${2:-}" "$ALL"); do stop "$s"; done
    ;;
  status)
    if alive kafka; then echo "kafka: running (pid $(cat "$RUN/kafka.pid")) on 127.0.0.1:$KAFKA_PORT, Kafka $KAFKA_VERSION"
    elif port_open "$KAFKA_PORT"; then echo "kafka: not ours, but something listens on 127.0.0.1:$KAFKA_PORT"
    else echo "kafka: not running"; fi
    if alive redis; then echo "redis: running (pid $(cat "$RUN/redis.pid")) on 127.0.0.1:$REDIS_PORT"
    elif port_open "$REDIS_PORT"; then echo "redis: not ours, but something listens on 127.0.0.1:$REDIS_PORT"
    else echo "redis: not running"; fi
    if alive kafka-secure; then echo "kafka-secure: running (pid $(cat "$RUN/kafka-secure.pid")) on 127.0.0.1:$SKAFKA_PORT (SASL_SSL)"
    else echo "kafka-secure: not running"; fi
    if alive redis-secure; then echo "redis-secure: running (pid $(cat "$RUN/redis-secure.pid")) on 127.0.0.1:$SREDIS_PORT (TLS)"
    else echo "redis-secure: not running"; fi
    echo "logs: $LOGS; settings for the secured ones: $SECURE/secure.env"
    ;;
  running)
    for s in $ALL; do if alive "$s"; then echo "$s"; fi; done
    ;;
  *)
    echo "usage: $0 up|down [kafka|redis|secure|kafka-secure|redis-secure] | status | running" >&2
    exit 2
    ;;
esac
