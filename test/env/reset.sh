#!/usr/bin/env bash
# Brings the test rig down to cold: stops every service the rig started and removes their run state, keeping the
# download and build caches (apt packages, Kafka jars, the kube-apiserver/kubectl and runc builds, Go caches).
# `npm test` runs it first, so that a warm machine (CI on a developer's VM) starts from the same cold rig as a
# newcomer's, and a test file that forgets to bring up what it needs fails here as it would there.
#
# What it stops, and the state it removes:
#   auditflow processes started from any checkout (run, agent, aggregate, tail children)
#   Kafka brokers of test/env/kafka.ts            /tmp/auditflow-kafka-*
#   kube-apiserver + etcd of test/env/kube        $AUDITFLOW_CACHE/kube/run (certs, tokens, etcd data)
#   the cluster rig of test/env/cluster           kubelet, controllers, scheduler, kube-proxy and their pods,
#                                                 its own containerd, apiserver and etcd; $AUDITFLOW_CACHE/cluster
#                                                 state, /var/lib/kubelet, kube-proxy's rules, the CNI bridge
#   the private containerd of test/env/cri.sh     its pods and containers, mounts, $CTD_DIR root and state
#   runc containers of test/env/runc.ts           /run/auditflow-runc
#   docker-registry of test/env/registry.sh       $AUDITFLOW_CACHE/registry/run (cosign and spoc builds kept)
#   auditd (test/env/auditd.sh)                   the auditflow-fork lineage rule; the log files are kept
#   scratch directories of the tests              /tmp/auditflow-*
# Later services add a stop_* function below and a line to the list at the end.
#
# Idempotent: on a cold machine it does nothing and exits 0. It never installs anything.
set -uo pipefail

CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
CTD_DIR=${CTD_DIR:-$CACHE/ctd}
KUBE_RUN=${KUBE_RUN_DIR:-$CACHE/kube/run}
RUNC_ROOT=/run/auditflow-runc
HERE=$(cd "$(dirname "$0")" && pwd)

note() { echo "reset.sh: $*" >&2; }
[ "$(id -u)" = 0 ] || { note "must run as root (it stops root-owned services)"; exit 1; }

# Sends SIGTERM, waits up to $2 tenths of a second, then SIGKILL. Args: "pid..." tenths
stop_pids() {
  local pids=$1 tenths=${2:-100} p alive
  [ -n "$pids" ] || return 0
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < tenths; i++)); do
    alive=
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && return 0
    sleep 0.1
  done
  kill -KILL $alive 2>/dev/null || true
}

# Unmounts everything mounted at paths starting with a prefix, deepest first.
umount_prefix() {
  local prefix=$1 m
  awk -v d="$prefix" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

# All descendants of the given pids (children first found by walking ppid links).
descendants() {
  ps -e -o pid=,ppid= | awk -v roots="$*" '
    { parent[$1] = $2 }
    END {
      n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1
      do { changed = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1; out = out " " p } } while (changed)
      print out
    }'
}

stop_auditflow() {
  # `node …/dist/src/cli/main.js run|agent|aggregate …` of any checkout, and the tailer children of the tail tests
  local pids
  pids=$(pgrep -f 'dist/src/cli/main\.js (run|agent|aggregate|denials|parse|profile)' || true)
  pids="$pids $(pgrep -f 'dist/test/env/tail-(child|stdin-child)\.js' || true)"
  pids=$(echo $pids)
  [ -n "$pids" ] && note "stopping auditflow processes: $pids"
  stop_pids "$pids" 100
}

stop_kafka() {
  local d pids=
  for d in /tmp/auditflow-kafka-*; do
    [ -d "$d" ] || continue
    [ -f "$d/pid" ] && pids="$pids $(cat "$d/pid")"
  done
  # brokers whose pid file is gone (a test process killed mid-start)
  pids="$pids $(pgrep -f 'kafka\.(Kafka|tools\.StorageTool) /tmp/auditflow-kafka-' || true)"
  pids=$(echo $pids)
  [ -n "$pids" ] && note "stopping Kafka brokers: $pids"
  stop_pids "$pids" 150
  rm -rf /tmp/auditflow-kafka-*
}

