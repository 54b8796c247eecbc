#!/usr/bin/env bash
# Apache Kafka for the tests: one KRaft node (broker and controller in one JVM) on loopback.
#
#   scripts/infra/kafka.sh start   start it unless it runs; progress on stderr, `kafka://127.0.0.1:PORT` last on stdout
#   scripts/infra/kafka.sh stop    stop it and remove its data
#
# The jars come from Maven Central through `mvn` and are cached in
# ${RADLAB_TOOLS_DIR:-$HOME/.cache/radlab/tools}/kafka-<version>/libs; config, log and data live in
# ${RADLAB_INFRA_DIR:-/tmp/radlab-infra-$(id -u)}/kafka. Ports: RADLAB_KAFKA_PORT (default 19092) and
# RADLAB_KAFKA_CONTROLLER_PORT (default 19093); RADLAB_KAFKA_START_TIMEOUT (seconds, default 120).
set -euo pipefail
# shellcheck source=scripts/infra/server_pid.sh
. "$(dirname "${BASH_SOURCE[0]}")/server_pid.sh"

# Pinned; the cache folder is keyed by it, so bumping it downloads the new jars.
KAFKA_VERSION="4.3.1"
# The broker logs through SLF4J; Kafka's own tree brings log4j-core 2.25.4 but no SLF4J binding,
# so these two (SLF4J 2 serves Kafka's 1.7-era callers) route it into a log file.
SLF4J_VERSION="2.0.17"
LOG4J_VERSION="2.25.4"
DEPENDENCY_PLUGIN_VERSION="3.8.1"

TOOLS_DIR="${RADLAB_TOOLS_DIR:-${RADLAB_CACHE:-${HOME}/.cache/radlab}/tools}"
INFRA_DIR="${RADLAB_INFRA_DIR:-/tmp/radlab-infra-$(id -u)}"
PORT="${RADLAB_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${RADLAB_KAFKA_CONTROLLER_PORT:-19093}"
START_TIMEOUT="${RADLAB_KAFKA_START_TIMEOUT:-120}"

KAFKA_HOME="${TOOLS_DIR}/kafka-${KAFKA_VERSION}"
STATE="${INFRA_DIR}/kafka"
PID_FILE="${STATE}/kafka.pid"
URL="kafka://127.0.0.1:${PORT}"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }

