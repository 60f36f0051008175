#!/usr/bin/env bash
# Builds the auditflow application image without a registry or a container engine -- from this repository,
# this machine's Node.js and Debian packages -- as an OCI image archive, and optionally imports it into a
# containerd. The same stages as the Containerfile at the repository root (keep the two in step):
#
#   build    the checkout's package files, tsconfigs, src/ and parsers/ (tracked and untracked, not ignored) in a
#            scratch directory: npm ci, tsc of src/ and parsers/ only (tsconfig.image.json)
#   deps     package.json + package-lock.json alone: npm ci --omit=dev (production node_modules)
#   runtime  Debian 12's libc6, libgcc-s1, libstdc++6 (what node links), auditctl with its libraries (the
#            lineage-rule installer), the CA bundle, this machine's node binary (Node >= 20.19: Debian 12's own
#            nodejs is 18), /etc/passwd with the non-root user 65532; then /app: dist/src, dist/parsers, the CRI
#            protos (CRI, containerd events), package.json, the production node_modules. No shell, npm, compiler or package manager.
#
# Two layers (runtime base, app), uncompressed, owner 0:0, mtimes 0. The tag is a hash of everything that went
# in, so an unchanged tree gives the same reference; the archive is cached under $AUDITFLOW_CACHE/image.
# Default user 65532; the tailer and agent pods run as 0 where the host's files demand it (deploy/).
#
# Usage: deploy/image/build.sh [--import <containerd socket>] [--out <file.tar>]
# Prints the image reference (localhost/auditflow:<tag>) on stdout, the only line there.
# Environment: AUDITFLOW_CACHE (default /var/cache/auditflow), IMAGE_NAME (default localhost/auditflow), NODE
# (default: node on PATH).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}/image
IMAGE_NAME=${IMAGE_NAME:-localhost/auditflow}
NODE_BIN=$(readlink -f "${NODE:-$(command -v node)}")
IMPORT= OUT=
while [ $# -gt 0 ]; do
  case "$1" in
    --import) IMPORT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: $0 [--import <containerd socket>] [--out <file.tar>]" >&2; exit 2 ;;
  esac
done
T0=$(date +%s)
log() { echo "[image/build.sh +$(( $(date +%s) - T0 ))s] $*" >&2; }
die() { echo "image/build.sh: error: $*" >&2; exit 1; }

# Debian packages of the runtime stage; auditd only for /sbin/auditctl
DEBS=(libc6 libgcc-s1 libstdc++6 libaudit1 libaudit-common libauparse0 libcap-ng0 auditd ca-certificates)

"$NODE_BIN" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "$NODE_BIN is Node $("$NODE_BIN" --version); the image needs Node >= 20.19"
command -v npm >/dev/null || die "npm is not installed (the build stage runs npm ci)"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "apt-get and dpkg-deb are needed (Debian packages for the runtime stage)"
mkdir -p "$CACHE/debs"
exec 9>"$CACHE/.lock"
flock -w 1800 9 || die "timed out waiting for $CACHE/.lock"

W=$(mktemp -d /tmp/auditflow-image.XXXXXX)
trap 'rm -rf "$W"' EXIT

