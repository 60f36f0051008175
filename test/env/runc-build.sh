#!/usr/bin/env bash
# Builds a newer runc from the Go module proxy and prints its path (the only line on stdout).
#
# Why: Debian 12's runc 1.1.5 rejects `linux.seccomp.flags` ("seccomp flags are not yet supported by runc"),
# so a container's filter cannot carry SECCOMP_FILTER_FLAG_LOG, and without that flag the kernel does not
# audit SCMP_ACT_ERRNO denials. Denial investigation (issue 6) needs those records. The private containerd
# (cri.sh) offers this runc as an extra runtime handler, `runc-seccomp-flags`; Debian's runc stays the default.
#
# Idempotent and cached under $AUDITFLOW_CACHE/runc/<version> (module and build caches too), serialized by flock.
set -euo pipefail
VERSION=${RUNC_VERSION:-v1.3.6}
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}/runc
OUT=$CACHE/$VERSION/runc
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 1200 9 || { echo "runc-build.sh: timed out waiting for $CACHE/.lock" >&2; exit 1; }
if [ -x "$OUT" ] && "$OUT" --version 2>/dev/null | grep -q 'libseccomp'; then echo "$OUT"; exit 0; fi
bash "$(dirname "$0")/packages.sh" libseccomp-dev pkg-config gcc libc6-dev
command -v go >/dev/null || { echo "runc-build.sh: the Go toolchain (go) is missing; it is needed to build runc $VERSION" >&2; exit 1; }
export GOPATH=$CACHE/gopath GOMODCACHE=$CACHE/gopath/pkg/mod GOCACHE=$CACHE/gocache GOFLAGS=-modcacherw CGO_ENABLED=1
echo "runc-build.sh: building runc $VERSION with seccomp support (Go module proxy) ..." >&2
GOBIN=$CACHE/$VERSION go install -tags "seccomp urfave_cli_no_docs" "github.com/opencontainers/runc@$VERSION" >&2
"$OUT" --version | grep -q 'libseccomp' || { echo "runc-build.sh: $OUT was built without libseccomp" >&2; exit 1; }
echo "$OUT"
