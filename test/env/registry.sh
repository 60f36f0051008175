#!/usr/bin/env bash
# A real OCI registry for the OCI artifact tests: Debian's docker-registry (CNCF distribution 2.8) on loopback with
# TLS (a CA made here with openssl, and a serving certificate for 127.0.0.1/localhost signed by it) and htpasswd
# (bcrypt) basic auth. Prints, as its last stdout line, a JSON object:
#   {"address":"127.0.0.1:PORT","ca":".../ca.pem","username":"...","password":"...","dir":"...","pid":N}
#
#   registry.sh          start (or reuse a healthy running instance)
#   registry.sh stop     stop it and remove its run state ($AUDITFLOW_CACHE/registry/run)
#
# Idempotent and serialized by flock. The CA, certificate and password live in the run directory, so a stop (or
# test/env/reset.sh) makes the next start issue fresh ones; the storage is under the run directory too.
set -euo pipefail
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
BASE=$CACHE/registry
RUN=${REGISTRY_RUN_DIR:-$BASE/run}
USER_NAME=auditflow
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "registry.sh: error: $*" >&2; exit 1; }
note() { echo "registry.sh: $*" >&2; }
mkdir -p "$BASE"
exec 9>"$BASE/.lock"
flock -w 300 9 || die "timed out waiting for $BASE/.lock"

stop() {
  if [ -f "$RUN/registry.pid" ]; then
    local pid; pid=$(cat "$RUN/registry.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$RUN"
}
if [ "${1:-}" = stop ]; then stop; note "stopped, $RUN removed"; exit 0; fi

print_env() {
  printf '{"address":"127.0.0.1:%s","ca":"%s","username":"%s","password":"%s","dir":"%s","pid":%s}\n' \
    "$(cat "$RUN/port")" "$RUN/ca.pem" "$USER_NAME" "$(cat "$RUN/password")" "$RUN" "$(cat "$RUN/registry.pid")"
}
healthy() { # the process lives and answers /v2/ (401 without credentials)
  [ -f "$RUN/registry.pid" ] && [ -f "$RUN/port" ] && kill -0 "$(cat "$RUN/registry.pid")" 2>/dev/null || return 1
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$RUN/ca.pem" "https://127.0.0.1:$(cat "$RUN/port")/v2/" 2>/dev/null || true)
  [ "$code" = 401 ]
}
if healthy; then print_env; exit 0; fi
stop

[ "$(id -u)" = 0 ] || die "must run as root (installs docker-registry and apache2-utils with apt when missing)"
bash "$HERE/packages.sh" docker-registry apache2-utils openssl curl
BIN=/usr/bin/docker-registry
[ -x "$BIN" ] || die "$BIN missing after installing docker-registry"
command -v htpasswd >/dev/null || die "htpasswd missing after installing apache2-utils"

mkdir -p "$RUN/data"
chmod 700 "$RUN"
# a CA, and a serving certificate signed by it for the loopback names
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "/CN=auditflow test registry CA" \
  -keyout "$RUN/ca.key" -out "$RUN/ca.pem" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null \
  || die "openssl could not create the CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" -keyout "$RUN/tls.key" -out "$RUN/tls.csr" 2>/dev/null \
  || die "openssl could not create the serving key"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > "$RUN/tls.ext"
openssl x509 -req -in "$RUN/tls.csr" -CA "$RUN/ca.pem" -CAkey "$RUN/ca.key" -CAcreateserial -days 30 -extfile "$RUN/tls.ext" -out "$RUN/tls.pem" 2>/dev/null \
  || die "openssl could not sign the serving certificate"
# bcrypt htpasswd (distribution accepts only bcrypt)
openssl rand -hex 12 > "$RUN/password"
htpasswd -Bbc "$RUN/htpasswd" "$USER_NAME" "$(cat "$RUN/password")" 2>/dev/null || die "htpasswd -B failed"
# a free loopback port
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
echo "$PORT" > "$RUN/port"
cat > "$RUN/config.yml" <<CFG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $RUN/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
  secret: $(openssl rand -hex 16)
  tls:
    certificate: $RUN/tls.pem
    key: $RUN/tls.key
auth:
  htpasswd:
    realm: auditflow-registry
    path: $RUN/htpasswd
CFG
setsid "$BIN" serve "$RUN/config.yml" >"$RUN/registry.log" 2>&1 < /dev/null 9>&- &
echo $! > "$RUN/registry.pid"
for _ in $(seq 100); do
  healthy && { note "docker-registry $("$BIN" --version 2>/dev/null | awk '{print $NF}') serving on https://127.0.0.1:$PORT"; print_env; exit 0; }
  kill -0 "$(cat "$RUN/registry.pid")" 2>/dev/null || break
  sleep 0.1
done
die "docker-registry did not come up; its log ($RUN/registry.log) says: $(tail -20 "$RUN/registry.log")"
