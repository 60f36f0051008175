#!/usr/bin/env bash
# Provisions a real single-node Kubernetes control plane for the tests: etcd (Debian's etcd-server) and
# kube-apiserver (built by build.sh) on loopback, and prints the path of its env.json on stdout (the only line on
# stdout; progress goes to stderr). There is no kubelet, scheduler or controller-manager: pods are never run, and
# controllers that would (namespace deletion, garbage collection) are absent (test/env/cluster/start.sh adds them,
# on an instance of its own); objects are stored and served, with
# admission, validation and RBAC, exactly as in a cluster.
#
# env.json: {version, server, ca, kubectl, kubeApiserver, dir, users: {<user>: {token, kubeconfig}}} with the
# users of the static token file: "admin" (group system:masters), "nobody" (authenticated, no roles), and one
# per component service account, system:serviceaccount:<ns>:<sa> (groups system:serviceaccounts,
# system:serviceaccounts:<ns>, system:authenticated), as a pod's projected token would authenticate.
#
# Idempotent: an instance already running from $KUBE_RUN_DIR with the same configuration and healthy is reused
# (one per machine, shared by concurrent test processes under a flock); otherwise it is (re)started from an empty
# etcd. Certificates, keys and tokens are generated once per cold start (openssl), never committed.
#
# Usage: start.sh [start|restart-apiserver|stop]
# Environment: AUDITFLOW_CACHE (default /var/cache/auditflow), KUBE_RUN_DIR (default $AUDITFLOW_CACHE/kube/run),
#   KUBE_ETCD_PORT_BASE, KUBE_PORT_BASE (default 32379, 36443: the first ports a cold start tries for etcd and the
#   apiserver, each taking the next free one),
#   KUBE_ADDRESS: unset (the default), the apiserver listens on loopback only and keeps no endpoints for the
#   `kubernetes` Service; set to an address of this machine (test/env/cluster/start.sh), it listens on every
#   address and advertises that one, so that pods reach it through the Service (kube-proxy), and the serving
#   certificate names it.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
RUN=${KUBE_RUN_DIR:-$CACHE/kube/run}
MODE=${1:-start}
KUBE_ADDRESS=${KUBE_ADDRESS:-}
# Where the cold start looks for free ports. The lock above is per $RUN: two instances starting at once from the
# same bases can both pick a port that was free and then collide; a private instance takes bases of its own.
ETCD_PORT_BASE=${KUBE_ETCD_PORT_BASE:-32379}
PORT_BASE=${KUBE_PORT_BASE:-36443}
# restarting the apiserver of an instance keeps the address it was started with
if [ "$MODE" = restart-apiserver ] && [ -z "$KUBE_ADDRESS" ]; then KUBE_ADDRESS=$(cat "$RUN/address" 2>/dev/null || true); fi
# The component identities of deploy/ (namespace auditflow): keep in step with deploy/base/serviceaccounts.yaml.
SA_NAMESPACE=auditflow
SERVICE_ACCOUNTS=(auditflow-tailer auditflow-agent auditflow-aggregator)
T0=$(date +%s.%N)
log() { echo "[kube/start.sh $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%5.2fs", b-a}')] $*" >&2; }
die() { echo "kube/start.sh: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs etcd-server and keeps its state under $CACHE)"
mkdir -p "$RUN"
exec 9>"$RUN/.lock"
flock -w 900 9 || die "timed out waiting for $RUN/.lock"

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
stop_one() {
  alive "$1" || { rm -f "$RUN/$1.pid"; return 0; }
  local pid; pid=$(cat "$RUN/$1.pid")
  kill "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$RUN/$1.pid"
  log "stopped $1 (pid $pid)"
}
if [ "$MODE" = stop ]; then stop_one apiserver; stop_one etcd; exit 0; fi
case "$MODE" in start|restart-apiserver) ;; *) die "unknown mode $MODE (start|restart-apiserver|stop)";; esac

# 1. binaries: etcd from Debian, kube-apiserver and kubectl built from the Go module proxy (cached)
bash "$HERE/../packages.sh" etcd-server openssl curl
BIN=$(bash "$HERE/build.sh" 9>&-) || die "building kube-apiserver failed (see above)"
KUBE_VERSION=$("$BIN/kubectl" version --client -o json | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1)

