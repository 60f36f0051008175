#!/usr/bin/env bash
# Installs the Debian packages the test suites use, once: the real parts (auditd, containerd, runc),
# libseccomp's resolver and headers (syscall tables), the compilers for the seccomp helper (64- and
# 32-bit), and busybox-static for container images. Idempotent and quiet when all is there; safe to run
# from several test processes at once (flock). Run by `npm test` before the suites.
set -euo pipefail
PKGS=(auditd seccomp libseccomp-dev gcc libc6-dev gcc-multilib libc6-dev-i386 busybox-static containerd runc)
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
mkdir -p "$CACHE"
exec 9>"$CACHE/packages.lock"
flock 9
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "test/env/packages.sh: missing Debian packages ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "test/env/packages.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
