#!/usr/bin/env bash
# Builds sigstore's cosign CLI from the Go module proxy and prints its path (the only line on stdout).
#
# Why: the OCI tests prove that auditflow's signatures are cosign's — what cosign signs, auditflow verifies,
# and what auditflow signs, `cosign verify` accepts. No prebuilt binary can be fetched here, so it is built.
# The first build takes several minutes on 2 cores; afterwards the binary is reused.
#
# Idempotent and cached under $AUDITFLOW_CACHE/cosign/<version> (module and build caches beside it),
# serialized by flock.
set -euo pipefail
VERSION=${COSIGN_VERSION:-v2.6.5}
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}/cosign
OUT=$CACHE/$VERSION/cosign
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 3600 9 || { echo "cosign-build.sh: timed out waiting for $CACHE/.lock" >&2; exit 1; }
if [ -x "$OUT" ] && "$OUT" version >/dev/null 2>&1; then echo "$OUT"; exit 0; fi
command -v go >/dev/null || { echo "cosign-build.sh: the Go toolchain (go) is missing; it is needed to build cosign $VERSION" >&2; exit 1; }
export GOPATH=$CACHE/gopath GOMODCACHE=$CACHE/gopath/pkg/mod GOCACHE=$CACHE/gocache GOFLAGS="-mod=mod -modcacherw" CGO_ENABLED=0
echo "cosign-build.sh: building cosign $VERSION (Go module proxy; several minutes on first use) ..." >&2
GOBIN=$CACHE/$VERSION.tmp go install -trimpath "github.com/sigstore/cosign/v2/cmd/cosign@$VERSION" >&2
mkdir -p "$CACHE/$VERSION"
mv -f "$CACHE/$VERSION.tmp/cosign" "$OUT"
rmdir "$CACHE/$VERSION.tmp" 2>/dev/null || true
"$OUT" version >/dev/null 2>&1 || { echo "cosign-build.sh: $OUT does not run" >&2; exit 1; }
echo "$OUT"