# 2. what a running instance must match to be reused: the binaries and this script
STAMP=$(cat "$0" "$BIN/go.mod" <(echo "$KUBE_ADDRESS") <(stat -c %Y "$BIN/kube-apiserver" /usr/bin/etcd) | sha256sum | cut -d' ' -f1)
admin_token() { sed -n 's/^\([^,]*\),admin,.*/\1/p' "$RUN/tokens.csv" 2>/dev/null; }
healthy() {
  [ -f "$RUN/env.json" ] && [ -f "$RUN/port" ] || return 1
  curl -sf -m 5 --cacert "$RUN/pki/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    "https://127.0.0.1:$(cat "$RUN/port")/readyz" >/dev/null
}

port_free() { [ -z "$(ss -Htln "sport = :$1")" ]; }
pick_port() { # first free port from $1 up, skipping the ones already picked in this run
  local p=$1
  while ! port_free "$p" || [[ " ${PICKED:-} " == *" $p "* ]]; do p=$((p + 1)); done
  PICKED="${PICKED:-} $p"; echo "$p"
}

start_apiserver() {
  local port; port=$(cat "$RUN/port")
  local net=(--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none)
  [ -z "$KUBE_ADDRESS" ] || net=(--bind-address=0.0.0.0 --advertise-address="$KUBE_ADDRESS" --endpoint-reconciler-type=lease)
  # The flags a kubeadm control plane uses that matter here: TLS serving, static tokens, RBAC (with the Node
  # authorizer first, as clusters run it), service-account token signing (TokenRequest works), default admission.
  setsid "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$(cat "$RUN/etcd-port")" \
    "${net[@]}" --secure-port="$port" \
    --tls-cert-file="$RUN/pki/apiserver.crt" --tls-private-key-file="$RUN/pki/apiserver.key" \
    --client-ca-file="$RUN/pki/ca.crt" \
    --token-auth-file="$RUN/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$RUN/pki/sa.pub" --service-account-signing-key-file="$RUN/pki/sa.key" \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=10.96.0.0/16 \
    --allow-privileged=true \
    --kubelet-client-certificate="$RUN/pki/kubelet-client.crt" --kubelet-client-key="$RUN/pki/kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --profiling=false \
    --cert-dir="$RUN/pki" \
    >>"$RUN/apiserver.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/apiserver.pid"
  local deadline=$((SECONDS + 180))
  until healthy; do
    alive apiserver || { tail -n 30 "$RUN/apiserver.log" >&2; die "kube-apiserver exited; last lines of $RUN/apiserver.log above"; }
    [ $SECONDS -lt $deadline ] || { tail -n 30 "$RUN/apiserver.log" >&2; die "kube-apiserver not ready after 180 s (log above)"; }
    sleep 0.3
  done
  log "kube-apiserver $KUBE_VERSION ready on https://127.0.0.1:$port (pid $(cat "$RUN/apiserver.pid"))"
}

if [ "$MODE" = restart-apiserver ]; then
  alive etcd && [ -f "$RUN/stamp" ] || die "no running instance in $RUN to restart the apiserver of (run start.sh first)"
  stop_one apiserver
  start_apiserver
  echo "$RUN/env.json"
  exit 0
fi

if alive etcd && alive apiserver && [ "$(cat "$RUN/stamp" 2>/dev/null)" = "$STAMP" ] && healthy; then
  log "reusing kube-apiserver (pid $(cat "$RUN/apiserver.pid")) on $(cat "$RUN/port")"
  echo "$RUN/env.json"
  exit 0
fi

# 3. cold start: fresh etcd data, certificates, tokens
stop_one apiserver
stop_one etcd
rm -rf "$RUN/etcd-data" "$RUN/pki" "$RUN/kubeconfig" "$RUN/tokens.csv" "$RUN/env.json" "$RUN/stamp"
mkdir -p "$RUN/pki" "$RUN/kubeconfig"
chmod 700 "$RUN/pki" "$RUN/kubeconfig"
PICKED=""
ETCD_PORT=$(pick_port "$ETCD_PORT_BASE"); ETCD_PEER=$(pick_port $((ETCD_PORT + 1))); PORT=$(pick_port "$PORT_BASE")
echo "$ETCD_PORT" >"$RUN/etcd-port"; echo "$PORT" >"$RUN/port"; echo "$KUBE_ADDRESS" >"$RUN/address"

