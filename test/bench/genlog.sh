#!/usr/bin/env bash
# test/bench/genlog.sh: produce one real auditd log of at least N records, generated on this machine, for
# `npm run bench`.
#
#   test/bench/genlog.sh [OUT] [N]
#     OUT default ${AUDITFLOW_CACHE:-/var/cache/auditflow}/bench/audit-600k.log   N default 600000
#
# Reuses OUT when it already holds >= N lines. Otherwise runs a busybox shell loop (builtins only, no fork:
# `echo $i >/dev/null` is ~7 syscalls) under test/env/seclog (SECCOMP_RET_LOG for every syscall), so the
# kernel sends one type=SECCOMP record per syscall to auditd, and copies the lines auditd appends to its
# log from our start position onwards into OUT: whole lines only, in chunks between batches, following
# auditd's rotation (audit.log -> audit.log.1 -> ...) by inode. Other records auditd writes meanwhile
# (from concurrent tests) are kept: they are real records too.
#
# Not disturbing concurrent test runs:
#  - /etc/audit/auditd.conf is only read, never changed;
#  - the kernel backlog limit is raised to 65536 if lower (never lowered), and `lost` (auditctl -s) is
#    compared before/after: a loss fails the run instead of producing a log with holes;
#  - the workload is paced so that auditd's whole rotation window (max_log_file x num_logs) takes at least
#    GENLOG_WINDOW_SECS (default 60) to cycle, so a concurrent test that marks audit.log and reads its own
#    records a little later still finds them (rate = min(window/GENLOG_WINDOW_SECS, GENLOG_MAX_RATE));
#  - one generator at a time (flock on $CACHE/bench/genlog.lock); OUT is written to a temp name and
#    renamed into place.
# Prints: records (lines), SECCOMP records, size, time taken.
set -euo pipefail

CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
OUT=${1:-$CACHE/bench/audit-600k.log}
N=${2:-600000}
WINDOW_SECS=${GENLOG_WINDOW_SECS:-60}
MAX_RATE=${GENLOG_MAX_RATE:-60000} # records/s upper bound, whatever the rotation window
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENVDIR=$(cd "$HERE/../env" && pwd)
CONF=/etc/audit/auditd.conf

die() { echo "genlog.sh: error: $*" >&2; exit 1; }
note() { echo "genlog.sh: $*" >&2; }
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -gt 0 ] || die "N must be a positive integer, got '$N'"

report() { # report FILE SECONDS WHAT
  local lines sec size
  lines=$(wc -l <"$1")
  sec=$(grep -c '^type=SECCOMP ' "$1" || true)
  size=$(stat -c %s "$1")
  echo "genlog.sh: $3 $1: $lines records ($sec SECCOMP), $size bytes ($((size / 1048576)) MiB), $2 s"
}

have_enough() { [ -s "$1" ] && [ "$(wc -l <"$1")" -ge "$N" ]; }

mkdir -p "$(dirname "$OUT")" "$CACHE/bench" || die "cannot create $(dirname "$OUT")"
if have_enough "$OUT"; then report "$OUT" 0 "cached"; exit 0; fi

exec 9>"$CACHE/bench/genlog.lock"
flock -w 1800 9 || die "timed out waiting for $CACHE/bench/genlog.lock (another genlog.sh running?)"
if have_enough "$OUT"; then report "$OUT" 0 "cached"; exit 0; fi # made by the holder of the lock

# ---- preconditions (checks; only runtime kernel settings are touched) -----------------------------
[ "$(id -u)" = 0 ] || die "must run as root (auditctl -s, reading /var/log/audit)"
command -v auditctl >/dev/null || die "auditctl not found: apt-get install -y auditd (or run test/env/auditd.sh)"
status_field() { auditctl -s 2>/dev/null | awk -v k="$1" '$1==k {print $2; exit}'; }
apid=$(status_field pid)
[ -n "$apid" ] && [ "$apid" != 0 ] && [ -d "/proc/$apid" ] \
  || die "no audit daemon registered with the kernel (auditctl -s pid=${apid:-?}); start it: test/env/auditd.sh"
