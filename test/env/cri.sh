#!/usr/bin/env bash
# Provisions a private containerd (CRI runtime.v1) for the tests, as root, and prints its socket path on stdout
# (the only line on stdout; progress goes to stderr).
#
# Idempotent and cached: a containerd already running from $CTD_DIR with the same config is reused; otherwise it is
# (re)started. Packages are installed when missing. The local busybox image is built and imported once; it is also
# the sandbox ("pause") image, since nothing can be pulled here.
#
# Environment:
#   CTD_DIR   where containerd keeps config, root, state, socket, log (default /var/cache/auditflow/ctd)
#   CTD_SOCK  its socket (default $CTD_DIR/containerd.sock; the cluster rig puts it in a directory of its own,
#             which the tailer pods mount)
#   IMAGE     image reference of the busybox image (default localhost/busybox:cri-test)
#   CTD_STOP  set to 1 to stop the instance and exit
#
# This VM (Debian 12, no systemd as PID 1, cgroup v1 hybrid, CAP_SYS_RESOURCE missing from the bounding set) needs:
#   restrict_oom_score_adj = true   (else runc fails "can't get final child's PID from pipe: EOF")
#   SystemdCgroup = false           (cgroupfs driver: there is no systemd/dbus)
# See shared/cri-recipe.md for the whole story.
set -euo pipefail

CTD_DIR=${CTD_DIR:-/var/cache/auditflow/ctd}
SOCK=${CTD_SOCK:-$CTD_DIR/containerd.sock}
IMAGE=${IMAGE:-localhost/busybox:cri-test}
T0=$(date +%s.%N)
log() { echo "[cri.sh $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%5.2fs", b-a}')] $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "cri.sh: must run as root (containerd, runc and cgroups need it)" >&2; exit 1; }
mkdir -p "$CTD_DIR" "$(dirname "$SOCK")"
# One provisioner at a time: test files run in parallel and may all ask for containerd at once.
exec 9>"$CTD_DIR/.lock"
flock 9

running() { [ -f "$CTD_DIR/containerd.pid" ] && kill -0 "$(cat "$CTD_DIR/containerd.pid")" 2>/dev/null; }
stop() {
  if running; then
    local pid; pid=$(cat "$CTD_DIR/containerd.pid")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "stopped containerd (pid $pid)"
  fi
  rm -f "$CTD_DIR/containerd.pid"
}
if [ "${CTD_STOP:-}" = 1 ]; then stop; exit 0; fi

# 1. packages
bash "$(dirname "$0")/packages.sh" containerd runc busybox-static
log "packages ok: containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}')"
# A second runtime handler whose runc can set seccomp flags (SECCOMP_FILTER_FLAG_LOG): see runc-build.sh
RUNC_FLAGS=$(bash "$(dirname "$0")/runc-build.sh")
log "runtime handler runc-seccomp-flags: $("$RUNC_FLAGS" --version | awk 'NR==1{print $3}')"

# 2. config (written to a new file; an instance running with another config is restarted)
cat > "$CTD_DIR/config.toml.new" <<EOF
version = 2
root = "$CTD_DIR/root"
state = "$CTD_DIR/state"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  # CAP_SYS_RESOURCE is missing from every bounding set on this VM, so even root cannot lower oom_score_adj; CRI asks
  # for -998 on sandboxes and runc dies in nsexec. This clamps the value to containerd's own.
  restrict_oom_score_adj = true
  sandbox_image = "$IMAGE"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc-seccomp-flags]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc-seccomp-flags.options]
        SystemdCgroup = false
        BinaryName = "$RUNC_FLAGS"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CTD_DIR/cni"
EOF
if running && cmp -s "$CTD_DIR/config.toml" "$CTD_DIR/config.toml.new" && ctr --address "$SOCK" version >/dev/null 2>&1; then
  rm -f "$CTD_DIR/config.toml.new"
  log "reusing containerd (pid $(cat "$CTD_DIR/containerd.pid"))"
else
  stop
  mv "$CTD_DIR/config.toml.new" "$CTD_DIR/config.toml"
  mkdir -p "$CTD_DIR/cni"
  rm -f "$SOCK"
  # setsid: its own session, so it outlives this script and the test process that ran it; 9>&-: not holding our lock
  setsid containerd --config "$CTD_DIR/config.toml" >>"$CTD_DIR/containerd.log" 2>&1 </dev/null 9>&- &
  echo $! >"$CTD_DIR/containerd.pid"
  for _ in $(seq 150); do ctr --address "$SOCK" version >/dev/null 2>&1 && break; running || break; sleep 0.1; done
  if ! ctr --address "$SOCK" version >/dev/null 2>&1; then
    echo "cri.sh: containerd did not come up on $SOCK; last lines of $CTD_DIR/containerd.log:" >&2
    tail -n 20 "$CTD_DIR/containerd.log" >&2
    exit 1
  fi
  log "containerd started (pid $(cat "$CTD_DIR/containerd.pid"))"
fi

# 3. image: one busybox-static layer as an OCI layout, imported into CRI's k8s.io namespace
# (list first, then grep: `ctr | grep -q` under pipefail fails when grep exits early and ctr gets SIGPIPE)
has_image() { local images; images=$(ctr --address "$SOCK" -n k8s.io images ls -q) && grep -qxF "$IMAGE" <<<"$images"; }
if ! has_image; then
  W=$(mktemp -d /tmp/auditflow-criimg.XXXXXX)
  trap 'rm -rf "$W"' EXIT
  mkdir -p "$W/rootfs/bin" "$W/oci/blobs/sha256"
  cp /bin/busybox "$W/rootfs/bin/busybox"
  for a in sh sleep cat echo ls true id; do ln -s busybox "$W/rootfs/bin/$a"; done
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$W/rootfs" -cf "$W/layer.tar" .
  blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$W/oci/blobs/sha256/$d"; echo "$d $(stat -c %s "$1")"; }
  read -r LD LS < <(blob "$W/layer.tar")
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/sleep","2147483647"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$LD" >"$W/config.json"
  read -r CD CS < <(blob "$W/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' "$CD" "$CS" "$LD" "$LS" >"$W/manifest.json"
  read -r MD MS < <(blob "$W/manifest.json")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' "$MD" "$MS" "$IMAGE" "$IMAGE" >"$W/oci/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$W/oci/oci-layout"
  tar -C "$W/oci" -cf "$W/img.tar" .
  ctr --address "$SOCK" -n k8s.io images import "$W/img.tar" >/dev/null
  log "image $IMAGE built and imported"
else
  log "image $IMAGE present"
fi
has_image || { echo "cri.sh: image $IMAGE missing after import" >&2; exit 1; }

echo "$SOCK"
