#!/usr/bin/env bash
# test/bench/peers.sh: install/build and cache the peer tools `npm run bench` compares auditflow against.
#
#   test/bench/peers.sh       (idempotent; a cached peer costs one version check)
#
# stdout, one line per peer (what test/bench/peers.ts reads):
#   ausearch=/usr/sbin/ausearch                       (Debian package auditd)
#   auparse=$CACHE/peers/bin/auparse-v2.6.1            (go-libaudit's cmd/auparse, Go module proxy)
#   laurel=$CACHE/peers/laurel-0.8.2/bin/laurel        (crates.io crate laurel, cargo install)
# A peer that cannot be had prints `NAME=` and `NAME.unavailable=<the exact reason>` instead, and the script
# goes on with the others; it exits 0 unless its own preconditions fail. Progress goes to stderr; build logs
# and build times are kept in $CACHE/peers/logs/.
#
# Pinned versions (override with the environment variables):
#   GO_LIBAUDIT_VERSION (v2.6.1): the Go module proxy here answers `@v/list` and `@latest` with 403, so
#     `go install …@latest` cannot resolve a version (and even `go install …@v2.6.1` fails: it lists the
#     module's versions to look for a deprecation notice). So we build from a small wrapper module that
#     requires github.com/elastic/go-libaudit/v2 at the pinned version (`go mod tidy` + `go build`).
#   LAUREL_VERSION (0.8.2): its build script runs bindgen (needs libclang: Debian libclang-dev) and it
#     links libacl (Debian libacl1-dev); both are apt-installed when missing.
set -euo pipefail

CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
PEERS=$CACHE/peers
GO_LIBAUDIT_VERSION=${GO_LIBAUDIT_VERSION:-v2.6.1}
LAUREL_VERSION=${LAUREL_VERSION:-0.8.2}

die() { echo "peers.sh: error: $*" >&2; exit 1; }
note() { echo "peers.sh: $*" >&2; }
mkdir -p "$PEERS/bin" "$PEERS/logs" "$PEERS/src" || die "cannot create $PEERS (set AUDITFLOW_CACHE to a writable directory)"
command -v flock >/dev/null || die "flock(1) is missing: apt-get install -y util-linux"
exec 9>"$PEERS/build.lock"
flock -w 3600 9 || die "timed out waiting for $PEERS/build.lock (another peers.sh building?)"

