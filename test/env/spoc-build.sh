#!/usr/bin/env bash
# Tries to build SPO's `spoc` CLI from the Go module proxy, for interop tests against the real tool; prints its path.
#
# SPO's module (sigs.k8s.io/security-profiles-operator) is served by the proxy per version (its version list is
# not: `go list -m -versions` answers 403), so the version is pinned. spoc links libseccomp, libapparmor and
# libbpfgo (cgo). Result on Debian 12 (2026-12): it does NOT build: libbpfgo v0.8.0-libbpf-1.5 needs libbpf >= 1.2
# (`C.bpf_map_get_info_by_fd`), Debian 12 ships libbpf 1.1.2, and libbpfgo's own libbpf is a git submodule that
# its module zip does not carry. The OCI tests therefore use artifacts laid out exactly as spoc's source writes
# them (test/oci/spoc-layout.test.ts). Kept for a machine with libbpf >= 1.5 (Debian 13).
#
# Cached under $AUDITFLOW_CACHE/spoc/<version>; the output of the last failed attempt is kept in build.log there.
set -euo pipefail
VERSION=${SPOC_VERSION:-v0.9.0}
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}/spoc
OUT=$CACHE/$VERSION/spoc
mkdir -p "$CACHE/$VERSION"
exec 9>"$CACHE/.lock"
flock -w 3600 9 || { echo "spoc-build.sh: timed out waiting for $CACHE/.lock" >&2; exit 1; }
if [ -x "$OUT" ] && "$OUT" version >/dev/null 2>&1; then echo "$OUT"; exit 0; fi
# cgo: libseccomp (seccomp-golang), libbpf (libbpfgo, which wants libbpf 1.5; Debian 12 has 1.1), libapparmor (go-apparmor)
bash "$(dirname "$0")/packages.sh" libseccomp-dev pkg-config gcc libc6-dev libbpf-dev libelf-dev zlib1g-dev libapparmor-dev
command -v go >/dev/null || { echo "spoc-build.sh: the Go toolchain (go) is missing" >&2; exit 1; }
# The checksum database reachable here answers 404 for SPO v0.9.0 and several of its dependencies although the
# proxy serves them, so this test-only build skips it (GOSUMDB=off): the binary is a test peer, never shipped.
export GOSUMDB=off
export GOPATH=$CACHE/gopath GOMODCACHE=$CACHE/gopath/pkg/mod GOCACHE=$CACHE/gocache GOFLAGS="-mod=mod -modcacherw" CGO_ENABLED=1
echo "spoc-build.sh: building spoc $VERSION (Go module proxy) ..." >&2
# `go install spoc@VERSION` reads the module's version list for deprecations, which the proxy refuses (403), so the
# package is built from a throwaway module that requires the pinned version (replace directives of SPO's own
# go.mod do not apply there).
W=$CACHE/$VERSION/wrapper
rm -rf "$W"; mkdir -p "$W"
build() {
  cd "$W" && go mod init spoc-wrapper && go get "sigs.k8s.io/security-profiles-operator@$VERSION" \
    && go build -o "$OUT" sigs.k8s.io/security-profiles-operator/cmd/spoc
}
if ! ( build ) >"$CACHE/$VERSION/build.log" 2>&1; then
  echo "spoc-build.sh: building spoc $VERSION failed; the last lines of $CACHE/$VERSION/build.log:" >&2
  tail -25 "$CACHE/$VERSION/build.log" >&2
  exit 1
fi
echo "$OUT"