(
  cd "$RUN/pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=auditflow-test-ca \
    -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout apiserver.key -out apiserver.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,%sDNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n' \
    "${KUBE_ADDRESS:+IP:$KUBE_ADDRESS,}" >apiserver.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile apiserver.ext \
    -out apiserver.crt 2>/dev/null
  # the apiserver's identity towards kubelets (logs, exec, port-forward), when a cluster rig runs one
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" \
    -keyout kubelet-client.key -out kubelet-client.csr 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' >kubelet-client.ext
  openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile kubelet-client.ext -out kubelet-client.crt 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
) || die "openssl failed to generate the certificates"

# token,user,uid,"group,..." (kube-apiserver --token-auth-file)
USERS=(admin nobody)
{
  echo "$(openssl rand -hex 24),admin,admin,\"system:masters\""
  echo "$(openssl rand -hex 24),nobody,nobody"
  for sa in "${SERVICE_ACCOUNTS[@]}"; do
    u="system:serviceaccount:$SA_NAMESPACE:$sa"
    USERS+=("$u")
    echo "$(openssl rand -hex 24),$u,$u,\"system:serviceaccounts,system:serviceaccounts:$SA_NAMESPACE,system:authenticated\""
  done
} >"$RUN/tokens.csv"
chmod 600 "$RUN/tokens.csv"

# A port free when picked can be taken before etcd binds it: the ports lie in the ephemeral range, where any
# outgoing connection of the machine may be given one (a Kafka broker starting beside it). Then etcd starts
# again on the next ports, up to five times; any other exit is an error at once.
for attempt in 1 2 3 4 5; do
  logged=$(stat -c %s "$RUN/etcd.log" 2>/dev/null || echo 0)
  setsid etcd --name auditflow-test --data-dir "$RUN/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "auditflow-test=http://127.0.0.1:$ETCD_PEER" --log-level warn \
    >>"$RUN/etcd.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/etcd.pid"
  deadline=$((SECONDS + 60))
  bound=1
  until curl -sf -m 2 "http://127.0.0.1:$ETCD_PORT/health" >/dev/null; do
    if ! alive etcd; then
      if [ "$attempt" -lt 5 ] && tail -c +$((logged + 1)) "$RUN/etcd.log" | grep -q 'address already in use'; then bound=0; break; fi
      tail -n 20 "$RUN/etcd.log" >&2; die "etcd exited; last lines of $RUN/etcd.log above"
    fi
    [ $SECONDS -lt $deadline ] || die "etcd not healthy after 60 s (see $RUN/etcd.log)"
    sleep 0.2
  done
  [ "$bound" = 1 ] && break
  log "etcd could not bind 127.0.0.1:$ETCD_PORT or :$ETCD_PEER (taken since they were picked): the next ports"
  rm -rf "$RUN/etcd-data"
  ETCD_PORT=$(pick_port $((ETCD_PEER + 1))); ETCD_PEER=$(pick_port $((ETCD_PORT + 1)))
  echo "$ETCD_PORT" >"$RUN/etcd-port"
done
log "etcd $(etcd --version | awk 'NR==1{print $3}') ready on 127.0.0.1:$ETCD_PORT (pid $(cat "$RUN/etcd.pid"))"

# 4. kubeconfigs, one per identity (file name: the user with ':' made '_')
SERVER="https://127.0.0.1:$PORT"
json_users=""
for u in "${USERS[@]}"; do
  tok=$(awk -F, -v u="$u" '$2==u {print $1}' "$RUN/tokens.csv")
  kc="$RUN/kubeconfig/${u//:/_}.yaml"
  cat >"$kc" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: auditflow-test
  cluster:
    server: $SERVER
    certificate-authority: $RUN/pki/ca.crt
users:
- name: $u
  user:
    token: $tok
contexts:
- name: $u@auditflow-test
  context:
    cluster: auditflow-test
    user: $u
    namespace: default
current-context: $u@auditflow-test
EOF
  chmod 600 "$kc"
  json_users+="${json_users:+,}\"$u\":{\"token\":\"$tok\",\"kubeconfig\":\"$kc\"}"
done
cat >"$RUN/env.json" <<EOF
{"version":"$KUBE_VERSION","server":"$SERVER","ca":"$RUN/pki/ca.crt","kubectl":"$BIN/kubectl","kubeApiserver":"$BIN/kube-apiserver","dir":"$RUN","users":{$json_users}}
EOF

start_apiserver
echo "$STAMP" >"$RUN/stamp"
echo "$RUN/env.json"