ok() { echo "$1=$2"; }
unavailable() { # unavailable NAME REASON
  local reason=${2//$'\n'/ }
  note "$1 unavailable: $reason"
  echo "$1="
  echo "$1.unavailable=$reason"
}

missing_packages() { # prints the packages among "$@" that are not installed
  local ok p
  ok=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null | awk '$2=="install" && $4=="installed" {print $1}')
  for p in "$@"; do grep -qx "$p" <<<"$ok" || echo "$p"; done
}
apt_install() { # apt_install PKG...: returns non-zero with the reason on stderr; serialized with the other scripts
  [ "$(id -u)" = 0 ] || { echo "packages $* are missing; install them as root: apt-get install -y $*" >&2; return 1; }
  command -v apt-get >/dev/null || { echo "packages $* are missing and apt-get is not available" >&2; return 1; }
  (
    flock -w 900 8 || { echo "timed out waiting for $CACHE/apt.lock" >&2; exit 1; }
    mapfile -t still < <(missing_packages "$@")
    [ ${#still[@]} -eq 0 ] && exit 0
    note "installing ${still[*]} (apt-get) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${still[@]}" >"$PEERS/logs/apt.log" 2>&1 \
      || { apt-get -o DPkg::Lock::Timeout=600 update -qq >>"$PEERS/logs/apt.log" 2>&1 \
        && apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${still[@]}" >>"$PEERS/logs/apt.log" 2>&1; } \
      || { echo "apt-get install ${still[*]} failed: $(grep -E '^E:' "$PEERS/logs/apt.log" | tail -n 2 | tr '\n' ' ')" >&2; exit 1; }
  ) 8>"$CACHE/apt.lock"
}
need_packages() { # need_packages PKG...: installs the missing ones; prints the failure reason, returns 1
  local need err
  mapfile -t need < <(missing_packages "$@")
  [ ${#need[@]} -eq 0 ] && return 0
  err=$(apt_install "${need[@]}" 2>&1 >/dev/null) || { echo "$err"; return 1; }
}
build_reason() { # build_reason LOG: the lines that say why a build failed
  local r
  r=$(grep -E '(^|[[:space:]])(error|Error|fatal)(\[[A-Z0-9]+\])?:|Unable to find|cannot find|not found|403 Forbidden|404 Not Found' "$1" \
    | grep -vE '^error: could not compile|^error: failed to compile|^To reuse' | sed -E 's/^[[:space:]]+//' | head -n 4 | tr '\n' ' ')
  [ -n "$r" ] || r=$(tail -n 3 "$1" | tr '\n' ' ')
  echo "$r"
}
timed() { # timed NAME CMD...: runs CMD, logs how long it took to $PEERS/logs/NAME-build.time
  local name=$1 s rc=0; shift
  s=$(date +%s)
  "$@" || rc=$?
  echo "$(date -u +%FT%TZ) $name rc=$rc $(($(date +%s) - s)) s" >>"$PEERS/logs/$name-build.time"
  return $rc
}

# ---- ausearch (Debian auditd) -----------------------------------------------------------------------
peer_ausearch() {
  local bin err
  bin=$(command -v ausearch || true)
  if [ -z "$bin" ]; then
    err=$(need_packages auditd) || { unavailable ausearch "ausearch not installed and $err"; return; }
    bin=$(command -v ausearch || true)
    [ -n "$bin" ] || { unavailable ausearch "package auditd installed but ausearch is not on PATH"; return; }
  fi
  "$bin" -v >/dev/null 2>&1 || { unavailable ausearch "$bin -v fails: $("$bin" -v 2>&1 | head -n 1)"; return; }
  ok ausearch "$bin"
}

# ---- go-libaudit auparse (Go module proxy) ----------------------------------------------------------
peer_auparse() {
  local bin=$PEERS/bin/auparse-$GO_LIBAUDIT_VERSION src=$PEERS/src/auparse-$GO_LIBAUDIT_VERSION rc
  local log=$PEERS/logs/auparse-build.log
  if [ -x "$bin" ] && "$bin" -h >/dev/null 2>&1; then ok auparse "$bin"; return; fi
  command -v go >/dev/null || { unavailable auparse "the Go toolchain (go) is not on PATH: install Go >= 1.21 (https://go.dev/dl or apt-get install golang-go)"; return; }
  mkdir -p "$src"
  cat >"$src/go.mod" <<EOF
module auditflow.local/bench/auparse

go 1.21

require github.com/elastic/go-libaudit/v2 $GO_LIBAUDIT_VERSION
EOF
  cat >"$src/tools.go" <<'EOF'
//go:build tools

// Package tools only pins github.com/elastic/go-libaudit/v2 so that its cmd/auparse can be built.
package tools

import _ "github.com/elastic/go-libaudit/v2/cmd/auparse"
EOF
  note "building go-libaudit $GO_LIBAUDIT_VERSION cmd/auparse (go $(go env GOVERSION)) ..."
  build_auparse() ( # subshell: the cd stays inside
    cd "$src" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod tidy \
      && GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -trimpath -o "$bin.tmp.$$" github.com/elastic/go-libaudit/v2/cmd/auparse \
      && mv -f "$bin.tmp.$$" "$bin"
  )
  timed auparse build_auparse >"$log" 2>&1 && rc=0 || rc=$?
  note "auparse build: $(tail -n 1 "$PEERS/logs/auparse-build.time") (log: $log)"
  if [ $rc != 0 ]; then
    rm -f "$bin.tmp.$$"
    unavailable auparse "go build of github.com/elastic/go-libaudit/v2/cmd/auparse@$GO_LIBAUDIT_VERSION failed: $(build_reason "$log") (log: $log)"
    return
  fi
  "$bin" -h >/dev/null 2>&1 || { unavailable auparse "$bin built but '$bin -h' fails: $("$bin" -h 2>&1 | tail -n 1)"; return; }
  ok auparse "$bin"
}

# ---- laurel (crates.io) -----------------------------------------------------------------------------
peer_laurel() {
  local root=$PEERS/laurel-$LAUREL_VERSION bin log=$PEERS/logs/laurel-build.log err rc
  bin=$root/bin/laurel
  if [ -x "$bin" ] && "$bin" -v 2>/dev/null | grep -q "$LAUREL_VERSION"; then ok laurel "$bin"; return; fi
  command -v cargo >/dev/null || { unavailable laurel "cargo is not on PATH: install a Rust toolchain (rustup, or apt-get install cargo; laurel $LAUREL_VERSION needs rustc >= 1.70)"; return; }
  # build script: bindgen over src/sockaddr.h needs libclang; the binary links -lacl (exacl crate)
  err=$(need_packages libclang-dev libacl1-dev) || { unavailable laurel "build dependencies missing (bindgen needs libclang, linking needs -lacl): $err"; return; }
  note "building laurel $LAUREL_VERSION with cargo install (a few minutes on 2 cores) ..."
  build_laurel() (
    cd "$PEERS/src" && CARGO_TARGET_DIR=$PEERS/src/laurel-target \
      cargo install --locked --root "$root" "laurel@$LAUREL_VERSION"
  )
  timed laurel build_laurel >"$log" 2>&1 && rc=0 || rc=$?
  note "laurel build: $(tail -n 1 "$PEERS/logs/laurel-build.time") (log: $log)"
  if [ $rc != 0 ]; then
    unavailable laurel "cargo install laurel@$LAUREL_VERSION failed: $(build_reason "$log") (log: $log)"
    return
  fi
  "$bin" -v >/dev/null 2>&1 || { unavailable laurel "$bin built but '$bin -v' fails: $("$bin" -v 2>&1 | tail -n 1)"; return; }
  ok laurel "$bin"
}

peer_ausearch
peer_auparse
peer_laurel
