#!/usr/bin/env bash
# Builds containerd 2.x (containerd and containerd-shim-runc-v2) from the Go module proxy and prints the
# directory holding them (the only line on stdout). test/env/cri2.sh runs it: Debian's containerd 1.6 does not
# serve CRI GetContainerEvents, which the tests of `--task-events cri` (CRI-O's only task source) need.
#
# Idempotent and cached under $AUDITFLOW_CACHE/containerd2/<version> (module and build caches too), serialized
# by flock. First build here: ~4 min. The btrfs snapshotter is left out (it needs libbtrfs headers; no test uses it).
set -euo pipefail
VERSION=${CONTAINERD2_VERSION:-v2.4.2}
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}/containerd2
OUT=$CACHE/$VERSION
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 1200 9 || { echo "containerd2-build.sh: timed out waiting for $CACHE/.lock" >&2; exit 1; }
if [ -x "$OUT/containerd" ] && [ -x "$OUT/containerd-shim-runc-v2" ] && "$OUT/containerd" --version 2>/dev/null | grep -q " ${VERSION#v}"; then echo "$OUT"; exit 0; fi
bash "$(dirname "$0")/packages.sh" gcc libc6-dev
command -v go >/dev/null || { echo "containerd2-build.sh: the Go toolchain (go) is missing; it is needed to build containerd $VERSION" >&2; exit 1; }
export GOPATH=$CACHE/gopath GOMODCACHE=$CACHE/gopath/pkg/mod GOCACHE=$CACHE/gocache GOFLAGS=-modcacherw CGO_ENABLED=1
echo "containerd2-build.sh: building containerd $VERSION (Go module proxy) ..." >&2
GOBIN=$OUT go install -tags no_btrfs "github.com/containerd/containerd/v2/cmd/containerd@$VERSION" "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$VERSION" >&2
"$OUT/containerd" --version | grep -q " ${VERSION#v}" || { echo "containerd2-build.sh: $OUT/containerd is not $VERSION" >&2; exit 1; }
echo "$OUT"