[ "$(status_field enabled)" != 0 ] || die "audit is disabled (auditctl -s: enabled 0)"
if [ "$(status_field enabled)" != 2 ] && [ "$(status_field backlog_limit)" -lt 65536 ]; then
  auditctl -b 65536 >/dev/null || die "auditctl -b 65536 failed"
fi
[ "$(status_field rate_limit)" = 0 ] || die "kernel audit rate_limit is $(status_field rate_limit): records would be dropped; auditctl -r 0"
grep -qw log /proc/sys/kernel/seccomp/actions_logged \
  || die "/proc/sys/kernel/seccomp/actions_logged lacks 'log': SECCOMP_RET_LOG is not logged (test/env/auditd.sh fixes it)"
conf_get() { sed -n -E "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*([^[:space:]#]*).*/\1/p" "$CONF" 2>/dev/null | tail -n1; }
LOG=$(conf_get log_file); LOG=${LOG:-/var/log/audit/audit.log}
[ -f "$LOG" ] || die "$LOG does not exist (auditd log_file)"
[ "$(conf_get write_logs)" != no ] || die "auditd has write_logs = no in $CONF: no log file to copy from"
MAXMB=$(conf_get max_log_file); [[ "$MAXMB" =~ ^[0-9]+$ ]] || MAXMB=8
NUMLOGS=$(conf_get num_logs); [[ "$NUMLOGS" =~ ^[0-9]+$ ]] && [ "$NUMLOGS" -ge 2 ] || NUMLOGS=2
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox not found: apt-get install -y busybox-static"

# ---- seclog: the shared helper build if present, else our own compile ------------------------------
SECLOG=
if [ -x "$ENVDIR/build-helpers.sh" ] || [ -f "$ENVDIR/build-helpers.sh" ]; then
  if out=$(bash "$ENVDIR/build-helpers.sh" 2>"$CACHE/bench/build-helpers.err"); then
    SECLOG=$(sed -n 's/^seclog64=//p' <<<"$out" | tail -n1)
  else
    note "test/env/build-helpers.sh failed ($(tail -n 2 "$CACHE/bench/build-helpers.err" | tr '\n' ' ')); compiling seclog myself"
  fi
fi
if [ -z "$SECLOG" ] || ! [ -x "$SECLOG" ]; then
  command -v gcc >/dev/null || die "gcc not found: apt-get install -y gcc libc6-dev"
  SECLOG=$CACHE/bench/seclog
  if ! [ -x "$SECLOG" ] || [ "$ENVDIR/seclog.c" -nt "$SECLOG" ]; then
    gcc -O2 -Wall -o "$SECLOG.tmp.$$" "$ENVDIR/seclog.c" || die "gcc $ENVDIR/seclog.c failed"
    mv -f "$SECLOG.tmp.$$" "$SECLOG"
  fi
fi

# ---- following audit.log by inode ----------------------------------------------------------------
TMP="$OUT.tmp.$$"
CHUNK="$OUT.chunk.$$"
cleanup() { rm -f "$TMP" "$CHUNK"; exec 3<&- 2>/dev/null || true; }
trap cleanup EXIT
: >"$TMP"

ino_of() { stat -L -c %i "$1" 2>/dev/null || true; }
path_index() { # path_index INODE: prints k where $LOG.k (0 = $LOG itself) has that inode, or nothing
  local k f
  for ((k = 0; k <= NUMLOGS + 1; k++)); do
    f=$LOG; [ $k -gt 0 ] && f=$LOG.$k
    [ "$(ino_of "$f")" = "$1" ] && { echo $k; return; }
  done
}

CUR_INO=$(ino_of "$LOG")
CUR_OFF=$(stat -c %s "$LOG")
SKIP_PARTIAL=no # our start offset may fall inside a line being written: drop up to the first newline
if [ "$CUR_OFF" -gt 0 ] && [ "$(tail -c 1 "$LOG" | od -An -c | tr -d ' ')" != '\n' ]; then SKIP_PARTIAL=yes; fi
COPIED=0