# install_jars: resolve kafka_2.13 and its runtime dependencies into a temp dir beside the cache
# entry, then rename it into place, so an interrupted download is never taken for a cached one.
install_jars() {
  if [[ -f "${KAFKA_HOME}/libs/kafka_2.13-${KAFKA_VERSION}.jar" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || { log "mvn is not on PATH: install Maven (and Java 17+) to fetch Kafka ${KAFKA_VERSION}"; return 1; }
  mkdir -p "${TOOLS_DIR}"
  local tmp
  tmp="$(mktemp -d "${TOOLS_DIR}/.kafka-${KAFKA_VERSION}.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: tmp is local and gone when the trap fires
  trap "rm -rf '${tmp}'" EXIT
  cat >"${tmp}/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.radlab.infra</groupId>
  <artifactId>kafka-server</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>${SLF4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>${LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>${LOG4J_VERSION}</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>${DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
  log "downloading Apache Kafka ${KAFKA_VERSION} jars from Maven Central (once; cached in ${KAFKA_HOME})..."
  local started=${SECONDS}
  # A private local repository keeps the download whole in tmp and ~/.m2 untouched.
  if ! (cd "${tmp}" && mvn -B -Dstyle.color=never -Dmaven.repo.local="${tmp}/repository" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="${tmp}/out/libs" >"${tmp}/mvn.log" 2>&1); then
    tail -n 40 "${tmp}/mvn.log" >&2
    log "mvn could not fetch org.apache.kafka:kafka_2.13:${KAFKA_VERSION}; its output ends above"
    return 1
  fi
  # Another run may have finished first; its jars are as good as ours.
  if ! mv -T "${tmp}/out" "${KAFKA_HOME}" 2>/dev/null && [[ ! -f "${KAFKA_HOME}/libs/kafka_2.13-${KAFKA_VERSION}.jar" ]]; then
    log "could not move the downloaded jars into ${KAFKA_HOME}"
    return 1
  fi
  rm -rf "${tmp}"
  trap - EXIT
  log "fetched Kafka ${KAFKA_VERSION} in $((SECONDS - started))s"
}

running_pid() {
  local pid
  [[ -f "${PID_FILE}" ]] || return 1
  pid="$(cat "${PID_FILE}")"
  [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 1
  # A recycled pid is not our broker.
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  printf '%s\n' "${pid}"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_config() {
  cat >"${STATE}/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${STATE}/data
num.partitions=1
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests join groups and kill members all the time: no waiting for more members to join, and
# short session timeouts allowed, so a crashed member's partitions move within seconds.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
EOF
  cat >"${STATE}/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${STATE}/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

fail_start() {
  log "$1"
  for file in kafka.log stdout.log; do
    if [[ -s "${STATE}/${file}" ]]; then
      log "last lines of ${STATE}/${file}:"
      tail -n 40 "${STATE}/${file}" >&2
    fi
  done
  exit 1
}

start() {
  if running_pid >/dev/null; then
    log "already running (pid $(cat "${PID_FILE}"))"
    printf '%s\n' "${URL}"
    return 0
  fi
  command -v java >/dev/null 2>&1 || { log "java is not on PATH: Kafka ${KAFKA_VERSION} needs Java 17 or newer"; exit 1; }
  if port_open "${PORT}" || port_open "${CONTROLLER_PORT}"; then
    log "port ${PORT} or ${CONTROLLER_PORT} on 127.0.0.1 is taken by another program; stop it, or set RADLAB_KAFKA_PORT and RADLAB_KAFKA_CONTROLLER_PORT"
    exit 1
  fi
  install_jars
  local started=${SECONDS}
  rm -rf "${STATE}"
  mkdir -p "${STATE}/data"
  write_config

  local java_opts=(-Xms128m -Xmx512m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=${STATE}/log4j2.properties")
  local cluster_id
  # A random KRaft cluster id: 16 bytes in URL-safe base64 without padding (a leading '-' would read as an option).
  cluster_id="-"
  while [[ "${cluster_id}" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  if ! java "${java_opts[@]}" -cp "${KAFKA_HOME}/libs/*" kafka.tools.StorageTool format \
      -t "${cluster_id}" -c "${STATE}/server.properties" >"${STATE}/stdout.log" 2>&1; then
    fail_start "formatting the KRaft storage failed"
  fi

  # Its own session, no terminal and no inherited pipes: the caller (pytest's capture) gets EOF
  # when this script exits, and the broker outlives it. fd 9 is the lock; the broker must not hold it.
  setsid java "${java_opts[@]}" -cp "${KAFKA_HOME}/libs/*" kafka.Kafka "${STATE}/server.properties" \
    </dev/null >>"${STATE}/stdout.log" 2>&1 9>&- &
  local pid
  pid=$(server_pid $! "kafka\.Kafka ${STATE}/server\.properties")
  echo "${pid}" >"${PID_FILE}"
  log "starting Kafka ${KAFKA_VERSION} (pid ${pid}) on 127.0.0.1:${PORT}, log in ${STATE}/kafka.log"

  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q 'Kafka Server started' "${STATE}/kafka.log" 2>/dev/null && port_open "${PORT}"; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      fail_start "Kafka exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      kill -KILL "${pid}" 2>/dev/null || true
      fail_start "Kafka did not accept connections on 127.0.0.1:${PORT} within ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "Kafka ready in $((SECONDS - started))s"
  printf '%s\n' "${URL}"
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    kill -TERM "${pid}" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "${pid}" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        log "Kafka (pid ${pid}) ignored SIGTERM for 30s; killing it"
        kill -KILL "${pid}" 2>/dev/null || true
      fi
      sleep 0.2
    done
    log "stopped Kafka (pid ${pid})"
  fi
  rm -rf "${STATE}"
}

main() {
  case "${1:-}" in
    start | stop) ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
  esac
  mkdir -p "${INFRA_DIR}"
  # One start or stop at a time (two test sessions may ask together).
  exec 9>"${INFRA_DIR}/kafka.lock"
  flock 9
  "$1"
}

main "$@"
