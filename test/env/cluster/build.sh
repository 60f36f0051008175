#!/usr/bin/env bash
# Builds the node and controller binaries of the cluster rig -- kubelet, kube-controller-manager, kube-scheduler
# and kube-proxy -- from the Go module proxy, from the SAME wrapper module (test/env/kube/go.mod, go.sum), module
# cache and Go build cache as test/env/kube/build.sh's kube-apiserver and kubectl, so the packages they share
# (client-go, apimachinery, api, component-base...) compile once. Prints the directory holding them on stdout (the
# only line on stdout; progress goes to stderr).
#
# Its own flock (cluster-build.lock): it does not queue behind an apiserver build, and Go's build and module caches
# are safe for concurrent use. The binaries appear atomically (built under a temporary directory, then renamed).
#
# Environment: AUDITFLOW_CACHE (default /var/cache/auditflow), KUBE_FORCE_REBUILD=1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KUBE=$HERE/../kube
KUBE_VERSION=$(sed -n 's/^KUBE_VERSION=\(v[0-9.]*\).*/\1/p' "$KUBE/build.sh")
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
ROOT=$CACHE/kube/$KUBE_VERSION
BIN=$ROOT/bin
CMDS=(kubelet kube-controller-manager kube-scheduler kube-proxy)
T0=$(date +%s)
log() { echo "[cluster/build.sh +$(( $(date +%s) - T0 ))s] $*" >&2; }
die() { echo "cluster/build.sh: error: $*" >&2; exit 1; }

built() {
  for c in "${CMDS[@]}"; do [ -x "$BIN/$c" ] || return 1; done
  cmp -s "$KUBE/go.mod" "$BIN/cluster.go.mod"
}

[ -n "$KUBE_VERSION" ] || die "cannot read KUBE_VERSION from $KUBE/build.sh"
if [ "${KUBE_FORCE_REBUILD:-}" != 1 ] && built; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || die "go is not installed (k8s.io/kubernetes $KUBE_VERSION needs Go >= 1.26)"
mkdir -p "$ROOT" "$BIN"
exec 9>"$ROOT/cluster-build.lock"
flock -w 7200 9 || die "timed out waiting for $ROOT/cluster-build.lock (another build running?)"
if [ "${KUBE_FORCE_REBUILD:-}" != 1 ] && built; then echo "$BIN"; exit 0; fi

export GOMODCACHE=$ROOT/gomod GOCACHE=$ROOT/gocache GOPATH=$ROOT/gopath
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
# its own source directory: kube/build.sh may be using src/ at the same time
SRC=$ROOT/src-cluster
mkdir -p "$SRC"
cp "$KUBE/go.mod" "$SRC/go.mod"
# go.sum pins every module's hash, the kubelet's extra dependencies (cadvisor, cgroups...) included
cp "$KUBE/go.sum" "$SRC/go.sum"
cd "$SRC"
log "go $(go env GOVERSION): downloading k8s.io/kubernetes $KUBE_VERSION's modules into $GOMODCACHE"
go mod download k8s.io/kubernetes >&2 || die "go mod download failed (see above)"

# the version stamps of a release build, as kube/build.sh sets them
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

OUT=$BIN/.cluster.new
rm -rf "$OUT"; mkdir -p "$OUT"
log "building ${CMDS[*]} in one go build (first build takes a long time on a small machine)"
pkgs=(); for c in "${CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
go build -trimpath -ldflags "$ldflags" -o "$OUT/" "${pkgs[@]}" >&2 || die "go build failed (see above)"
for c in "${CMDS[@]}"; do mv -f "$OUT/$c" "$BIN/$c"; done
rmdir "$OUT"
cp "$KUBE/go.mod" "$BIN/cluster.go.mod"   # the stamp: which wrapper module these binaries come from
# a go.sum that had to grow (new dependencies) is kept next to the build for the maintainer to commit
cmp -s "$SRC/go.sum" "$KUBE/go.sum" || log "note: go.sum grew; the verified one is $SRC/go.sum"
log "built $("$BIN/kubelet" --version 2>/dev/null) and the rest in $BIN"
echo "$BIN"
