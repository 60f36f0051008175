#!/usr/bin/env bash
# The real test rig, part 3: one Apache Kafka broker (KRaft, combined broker + controller) on loopback.
#
#   kafka.sh fetch                               jars from Maven Central into $CACHE/kafka/<version>/lib; prints it
#   kafka.sh start DIR PORT CONTROLLER_PORT SASL_PORT
#                                                formats KRaft storage in DIR (once), starts the broker in the
#                                                background, waits until it listens; prints its pid (also DIR/pid)
#   kafka.sh stop DIR                            SIGTERM the pid in DIR/pid, SIGKILL after 30 s
#
# KAFKA_VERSION selects the broker (default 3.9.2; e.g. KAFKA_VERSION=4.4.0 for the 4.x check). Downloads are
# cached under $AUDITFLOW_CACHE/kafka (default /var/cache/auditflow/kafka), fetched once under a flock, so
# concurrent callers are safe. Each broker lives in its own DIR with its own ports: tests never share state by
# accident. Listeners: PLAINTEXT on PORT, SASL_PLAINTEXT on SASL_PORT (PLAIN and SCRAM-SHA-256, user
# "auditflow", password "auditflow-secret"), the controller on CONTROLLER_PORT. KAFKA_HOST (default 127.0.0.1) is
# the address PLAINTEXT and SASL_PLAINTEXT listen on and advertise: the cluster tests give this machine's, which
# pods can reach.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
VERSION=${KAFKA_VERSION:-3.9.2}
HOST=${KAFKA_HOST:-127.0.0.1}
KCACHE=$CACHE/kafka
LIB=$KCACHE/$VERSION/lib
SASL_USER=auditflow
SASL_PASSWORD=auditflow-secret
die() { echo "kafka.sh: error: $*" >&2; exit 1; }

fetch() {
  [ -f "$LIB/.complete" ] && return 0
  command -v java >/dev/null || die "java is missing (Java 17+ runs the broker): apt-get install -y openjdk-17-jre-headless"
  command -v mvn >/dev/null || die "mvn is missing (it fetches the broker from Maven Central): apt-get install -y maven"
  mkdir -p "$KCACHE"
  (
    flock -w 900 9 || die "timed out waiting for $KCACHE/fetch.lock"
    [ -f "$LIB/.complete" ] && exit 0
    local work profile=()
    work=$(mktemp -d "$KCACHE/fetch.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    cp "$HERE/pom.xml" "$work/pom.xml"
    case "$VERSION" in 3.*) ;; *) profile=(-Dkafka4) ;; esac
    echo "kafka.sh: fetching org.apache.kafka:kafka_2.13:$VERSION from Maven Central ..." >&2
    (cd "$work" && mvn -q -B -Dmaven.repo.local="$KCACHE/m2" -Dkafka.version="$VERSION" "${profile[@]}" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$work/lib") >&2 \
      || die "mvn dependency:copy-dependencies for Kafka $VERSION failed (see above; Maven Central must be reachable)"
    ls "$work/lib"/kafka_2.13-*.jar >/dev/null 2>&1 || die "Kafka $VERSION jars missing after mvn"
    touch "$work/lib/.complete"
    rm -rf "$LIB"
    mkdir -p "$(dirname "$LIB")"
    mv "$work/lib" "$LIB"
  ) 9>"$KCACHE/fetch.lock"
}

write_config() { # DIR PORT CPORT SASL_PORT
  local dir=$1 port=$2 cport=$3 sport=$4
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://$HOST:$port,SASL_PLAINTEXT://$HOST:$sport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://$HOST:$port,SASL_PLAINTEXT://$HOST:$sport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$SASL_USER" password="$SASL_PASSWORD" user_$SASL_USER="$SASL_PASSWORD";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$dir/data
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  # 3.x logs through log4j 1 (reload4j), 4.x through log4j 2
  cat >"$dir/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
PROPS
  cat >"$dir/log4j2.properties" <<'PROPS'
appender.console.type=Console
appender.console.name=STDOUT
appender.console.layout.type=PatternLayout
appender.console.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
logger.clients.name=org.apache.kafka.clients
logger.clients.level=WARN
PROPS
}

java_opts() { # DIR
  echo "-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true -Dlog4j.configuration=file:$1/log4j.properties -Dlog4j2.configurationFile=$1/log4j2.properties"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

start() { # DIR PORT CPORT SASL_PORT
  [ $# -eq 4 ] || die "usage: kafka.sh start DIR PORT CONTROLLER_PORT SASL_PORT"
  local dir=$1 port=$2 cport=$3 sport=$4 pid
  fetch
  mkdir -p "$dir"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then die "a broker already runs from $dir (pid $(cat "$dir/pid"))"; fi
  write_config "$dir" "$port" "$cport" "$sport"
  # shellcheck disable=SC2046
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cid
    # A KRaft cluster id is 16 random bytes in URL-safe base64, so one in 64 starts with '-' and the storage
    # tool would take it for an option. Kafka's own Uuid.randomUuid() draws again in that case; so do we, and
    # the id is also passed as --cluster-id=ID, which can never be read as an option.
    # KAFKA_CLUSTER_ID forces one (test/kafka/rig.test.ts passes one that starts with '-').
    cid=${KAFKA_CLUSTER_ID:--}
    while [[ -z "${KAFKA_CLUSTER_ID:-}" && "$cid" == -* ]]; do cid=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
    java $(java_opts "$dir") -cp "$LIB/*" kafka.tools.StorageTool format "--cluster-id=$cid" -c "$dir/server.properties" \
      --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]" >"$dir/format.log" 2>&1 \
      || die "formatting KRaft storage in $dir failed: $(tail -20 "$dir/format.log")"
  fi
  # setsid: the broker must outlive this script, and a test's SIGINT must not reach it before its stop()
  # shellcheck disable=SC2046
  setsid java $(java_opts "$dir") -cp "$LIB/*" kafka.Kafka "$dir/server.properties" >>"$dir/broker.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then die "the broker (pid $pid) exited during startup: $(tail -30 "$dir/broker.log")"; fi
    if port_open "$port" && port_open "$sport"; then echo "$pid"; return 0; fi
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
  die "the broker did not listen on $HOST:$port within 120 s: $(tail -30 "$dir/broker.log")"
}

stop() { # DIR
  [ $# -eq 1 ] || die "usage: kafka.sh stop DIR"
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid"
}

cmd=${1:-}; shift || true
case "$cmd" in
  fetch) fetch; echo "$LIB" ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  *) die "usage: kafka.sh fetch | start DIR PORT CONTROLLER_PORT SASL_PORT | stop DIR" ;;
esac
