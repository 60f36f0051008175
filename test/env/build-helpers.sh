#!/usr/bin/env bash
# test/env/build-helpers.sh: compile test/env/seclog.c natively and as a static 32-bit (i386) binary.
#
#   test/env/build-helpers.sh      prints   seclog64=/var/cache/auditflow/bin/seclog-<key>-64
#                                            seclog32=/var/cache/auditflow/bin/seclog-<key>-32
#
# <key> is a hash of seclog.c, the compiler flags and the gcc version: a changed source builds new binaries
# (old ones stay, so checkouts of different versions can share the cache), an unchanged one reuses them.
# Binaries are built under flock ($CACHE/build.lock) into a temporary name and renamed into place, so
# concurrent callers never see a half-written file. Installs gcc, libc6-dev, gcc-multilib and
# libc6-dev-i386 with apt if missing. On a non-x86_64 machine only the native binary is built and
# `seclog32=` is printed empty.
set -euo pipefail

CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$HERE/seclog.c
CFLAGS64=(-O2 -Wall)
CFLAGS32=(-m32 -static -O2 -Wall)

die() { echo "build-helpers.sh: error: $*" >&2; exit 1; }
note() { echo "build-helpers.sh: $*" >&2; }

[ -f "$SRC" ] || die "$SRC not found"
command -v flock >/dev/null || die "flock(1) is missing: apt-get install -y util-linux"
mkdir -p "$CACHE/bin" || die "cannot create $CACHE/bin (set AUDITFLOW_CACHE to a writable directory)"

x86=no
[ "$(uname -m)" = x86_64 ] && x86=yes
PACKAGES=(gcc libc6-dev)
[ $x86 = yes ] && PACKAGES+=(gcc-multilib libc6-dev-i386)

bash "$(dirname "$0")/packages.sh" "${PACKAGES[@]}"
command -v gcc >/dev/null || die "gcc not found after installing it"

key=$( { cat "$SRC"; echo "${CFLAGS64[*]} | ${CFLAGS32[*]}"; gcc -dumpfullversion -dumpmachine; } | sha256sum | cut -c1-16)
out64=$CACHE/bin/seclog-$key-64
out32=$CACHE/bin/seclog-$key-32

build() { # build OUT FLAGS...   (then checks that the new binary can install its filter here)
  local out=$1; shift
  [ -x "$out" ] && return 0
  local tmp="$out.tmp.$$"
  note "compiling $(basename "$out") (gcc $*)"
  if ! gcc "$@" -o "$tmp" "$SRC" 2>"$tmp.err"; then
    local err; err=$(cat "$tmp.err"); rm -f "$tmp" "$tmp.err"
    case " $* " in
      *" -m32 "*) die "32-bit build failed (needs gcc-multilib and libc6-dev-i386: apt-get install -y gcc-multilib libc6-dev-i386): $err" ;;
      *) die "build of $SRC failed: $err" ;;
    esac
  fi
  rm -f "$tmp.err"
  local msg rc=0
  msg=$("$tmp" -- /bin/true 2>&1) || rc=$?
  if [ $rc != 0 ]; then
    rm -f "$tmp"
    die "$(basename "$out") cannot run a command under its seccomp filter (exit $rc): $msg; needs a kernel with CONFIG_SECCOMP_FILTER (4.14+ for SECCOMP_RET_LOG)"
  fi
  mv -f "$tmp" "$out"
}

exec 9>"$CACHE/build.lock"
flock -w 300 9 || die "timed out waiting for $CACHE/build.lock"
build "$out64" "${CFLAGS64[@]}"
# seclog with no command prints its usage and exits 2: proves the binary runs on this kernel
check() { # check BIN WHAT
  local rc=0; "$1" >/dev/null 2>&1 || rc=$?
  [ $rc = 2 ] || die "$1 does not run here (exit $rc, expected 2)$2"
}
check "$out64" ""
if [ $x86 = yes ]; then
  build "$out32" "${CFLAGS32[@]}"
  check "$out32" ": is 32-bit emulation (CONFIG_IA32_EMULATION, boot option ia32_emulation) enabled in this kernel?"
else
  out32=
fi
echo "seclog64=$out64"
echo "seclog32=$out32"