stop_kube() {
  if [ -d "$KUBE_RUN" ]; then
    bash "$HERE/kube/start.sh" stop >/dev/null 2>&1 || true
    # processes whose pid files were lost
    stop_pids "$(echo $(pgrep -f "(kube-apiserver|etcd) .*$KUBE_RUN" || true))" 100
    rm -rf "$KUBE_RUN"
    note "kube-apiserver and etcd stopped, $KUBE_RUN removed"
  fi
}

stop_containerd() {
  [ -e "$CTD_DIR/root" ] || [ -e "$CTD_DIR/state" ] || [ -e "$CTD_DIR/containerd.pid" ] || return 0
  # The containers of the private containerd are children of its shims (started with -address
  # $CTD_DIR/containerd.sock). Kill the workloads first, then the shims, then containerd, so that nothing is
  # re-parented and left running. Only this instance's: a node's own kubelet pods are not touched.
  local shims pids
  shims=$(echo $(pgrep -f "containerd-shim.*$CTD_DIR" || true))
  if [ -n "$shims" ]; then
    pids=$(echo $(descendants $shims))
    [ -n "$pids" ] && { note "killing pod processes: $pids"; kill -KILL $pids 2>/dev/null || true; }
    stop_pids "$shims" 50
  fi
  CTD_DIR=$CTD_DIR CTD_STOP=1 bash "$HERE/cri.sh" >/dev/null 2>&1 || true
  stop_pids "$(echo $(pgrep -f "containerd --config $CTD_DIR/" || true))" 100
  umount_prefix "$CTD_DIR/"
  rm -rf "$CTD_DIR/root" "$CTD_DIR/state" "$CTD_DIR/cni" "$CTD_DIR/containerd.sock" "$CTD_DIR/containerd.pid" "$CTD_DIR/config.toml"
  note "containerd stopped, its root and state removed"
}

stop_cluster() {
  [ -d "$CACHE/cluster" ] || return 0
  bash "$HERE/cluster/start.sh" stop >/dev/null 2>&1 || true
  # processes whose pid files were lost
  stop_pids "$(echo $(pgrep -f "(kubelet|kube-controller-manager|kube-scheduler|kube-proxy) .*$CACHE/cluster/" || true))" 100
  rm -rf "$CACHE/cluster"
  note "cluster rig stopped, $CACHE/cluster removed"
}

stop_runc() {
  [ -d "$RUNC_ROOT" ] || return 0
  local id
  if command -v runc >/dev/null; then
    for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do
      runc --root "$RUNC_ROOT" kill "$id" KILL 2>/dev/null || true
      runc --root "$RUNC_ROOT" delete -f "$id" 2>/dev/null || true
    done
  fi
  rm -rf "$RUNC_ROOT"
}

stop_registry() {
  [ -d "$CACHE/registry/run" ] || return 0
  bash "$HERE/registry.sh" stop >/dev/null 2>&1 || true
  stop_pids "$(echo $(pgrep -f "docker-registry serve $CACHE/registry/run/" || true))" 50
  rm -rf "$CACHE/registry/run"
  note "registry stopped, $CACHE/registry/run removed"
}

stop_auditd() {
  if command -v auditctl >/dev/null; then
    # only our own rule: a machine's other audit rules are not the rig's to remove
    auditctl -D -k auditflow-fork >/dev/null 2>&1 || true
  fi
  local pids
  pids=$(echo $(pgrep -x auditd || true))
  if [ -n "$pids" ]; then
    note "stopping auditd: $pids"
    stop_pids "$pids" 100
  fi
}

clean_scratch() {
  umount_prefix /tmp/auditflow-
  rm -rf /tmp/auditflow-* 2>/dev/null || true
}

stop_auditflow
stop_kafka
stop_cluster
stop_kube
stop_containerd
stop_runc
stop_registry
stop_auditd
clean_scratch
note "rig is cold (caches kept under $CACHE)"
