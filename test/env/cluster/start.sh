#!/usr/bin/env bash
# Provisions a real one-node Kubernetes cluster for the tests (npm run test:cluster) and prints the path of its
# env.json on stdout (the only line on stdout; progress goes to stderr):
#
#   etcd + kube-apiserver   test/env/kube/start.sh, an instance of its own ($CLUSTER_DIR/kube), listening on every
#                           address and advertising this machine's, so pods reach it through the kubernetes Service
#   containerd              test/env/cri.sh, an instance of its own ($CLUSTER_DIR/ctd; Debian's 1.6), with a CNI
#                           bridge (Debian's containernetworking-plugins) -- the rig's shared containerd, which the
#                           CRI tests use, is not touched
#   kubelet, kube-controller-manager, kube-scheduler, kube-proxy (iptables)
#                           built by build.sh from the same Kubernetes release, module and build caches
#
# The node keeps a real node's paths, so deploy/'s hostPaths are used as shipped: the CRI socket is
# /run/containerd/containerd.sock and the kubelet's root /var/lib/kubelet (it refuses to start when another
# containerd or kubelet owns them). The node registers as auditflow-node and the script returns once it is Ready. Idempotent: a cluster already running
# from $CLUSTER_DIR with the same configuration and a Ready node is reused (one per machine, under a flock);
# otherwise every part is (re)started. `start.sh stop` stops it (test/env/reset.sh calls it) and removes its state.
#
# env.json: {kube: <the apiserver's env.json>, node, address, containerdSocket, criSocketDir, kubeletRootDir,
#            podCidr, serviceCidr}
#
# Usage: start.sh [start|stop]
# Environment: AUDITFLOW_CACHE (default /var/cache/auditflow), CLUSTER_DIR (default $AUDITFLOW_CACHE/cluster).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ENV=$HERE/..
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
DIR=${CLUSTER_DIR:-$CACHE/cluster}
MODE=${1:-start}
NODE=auditflow-node
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16 # kube/start.sh's --service-cluster-ip-range
BRIDGE=afcni0
T0=$(date +%s.%N)
log() { echo "[cluster/start.sh $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%6.2fs", b-a}')] $*" >&2; }
die() { echo "cluster/start.sh: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (kubelet, containerd, iptables and cgroups need it)"
mkdir -p "$DIR"
exec 8>"$DIR/.lock"
flock -w 1800 8 || die "timed out waiting for $DIR/.lock"

KUBELET_ROOT=/var/lib/kubelet
export KUBE_RUN_DIR=$DIR/kube CTD_DIR=$DIR/ctd CTD_SOCK=/run/containerd/containerd.sock

alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }
stop_one() {
  alive "$1" || { rm -f "$DIR/$1.pid"; return 0; }
  local pid; pid=$(cat "$DIR/$1.pid")
  kill "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$DIR/$1.pid"
  log "stopped $1 (pid $pid)"
}
umount_under() { # everything mounted at or below $1, deepest first (pod volumes, projected tokens; the kubelet
  # bind-mounts its root dir onto itself to make it shared)
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

stop_all() {
  # the kubelet first (it would restart what is stopped under it), then the pods with their containerd
  stop_one kubelet
  stop_one kube-proxy
  stop_one kube-scheduler
  stop_one kube-controller-manager
  local shims
  shims=$(echo $(pgrep -f "containerd-shim.*-address $CTD_SOCK" || true))
  if [ -n "$shims" ]; then
    local kids; kids=$(ps -e -o pid=,ppid= | awk -v roots="$shims" '
      { parent[$1] = $2 } END { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1
        do { c = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; c = 1; out = out " " p } } while (c); print out }')
    [ -n "${kids// }" ] && kill -KILL $kids 2>/dev/null || true
    kill -TERM $shims 2>/dev/null || true
  fi
  CTD_STOP=1 bash "$ENV/cri.sh" >/dev/null 2>&1 || true
  bash "$ENV/kube/start.sh" stop >/dev/null 2>&1 || true
  # kube-proxy's rules and the CNI bridge (its masquerade rules carry the network's name in their comment)
  if [ -x "${BIN:-}/kube-proxy" ]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  ip link del "$BRIDGE" 2>/dev/null || true
  umount_under "$DIR"
  [ -e "$DIR/kubelet.yaml" ] && umount_under "$KUBELET_ROOT"
  return 0
}

if [ "$MODE" = stop ]; then
  BIN=$CACHE/kube/$(sed -n 's/^KUBE_VERSION=\(v[0-9.]*\).*/\1/p' "$ENV/kube/build.sh")/bin
  stop_all
  # the kubelet's root only when this rig made it (a kubelet.yaml of ours), and what deploy/'s pods left on the
  # node: the tailer's checkpoint and spool (also `auditflow run`'s default paths, which other tests must not inherit)
  [ -e "$DIR/kubelet.yaml" ] && rm -rf "$KUBELET_ROOT" /var/lib/auditflow
  rm -rf "$DIR/kube" "$DIR/ctd" "$DIR/kubelet" "$DIR/ipam" "$DIR/env.json" "$DIR/stamp" "$DIR"/*.yaml
  exit 0
fi
[ "$MODE" = start ] || die "unknown mode $MODE (start|stop)"

# 1. packages and binaries
bash "$ENV/packages.sh" containernetworking-plugins iptables conntrack iproute2 etcd-server openssl curl
KBIN=$(bash "$ENV/kube/build.sh" 8>&-) || die "building kube-apiserver failed (see above)"
BIN=$(bash "$HERE/build.sh" 8>&-) || die "building the node binaries failed (see above)"
[ "$KBIN" = "$BIN" ] || die "kube/build.sh and cluster/build.sh disagree on the binary directory ($KBIN, $BIN)"

# The address pods reach this machine at (the apiserver, Kafka): the source address of the default route.
ADDRESS=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1)
[ -n "$ADDRESS" ] || die "no IPv4 default route: pods need an address of this machine to reach the apiserver at"

STAMP=$(cat "$0" "$ENV/cri.sh" "$ENV/kube/start.sh" <(echo "$ADDRESS") <(stat -c %Y "$BIN"/kube* /usr/bin/containerd) | sha256sum | cut -d' ' -f1)
kc() { "$BIN/kubectl" --kubeconfig "$DIR/kube/kubeconfig/admin.yaml" "$@"; }
node_ready() {
  [ "$(kc get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
if [ "$(cat "$DIR/stamp" 2>/dev/null)" = "$STAMP" ] && alive kubelet && alive kube-proxy && alive kube-scheduler \
  && alive kube-controller-manager && [ -f "$DIR/env.json" ]; then
  # the apiserver and containerd scripts reuse their healthy instances (and restart a dead one)
  KUBE_ADDRESS=$ADDRESS bash "$ENV/kube/start.sh" start >/dev/null 8>&- && bash "$ENV/cri.sh" >/dev/null 8>&- && node_ready && {
    log "reusing the cluster (node $NODE Ready)"
    echo "$DIR/env.json"
    exit 0
  }
fi

# 2. cold start, on a machine where no other kubelet or containerd owns the node's paths
other_kubelet=$(pgrep -x kubelet | grep -vx "$(cat "$DIR/kubelet.pid" 2>/dev/null || echo none)" || true)
[ -z "$other_kubelet" ] || die "another kubelet runs here (pid $other_kubelet): the cluster rig needs the node to itself"
if [ -S "$CTD_SOCK" ] && ! { [ -f "$DIR/ctd/containerd.pid" ] && kill -0 "$(cat "$DIR/ctd/containerd.pid")" 2>/dev/null; }; then
  if ss -xlnH | awk -v s="$CTD_SOCK" '$5 == s { f = 1 } END { exit !f }'; then
    pgrep -f "containerd --config $DIR/ctd/" >/dev/null || die "another containerd owns $CTD_SOCK: the cluster rig needs it"
  else
    # nothing listens: the socket file of a containerd that was killed (no stop ran), which would block every start
    log "removing the stale socket $CTD_SOCK (nothing listens on it)"
    rm -f "$CTD_SOCK" "$CTD_SOCK.ttrpc"
  fi
fi
if [ -e "$KUBELET_ROOT" ] && [ ! -e "$DIR/kubelet.yaml" ]; then
  die "$KUBELET_ROOT exists and is not the cluster rig's: the rig needs the node to itself"
fi
log "cold start in $DIR"
stop_all
[ -e "$DIR/kubelet.yaml" ] && rm -rf "$KUBELET_ROOT"
rm -rf "$DIR/kube" "$DIR/kubelet" "$DIR/ipam" "$DIR/env.json" "$DIR/stamp"

KUBE_ENV=$(KUBE_ADDRESS=$ADDRESS bash "$ENV/kube/start.sh" start 8>&-) || die "the cluster's kube-apiserver did not start (see above)"
PKI=$DIR/kube/pki
ADMIN=$DIR/kube/kubeconfig/admin.yaml

# containerd with the CNI configuration in place before it starts (it reads conf_dir at start and on change)
mkdir -p "$DIR/ctd/cni" "$DIR/ipam"
cat >"$DIR/ctd/cni/10-auditflow.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "auditflow",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "$DIR/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
SOCK=$(bash "$ENV/cri.sh" 8>&-) || die "the cluster's containerd did not start (see above)"
# A node's containerd keeps /run/containerd at 0711; a shim here made it 0600 before our containerd ran (the
# shared containerd's runc state lives in /run/containerd/runc), and without the search bit the tailer's uid 0,
# having no capabilities, cannot reach the socket
chmod 0711 "$(dirname "$SOCK")"

port_free() { [ -z "$(ss -Htln "sport = :$1")" ]; }
pick_port() { local p=$1; while ! port_free "$p" || [[ " ${PICKED:-} " == *" $p "* ]]; do p=$((p + 1)); done; PICKED="${PICKED:-} $p"; echo "$p"; }
PICKED=""
KUBELET_PORT=$(pick_port 20250); PROXY_HEALTH=$(pick_port 20256); PROXY_METRICS=$(pick_port 20249)

# 3. kubelet: cgroupfs (no systemd here), cgroup v1 allowed, x509 client auth for the apiserver's calls
# (logs, exec); AlwaysAllow authorization is a test-only shortcut (a real node uses Webhook). Image garbage
# collection is off: nothing could pull an image back.
mkdir -p "$KUBELET_ROOT" "$DIR/kubelet/pki"
cat >"$DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$SOCK
address: $ADDRESS
port: $KUBELET_PORT
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
podCIDR: $POD_CIDR
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
registerNode: true
EOF
setsid "$BIN/kubelet" --config "$DIR/kubelet.yaml" --kubeconfig "$ADMIN" --root-dir "$KUBELET_ROOT" \
  --cert-dir "$DIR/kubelet/pki" --hostname-override "$NODE" --node-ip "$ADDRESS" \
  >>"$DIR/kubelet.log" 2>&1 </dev/null 8>&- &
echo $! >"$DIR/kubelet.pid"

# 4. controllers and scheduler (no serving port: nothing scrapes them here)
setsid "$BIN/kube-controller-manager" --kubeconfig "$ADMIN" --leader-elect=false --secure-port=0 \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --cluster-cidr 10.244.0.0/16 --service-cluster-ip-range "$SERVICE_CIDR" \
  >>"$DIR/kube-controller-manager.log" 2>&1 </dev/null 8>&- &
echo $! >"$DIR/kube-controller-manager.pid"
setsid "$BIN/kube-scheduler" --kubeconfig "$ADMIN" --leader-elect=false --secure-port=0 \
  >>"$DIR/kube-scheduler.log" 2>&1 </dev/null 8>&- &
echo $! >"$DIR/kube-scheduler.pid"

# 5. kube-proxy (iptables): routes the kubernetes Service to the apiserver for the pods. It leaves this shared
# machine's sysctls alone: no conntrack tuning, no route_localnet for localhost NodePorts.
cat >"$DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $ADMIN}
mode: iptables
hostnameOverride: $NODE
clusterCIDR: 10.244.0.0/16
healthzBindAddress: 127.0.0.1:$PROXY_HEALTH
metricsBindAddress: 127.0.0.1:$PROXY_METRICS
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
setsid "$BIN/kube-proxy" --config "$DIR/kube-proxy.yaml" >>"$DIR/kube-proxy.log" 2>&1 </dev/null 8>&- &
echo $! >"$DIR/kube-proxy.pid"

# 6. the node Ready (CNI initialised, runtime up)
deadline=$((SECONDS + 300))
until node_ready; do
  for p in kubelet kube-controller-manager kube-scheduler kube-proxy; do
    alive "$p" || { tail -n 30 "$DIR/$p.log" >&2; die "$p exited; last lines of $DIR/$p.log above"; }
  done
  [ $SECONDS -lt $deadline ] || { kc get node -o wide >&2 || true; tail -n 30 "$DIR/kubelet.log" >&2; die "node $NODE not Ready after 300 s (kubelet log above)"; }
  sleep 1
done
log "node $NODE Ready ($(kc get node "$NODE" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}'), kubelet $(kc get node "$NODE" -o jsonpath='{.status.nodeInfo.kubeletVersion}'))"

cat >"$DIR/env.json" <<EOF
{"kube":"$KUBE_ENV","node":"$NODE","address":"$ADDRESS","containerdSocket":"$SOCK","criSocketDir":"$(dirname "$SOCK")","kubeletRootDir":"$KUBELET_ROOT","podCidr":"$POD_CIDR","serviceCidr":"$SERVICE_CIDR","bin":"$BIN"}
EOF
echo "$STAMP" >"$DIR/stamp"
echo "$DIR/env.json"
