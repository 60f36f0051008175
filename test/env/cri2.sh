#!/usr/bin/env bash
# A private containerd 2.x for tests of what Debian's containerd 1.6 does not serve (CRI GetContainerEvents), run
# by test/env/cri.sh from its own directory: the same config, image and socket layout, another binary. Prints its
# socket path like cri.sh. CTD_STOP=1 stops it.
#
# The binaries (containerd, containerd-shim-runc-v2) are built from the Go module proxy by
# test/env/containerd2-build.sh (cached under /var/cache/auditflow/containerd2/<version>) unless CTD2_BIN names a
# directory holding them. Debian's ctr (1.6) still drives it: the API it uses is the same.
set -euo pipefail
BIN=${CTD2_BIN:-$(bash "$(dirname "$0")/containerd2-build.sh")}
if [ ! -x "$BIN/containerd" ] || [ ! -x "$BIN/containerd-shim-runc-v2" ]; then
  echo "cri2.sh: no containerd and containerd-shim-runc-v2 in $BIN" >&2
  exit 1
fi
export CTD_DIR=${CTD_DIR:-/var/cache/auditflow/ctd2-events}
# first in PATH: cri.sh starts `containerd`, and containerd finds its shim there
PATH="$BIN:$PATH" exec bash "$(dirname "$0")/cri.sh"
