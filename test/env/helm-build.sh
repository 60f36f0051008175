#!/usr/bin/env bash
# Builds the helm CLI from the Go module proxy and prints its path (the only line on stdout): the cluster tests
# lint deploy/helm/auditflow and install it into the cluster rig. No prebuilt binary can be fetched here.
#
# Idempotent and cached under $AUDITFLOW_CACHE/helm/<version>, serialized by flock. It compiles with the
# Kubernetes rig's Go build cache (kube/<version>/gocache): the dependencies both share (golang.org/x, protobuf,
# and the k8s.io libraries where the versions agree) are not compiled twice.
set -euo pipefail
VERSION=${HELM_VERSION:-v4.3.2}
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
KUBE_VERSION=$(sed -n 's/^KUBE_VERSION=\(v[0-9.]*\).*/\1/p' "$(dirname "$0")/kube/build.sh")
DIR=$CACHE/helm
OUT=$DIR/$VERSION/helm
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock -w 3600 9 || { echo "helm-build.sh: timed out waiting for $DIR/.lock" >&2; exit 1; }
if [ -x "$OUT" ] && "$OUT" version >/dev/null 2>&1; then echo "$OUT"; exit 0; fi
command -v go >/dev/null || { echo "helm-build.sh: the Go toolchain (go) is missing; it is needed to build helm $VERSION" >&2; exit 1; }
mkdir -p "$CACHE/kube/$KUBE_VERSION"
export GOPATH=$DIR/gopath GOMODCACHE=$DIR/gopath/pkg/mod GOCACHE=$CACHE/kube/$KUBE_VERSION/gocache
export GOFLAGS="-mod=mod -modcacherw -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
T0=$(date +%s)
echo "helm-build.sh: building helm $VERSION (Go module proxy; several minutes on first use) ..." >&2
major=${VERSION%%.*}
GOBIN=$DIR/$VERSION.tmp go install -trimpath -ldflags "-s -w -X helm.sh/helm/$major/internal/version.version=$VERSION" \
  "helm.sh/helm/$major/cmd/helm@$VERSION" >&2
mkdir -p "$DIR/$VERSION"
mv -f "$DIR/$VERSION.tmp/helm" "$OUT"
rmdir "$DIR/$VERSION.tmp" 2>/dev/null || true
"$OUT" version >/dev/null 2>&1 || { echo "helm-build.sh: $OUT does not run" >&2; exit 1; }
echo "helm-build.sh: built $("$OUT" version --short 2>/dev/null) in $(( $(date +%s) - T0 )) s" >&2
echo "$OUT"