USED=0
copy_range() { # copy_range FD_PATH FROM TO WHOLE_LINES_ONLY(yes|no): appends to $TMP, sets USED (bytes consumed)
  local src=$1 from=$2 to=$3 whole=$4 len keep partial skip
  USED=0
  len=$((to - from))
  [ $len -gt 0 ] || return 0
  dd if="$src" of="$CHUNK" bs=4M iflag=skip_bytes,count_bytes skip="$from" count="$len" status=none
  keep=$(stat -c %s "$CHUNK")
  if [ "$whole" = yes ] && [ "$(tail -c 1 "$CHUNK" | od -An -c | tr -d ' ')" != '\n' ]; then
    partial=$(tail -n 1 "$CHUNK" | wc -c) # bytes of the unterminated last line
    keep=$((keep - partial))
    truncate -s "$keep" "$CHUNK"
  fi
  if [ "$SKIP_PARTIAL" = yes ] && [ "$keep" -gt 0 ]; then
    skip=$(head -n 1 "$CHUNK" | wc -c)
    tail -c +"$((skip + 1))" "$CHUNK" >>"$TMP"
    SKIP_PARTIAL=no
  else
    cat "$CHUNK" >>"$TMP"
  fi
  USED=$keep
}

drain() { # copy everything auditd wrote since the last call, following rotation
  local k f size active next_ino
  while :; do
    k=$(path_index "$CUR_INO")
    [ -n "$k" ] || die "lost track of the audit log (inode $CUR_INO rotated out of $LOG..$LOG.$NUMLOGS before it was copied): auditd rotates faster than we copy; lower GENLOG_MAX_RATE"
    f=$LOG; [ "$k" -gt 0 ] && f=$LOG.$k
    exec 3<"$f" || continue
    [ "$(stat -L -c %i /dev/fd/3)" = "$CUR_INO" ] || { exec 3<&-; continue; } # renamed under us: rescan
    size=$(stat -L -c %s /dev/fd/3)
    active=no; [ "$(ino_of "$LOG")" = "$CUR_INO" ] && active=yes
    if [ "$active" = yes ]; then
      copy_range /dev/fd/3 "$CUR_OFF" "$size" yes
      CUR_OFF=$((CUR_OFF + USED)); exec 3<&-
      return 0
    fi
    # found as $LOG and no longer active: auditd rotated it between the lookup and now; look it up again
    # (as $LOG.1) so that its size is taken after the rename
    [ "$k" -gt 0 ] || { exec 3<&-; continue; }
    # rotated: auditd closed it before renaming, so it is complete; copy to its end and move on to its
    # successor, which is one generation newer ($LOG.(k-1), or $LOG)
    copy_range /dev/fd/3 "$CUR_OFF" "$size" no; exec 3<&-
    f=$LOG; [ "$k" -gt 1 ] && f=$LOG.$((k - 1))
    next_ino=$(ino_of "$f")
    [ -n "$next_ino" ] || die "rotation successor $f of inode $CUR_INO is missing"
    if [ -s "$TMP" ] && [ "$(tail -c 1 "$TMP" | od -An -c | tr -d ' ')" != '\n' ]; then
      die "rotated log $f ended with an unterminated line"
    fi
    CUR_INO=$next_ino; CUR_OFF=0
  done
}

wait_flushed() { # backlog drained and log size stable for 0.3 s
  local i s1 s2
  for ((i = 0; i < 600; i++)); do
    if [ "$(status_field backlog)" = 0 ]; then
      s1=$(stat -c %s "$LOG"); sleep 0.3; s2=$(stat -c %s "$LOG")
      [ "$s1" = "$s2" ] && [ "$(status_field backlog)" = 0 ] && return 0
    else
      sleep 0.1
    fi
  done
  note "warning: auditd did not settle within ~60 s (backlog $(status_field backlog)); copying what is there"
}