# The inputs: what the image is made of among the checkout's files as git sees them (tracked + untracked, not
# ignored) -- the package files, tsconfigs, src/ and parsers/, not tests or docs --, the packages, node, this script
(cd "$REPO" && git ls-files -z -co --exclude-standard -- package.json package-lock.json tsconfig.json tsconfig.image.json src parsers \
  | tar --null -T - --ignore-failed-read --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$W/src.tar" 2>/dev/null) \
  || die "cannot read the checkout's files (is $REPO a git checkout?)"
(cd "$CACHE/debs" && for p in "${DEBS[@]}"; do ls ${p}_*.deb >/dev/null 2>&1 || echo "$p"; done) >"$W/missing"
if [ -s "$W/missing" ]; then
  log "downloading $(tr '\n' ' ' <"$W/missing")"
  (cd "$CACHE/debs" && apt-get -o APT::Sandbox::User=root download $(cat "$W/missing") >&2) || die "apt-get download failed (see above)"
fi
KEY=$( { sha256sum "$W/src.tar" "$0" "$NODE_BIN"; for p in "${DEBS[@]}"; do ls "$CACHE/debs/${p}"_*.deb; done; } \
  | sed "s| .*/| |" | sha256sum | cut -c1-16)
REF=$IMAGE_NAME:$KEY
ARCHIVE=$CACHE/auditflow-$KEY.tar

if [ ! -s "$ARCHIVE" ]; then
  # --- stage build ---
  log "stage build: npm ci + tsc (src/, parsers/)"
  mkdir -p "$W/build" && tar -C "$W/build" -xf "$W/src.tar"
  (cd "$W/build" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2 && ./node_modules/.bin/tsc -p tsconfig.image.json >&2) \
    || die "the build stage failed (see above)"
  # --- stage deps ---
  log "stage deps: npm ci --omit=dev"
  mkdir -p "$W/deps" && cp "$W/build/package.json" "$W/build/package-lock.json" "$W/deps/"
  (cd "$W/deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2) || die "npm ci --omit=dev failed (see above)"
  # --- stage runtime: base layer ---
  log "stage runtime: Debian 12 libraries, auditctl, CA bundle, node $("$NODE_BIN" --version)"
  B=$W/base
  mkdir -p "$W/x" "$B"
  for p in "${DEBS[@]}"; do dpkg-deb -x "$(ls "$CACHE/debs/${p}"_*.deb | head -1)" "$W/x/$p"; done
  for p in libc6 libgcc-s1 libstdc++6 libaudit1 libaudit-common libauparse0 libcap-ng0; do
    rm -rf "$W/x/$p/usr/share"
    cp -a "$W/x/$p/." "$B/"
  done
  install -D -m 0755 "$W/x/auditd/sbin/auditctl" "$B/sbin/auditctl"
  install -D -m 0755 "$NODE_BIN" "$B/usr/bin/node"
  mkdir -p "$B/etc/ssl/certs"
  find "$W/x/ca-certificates/usr/share/ca-certificates" -name '*.crt' | sort | xargs cat >"$B/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$B/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$B/etc/group"
  printf 'hosts: files dns\n' >"$B/etc/nsswitch.conf"
  install -d -m 1777 "$B/tmp"
  install -d -m 0755 -o 65532 -g 65532 "$B/home/nonroot"
  # --- stage runtime: app layer ---
  A=$W/app
  mkdir -p "$A/app/dist" "$A/app/src/enrich/cri"
  cp -a "$W/build/dist/src" "$W/build/dist/parsers" "$A/app/dist/"
  find "$A/app/dist" -name '*.d.ts' -delete
  cp "$W/build/src/enrich/cri/"*.proto "$A/app/src/enrich/cri/"
  cp "$W/build/package.json" "$A/app/"
  cp -a "$W/deps/node_modules" "$A/app/"
  # what the final image must not hold
  for bad in usr/bin/npm usr/bin/npx usr/bin/gcc usr/bin/cc bin/sh usr/bin/apt-get usr/bin/dpkg; do
    [ ! -e "$B/$bad" ] || die "the runtime stage holds $bad"
  done
  # the runtime works: node starts in the assembled root (no host library leaks in), the CLI answers, auditctl links
  mkdir -p "$W/check" && cp -a "$B/." "$W/check/" && cp -a "$A/." "$W/check/"
  chroot "$W/check" /usr/bin/node /app/dist/src/cli/main.js --help >/dev/null 2>"$W/check.err" \
    || { cat "$W/check.err" >&2; die "node /app/dist/src/cli/main.js --help fails inside the image's root"; }
  chroot "$W/check" /sbin/auditctl -v >/dev/null 2>&1 || die "auditctl does not run inside the image's root"

  # --- OCI image layout ---
  O=$W/oci
  mkdir -p "$O/blobs/sha256"
  blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$O/blobs/sha256/$d"; echo "$d $(stat -c %s "$O/blobs/sha256/$d")"; }
  layer() { tar -C "$1" --sort=name --mtime=@0 --numeric-owner -cf "$2" .; }
  # owners: root everywhere except the non-root user's home
  layer "$B" "$W/base.tar"; layer "$A" "$W/app.tar"
  read -r BD BS < <(blob "$W/base.tar")
  read -r AD AS < <(blob "$W/app.tar")
  cat >"$W/config.json" <<EOF
{"architecture":"amd64","os":"linux","config":{"User":"65532:65532","WorkingDir":"/app","Env":["PATH=/usr/bin:/bin:/usr/sbin:/sbin","NODE_ENV=production"],"Entrypoint":["/usr/bin/node","/app/dist/src/cli/main.js"],"Labels":{"org.opencontainers.image.title":"auditflow","org.opencontainers.image.source":"deploy/image/build.sh"}},"rootfs":{"type":"layers","diff_ids":["sha256:$BD","sha256:$AD"]},"history":[{"created_by":"deploy/image/build.sh: runtime base (Debian 12 libraries, node, auditctl)"},{"created_by":"deploy/image/build.sh: /app"}]}
EOF
  read -r CD CS < <(blob "$W/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$CD" "$CS" "$BD" "$BS" "$AD" "$AS" >"$W/manifest.json"
  read -r MD MS < <(blob "$W/manifest.json")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$MD" "$MS" "$REF" "$KEY" >"$O/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$O/oci-layout"
  tar -C "$O" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$ARCHIVE.new" .
  mv -f "$ARCHIVE.new" "$ARCHIVE"
  # keep the last few builds only
  ls -t "$CACHE"/auditflow-*.tar 2>/dev/null | tail -n +6 | xargs -r rm -f
  log "built $REF: base layer $((BS >> 20)) MiB, app layer $((AS >> 20)) MiB"
else
  log "$REF cached ($ARCHIVE)"
fi

[ -z "$OUT" ] || cp "$ARCHIVE" "$OUT"
if [ -n "$IMPORT" ]; then
  command -v ctr >/dev/null || die "ctr is not installed (containerd's client)"
  images=$(ctr --address "$IMPORT" -n k8s.io images ls -q) || die "cannot list the images of $IMPORT"
  if ! grep -qxF "$REF" <<<"$images"; then
    ctr --address "$IMPORT" -n k8s.io images import "$ARCHIVE" >&2 || die "ctr images import into $IMPORT failed"
    log "imported $REF into $IMPORT (namespace k8s.io)"
  fi
fi
echo "$REF"
