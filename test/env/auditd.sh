#!/usr/bin/env bash
# test/env/auditd.sh: make this machine write real seccomp audit records to /var/log/audit/audit.log.
#
#   sudo test/env/auditd.sh        (idempotent; prints one "auditd.sh: ok ..." line on success)
#
# What it does, each step only when needed:
#  1. installs the Debian packages the real rig uses: auditd seccomp busybox-static gcc libc6-dev
#     gcc-multilib libc6-dev-i386 (one `apt-get update`, then `apt-get install`);
#  2. starts auditd (there is no systemd here: the package's postinst may not start it) and makes sure it
#     is the audit daemon registered with the kernel (`auditctl -s` pid == `pgrep -x auditd`; plain
#     `pgrep auditd` would also match the kernel thread kauditd);
#  3. kernel audit settings, all runtime-only: `auditctl -e 1`, backlog limit at least 65536
#     (`auditctl -b`), rate limit 0 (`auditctl -r 0`), so that concurrent tests generating bursts of
#     records do not make the kernel drop any (`lost` in `auditctl -s`);
#  4. checks that /proc/sys/kernel/seccomp/actions_logged contains `log` (adds it if missing).
#
# The one persistent change: /etc/audit/auditd.conf `max_log_file` (MB) is raised to at least
# $AUDITFLOW_MAX_LOG_FILE (default 64; Debian ships 8). With 8 MB x num_logs 5, a burst of seccomp records
# from concurrent tests can rotate a log out of existence (audit.log -> .1 -> ... -> deleted) within
# seconds, while a test is still reading the records it produced since its mark. A bigger file only
# rotates less often; nothing else in the file is touched, and a larger value set by someone else is kept.
# auditd applies it on SIGHUP (no restart, no records lost).
#
# Concurrency: the whole script runs under flock on $CACHE/auditd.lock, and apt under $CACHE/apt.lock
# (shared with build-helpers.sh and runc.ts), so several test processes may call it at once.
set -euo pipefail

CACHE=${AUDITFLOW_CACHE:-/var/cache/auditflow}
MIN_MAX_LOG_FILE=${AUDITFLOW_MAX_LOG_FILE:-64}
BACKLOG=65536
PACKAGES=(auditd seccomp busybox-static gcc libc6-dev gcc-multilib libc6-dev-i386)
CONF=/etc/audit/auditd.conf