# ---- workload ------------------------------------------------------------------------------------
# ~330 bytes per ENRICHED SECCOMP line; ~7 records per loop iteration
WINDOW_BYTES=$((MAXMB * 1048576 * NUMLOGS))
RATE=$((WINDOW_BYTES / 330 / WINDOW_SECS))
[ "$RATE" -le "$MAX_RATE" ] || RATE=$MAX_RATE
[ "$RATE" -ge 500 ] || RATE=500
BATCH_REC=$RATE # one batch per second of budget
BATCH_REC_MAX=$((MAXMB * 1048576 / 330 / 2)) # at most half a log file between two drains
[ "$BATCH_REC" -le "$BATCH_REC_MAX" ] || BATCH_REC=$BATCH_REC_MAX
ITER=$((BATCH_REC / 7)); [ "$ITER" -ge 50 ] || ITER=50
LOOP='i=0; while [ $i -lt '"$ITER"' ]; do echo $i >/dev/null; i=$((i+1)); done'

lost0=$(status_field lost)
note "generating >= $N records into $OUT: $SECLOG busybox sh loop, batches of $ITER iterations, paced at ~$RATE records/s (rotation window ${MAXMB} MB x $NUMLOGS in >= ${WINDOW_SECS} s); following $LOG from inode $CUR_INO offset $CUR_OFF"
t0=$(date +%s.%N)
lines=0; batches=0
while [ "$lines" -lt "$N" ]; do
  tb=$(date +%s.%N)
  "$SECLOG" "$BUSYBOX" sh -c "$LOOP" || die "$SECLOG $BUSYBOX sh failed (exit $?)"
  batches=$((batches + 1))
  drain
  lines=$(wc -l <"$TMP")
  # pace: a batch of ~BATCH_REC records per BATCH_REC/RATE seconds
  want=$(awk -v r="$RATE" -v b="$BATCH_REC" 'BEGIN{printf "%.3f", b / r}')
  spent=$(awk -v a="$tb" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b - a}')
  rest=$(awk -v w="$want" -v s="$spent" 'BEGIN{d = w - s; printf "%.3f", (d > 0 ? d : 0)}')
  [ "$rest" = 0.000 ] || sleep "$rest"
  if [ $((batches % 20)) = 0 ]; then note "$lines / $N records copied"; fi
done
wait_flushed
drain
lost1=$(status_field lost)
t1=$(date +%s.%N)

[ "$lost1" = "$lost0" ] || die "the kernel lost $((lost1 - lost0)) audit records during generation (auditctl -s lost $lost0 -> $lost1); the log would have holes: not kept. Retry, or lower GENLOG_MAX_RATE"
[ -s "$TMP" ] || die "nothing was copied from $LOG"
[ "$(tail -c 1 "$TMP" | od -An -c | tr -d ' ')" = '\n' ] || die "internal: output does not end with a newline"
bad=$(grep -cv '^\(node=[^ ]* \)\?type=[A-Z_0-9]* msg=audit([0-9]*\.[0-9]*:[0-9]*): ' "$TMP" || true)
[ "$bad" = 0 ] || die "$bad copied lines do not look like audit records (first: $(grep -v -m1 '^\(node=[^ ]* \)\?type=[A-Z_0-9]* msg=audit(' "$TMP" | cut -c1-120))"
have=$(wc -l <"$TMP")
[ "$have" -ge "$N" ] || die "only $have records copied, wanted $N"
# Every audit event takes the next serial and the records of one event share it: a hole in the serial
# sequence means records missing from our copy (a rotation mishandled, or records the kernel lost).
# Records of concurrent CPUs reach the log slightly out of serial order, hence the sort.
read -r first last gaps missing < <(sed -n 's/^\(node=[^ ]* \)\?type=[^ ]* msg=audit([0-9.]*:\([0-9]*\)).*/\2/p' "$TMP" \
  | sort -n -u | awk 'NR==1 {f=$1} NR>1 && $1>p+1 {g++; m+=$1-p-1} {p=$1} END {print f, p, g+0, m+0}')
note "audit serials $first..$last, $gaps gap(s) ($missing serial(s) missing)"
if [ "$gaps" != 0 ] && [ "${GENLOG_ALLOW_GAPS:-0}" != 1 ]; then
  die "the copied log has $gaps hole(s) in its audit serials ($missing records missing): not kept (GENLOG_ALLOW_GAPS=1 to accept, e.g. when audit exclude rules are in force)"
fi
mv -f "$TMP" "$OUT"
report "$OUT" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}')" "generated"
