#!/usr/bin/env bash
# The one place that installs Debian packages for the test rig. `packages.sh [PKG...]` installs the given
# packages if missing; without arguments, everything the suites use: the real parts (auditd, containerd,
# runc), libseccomp's resolver and headers (syscall tables), the compilers for the seccomp helper (64- and
# 32-bit), busybox-static for container images. Idempotent, quiet when all is there, one `apt-get update`
# per install, serialized with concurrent callers (flock). `npm test` runs it before the suites; the other
# env scripts call it for what they need when run on their own.
set -euo pipefail
ALL=(auditd seccomp libseccomp-dev gcc libc6-dev gcc-multilib libc6-dev-i386 busybox-static containerd runc etcd-server python3-yaml apparmor)
[ $# -gt 0 ] || set -- "${ALL[@]}"
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
die() { echo "packages.sh: error: $*" >&2; exit 1; }

missing_packages() { # the packages among "$@" that are not installed (one dpkg-query for all)
  local ok p
  ok=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null | awk '$2=="install" && $4=="installed" {print $1}' || true) # exits 1 when a package is unknown to dpkg
  for p in "$@"; do grep -qx "$p" <<<"$ok" || echo "$p"; done
}

mapfile -t need < <(missing_packages "$@")
[ ${#need[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || die "packages ${need[*]} are missing; install them as root: apt-get install -y ${need[*]}"
command -v apt-get >/dev/null || die "packages ${need[*]} are missing and apt-get is not available: install them by hand"
mkdir -p "$CACHE"
(
  flock -w 900 8 || die "timed out waiting for $CACHE/apt.lock"
  # re-check under the lock: a concurrent caller may have installed them meanwhile
  mapfile -t still < <(missing_packages "${need[@]}")
  [ ${#still[@]} -eq 0 ] && exit 0
  echo "packages.sh: installing ${still[*]} (apt-get update + install) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || die "apt-get update failed (see above)"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${still[@]}" >&2 \
    || die "apt-get install ${still[*]} failed (see above)"
) 8>"$CACHE/apt.lock"