die() { echo "auditd.sh: error: $*" >&2; exit 1; }
note() { echo "auditd.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (auditctl needs CAP_AUDIT_CONTROL, apt-get needs root): sudo $0"
command -v flock >/dev/null || die "flock(1) is missing: apt-get install -y util-linux"
mkdir -p "$CACHE" || die "cannot create cache dir $CACHE (set AUDITFLOW_CACHE to a writable directory)"
exec 9>"$CACHE/auditd.lock"
flock -w 600 9 || die "timed out after 600 s waiting for $CACHE/auditd.lock (another auditd.sh hung?)"

# ---- 1. packages -------------------------------------------------------------------------------
bash "$(dirname "$0")/packages.sh" "${PACKAGES[@]}"
for t in auditd auditctl; do command -v $t >/dev/null || die "$t not found after installing auditd"; done
[ -x /bin/busybox ] || die "/bin/busybox missing after installing busybox-static"

# ---- 2. auditd.conf: max_log_file ----------------------------------------------------------------
[ -f "$CONF" ] || die "$CONF is missing (reinstall: apt-get install --reinstall -y auditd)"
conf_get() { sed -n -E "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*([^[:space:]#]*).*/\1/p" "$CONF" | tail -n1; }
[ "$(conf_get write_logs)" != no ] || die "$CONF has write_logs = no: auditd writes no log file; set write_logs = yes"
reconf=no
cur=$(conf_get max_log_file)
if [ -z "$cur" ] || ! [[ "$cur" =~ ^[0-9]+$ ]] || [ "$cur" -lt "$MIN_MAX_LOG_FILE" ]; then
  if grep -qE '^[[:space:]]*max_log_file[[:space:]]*=' "$CONF"; then
    sed -i -E "s/^[[:space:]]*max_log_file[[:space:]]*=.*/max_log_file = $MIN_MAX_LOG_FILE/" "$CONF"
  else
    echo "max_log_file = $MIN_MAX_LOG_FILE" >>"$CONF"
  fi
  note "set max_log_file = $MIN_MAX_LOG_FILE (was ${cur:-unset}) in $CONF"
  reconf=yes
fi

# ---- 3. auditd running and registered ------------------------------------------------------------
status_field() { auditctl -s 2>/dev/null | awk -v k="$1" '$1==k {print $2; exit}'; }
daemon_pids() { pgrep -x auditd || true; }
registered_ok() { # the registered audit pid is a running auditd
  local reg; reg=$(status_field pid)
  [ -n "$reg" ] && [ "$reg" != 0 ] && daemon_pids | grep -qx "$reg"
}
start_auditd() {
  note "starting auditd"
  # Not inheriting our lock fds (8, 9) nor the caller's pipes: the daemon would hold them forever.
  auditd </dev/null >>"$CACHE/auditd-start.log" 2>&1 8>&- 9>&- \
    || die "auditd failed to start: $(tail -n 5 "$CACHE/auditd-start.log" 2>/dev/null)"
}
wait_registered() { # wait_registered SECONDS
  local i
  for ((i = 0; i < $1 * 10; i++)); do registered_ok && return 0; sleep 0.1; done
  return 1
}

auditctl -s >/dev/null 2>&1 || die "auditctl -s fails: $(auditctl -s 2>&1 | head -n 2). Is audit compiled into the kernel (CONFIG_AUDIT) and are we root in the initial user namespace?"
if ! registered_ok; then
  reg=$(status_field pid)
  if [ -n "$reg" ] && [ "$reg" != 0 ] && [ -d "/proc/$reg" ] && ! daemon_pids | grep -qx "$reg"; then
    die "another process is the registered audit daemon: pid $reg ($(cat /proc/$reg/comm 2>/dev/null)); stop it so that auditd can register"
  fi
  running=$(daemon_pids)
  if [ -n "$running" ]; then
    # an auditd that is starting up registers within moments; one that lost its registration never does
    if ! wait_registered 5; then
      note "auditd (pid $(echo $running)) runs but the kernel's audit pid is ${reg:-?}: restarting it"
      kill -TERM $running 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do [ -z "$(daemon_pids)" ] && break; sleep 0.1; done
      [ -z "$(daemon_pids)" ] || die "auditd (pid $(daemon_pids | tr '\n' ' ')) did not exit on SIGTERM"
      start_auditd
      reconf=no
    fi
  else
    start_auditd
    reconf=no
  fi
  wait_registered 10 || die "auditd did not register with the kernel within 10 s: auditctl -s says pid $(status_field pid), pgrep -x auditd says '$(daemon_pids | tr '\n' ' ')'; see $CACHE/auditd-start.log"
fi
if [ "$reconf" = yes ]; then
  kill -HUP "$(status_field pid)" # reconfigure: re-reads auditd.conf (max_log_file) without a restart
fi

# ---- 4. kernel settings ------------------------------------------------------------------------
enabled=$(status_field enabled)
case "$enabled" in
  1) ;;
  2) note "audit configuration is locked (enabled 2): cannot change backlog/rate; checking values only" ;;
  *) auditctl -e 1 >/dev/null || die "auditctl -e 1 failed" ;;
esac
if [ "$(status_field enabled)" != 2 ]; then
  [ "$(status_field backlog_limit)" -ge "$BACKLOG" ] || auditctl -b "$BACKLOG" >/dev/null || die "auditctl -b $BACKLOG failed"
  [ "$(status_field rate_limit)" = 0 ] || auditctl -r 0 >/dev/null || die "auditctl -r 0 failed"
fi
[ "$(status_field enabled)" != 0 ] || die "audit is still disabled (auditctl -s: enabled 0); was the kernel booted with audit=0?"
[ "$(status_field backlog_limit)" -ge "$BACKLOG" ] || die "backlog_limit is $(status_field backlog_limit), need >= $BACKLOG"
[ "$(status_field rate_limit)" = 0 ] || die "rate_limit is $(status_field rate_limit), need 0"

AL=/proc/sys/kernel/seccomp/actions_logged
[ -r "$AL" ] || die "$AL is missing: the kernel lacks seccomp (CONFIG_SECCOMP_FILTER) or is older than 4.14"
if ! grep -qw log "$AL"; then
  echo "$(cat "$AL") log" >"$AL" 2>/dev/null || true
  grep -qw log "$AL" || die "$AL ('$(cat "$AL")') lacks 'log' and cannot be changed: SECCOMP_RET_LOG would not be logged"
fi

log_file=$(conf_get log_file)
log_file=${log_file:-/var/log/audit/audit.log}
for ((i = 0; i < 50; i++)); do [ -f "$log_file" ] && break; sleep 0.1; done
[ -f "$log_file" ] || die "auditd runs but $log_file does not exist (check log_file in $CONF)"

echo "auditd.sh: ok: auditd pid $(status_field pid) registered, enabled $(status_field enabled)," \
  "backlog_limit $(status_field backlog_limit), rate_limit $(status_field rate_limit), lost $(status_field lost)," \
  "log $log_file, max_log_file $(conf_get max_log_file) MB x num_logs $(conf_get num_logs)"
