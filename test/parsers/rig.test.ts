// The real rig against the real kernel: auditd, seclog (64- and 32-bit) and runc write real records.
// Needs root. Nothing is skipped: a missing prerequisite fails with a message saying how to get it.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { before, test } from 'node:test';
import {
  auditField,
  auditLogPath,
  auditLost,
  auditMark,
  auditSerial,
  auditStatus,
  auditType,
  ensureAuditd,
  execCapture,
  readAuditSince,
  recordsForPid,
  recordsForSession,
  runUnderSeccomp,
  seclog,
  type AuditMark,
  type RunResult,
  type SeccompRunOptions,
  withoutAuditRules,
} from '../env/rig';
import { runcRun } from '../env/runc';

const T = { timeout: 180_000 };
const ARCH64 = 'c000003e';
const ARCH32 = '40000003';
// prctl: the inner seclog's first syscall of its own (PR_SET_NO_NEW_PRIVS) after the outer one's exec
const PRCTL = { 64: 157, 32: 172 } as const;

let lostAtStart = 0;

before(async () => {
  await ensureAuditd();
  await withoutAuditRules();
  lostAtStart = await auditLost();
});

interface Observed {
  run: RunResult;
  lines: string[];
  mine: string[];
  lostBefore: number;
  lostAfter: number;
}

/** Runs argv under seclog and returns the records auditd wrote for its pid. */
async function observe(argv: string[], opts: SeccompRunOptions): Promise<Observed> {
  const lostBefore = await auditLost();
  const mark = await auditMark();
  const run = await runUnderSeccomp(argv, opts);
  const lines = await readAuditSince(mark);
  const lostAfter = await auditLost();
  return { run, lines, mine: recordsForPid(lines, run.pid), lostBefore, lostAfter };
}

/** The serials of `mine` increase, and every serial between the first and last was written (no loss). */
function assertNoSerialGaps(all: string[], mine: string[]): void {
  const ours = mine.map((l) => auditSerial(l)!);
  for (let i = 1; i < ours.length; i++) assert.ok(ours[i]! > ours[i - 1]!, `serials not increasing: ${ours[i - 1]} then ${ours[i]}`);
  const lo = ours[0]!;
  const hi = ours[ours.length - 1]!;
  const seen = new Set(all.map((l) => auditSerial(l)));
  const missing: number[] = [];
  for (let s = lo; s <= hi; s++) if (!seen.has(s)) missing.push(s);
  assert.deepEqual(missing, [], `serials missing from the log between ${lo} and ${hi}`);
}

function seccompLines(mine: string[]): string[] {
  return mine.filter((l) => auditType(l) === 'SECCOMP');
}

function syscallsOf(lines: string[]): number[] {
  return lines.map((l) => Number(auditField(l, 'syscall')));
}

test('auditd runs, is the registered audit daemon, and the kernel logs SECCOMP_RET_LOG', T, async () => {
  const st = await auditStatus();
  const pg = await execCapture('pgrep', ['-x', 'auditd']);
  const pids = pg.stdout.split('\n').filter(Boolean).map(Number);
  assert.ok(pids.length >= 1, 'pgrep -x auditd finds no auditd');
  assert.ok(pids.includes(st.pid!), `auditctl -s pid ${st.pid} is not an auditd (${pids.join(',')})`);
  assert.notEqual(st.enabled, 0);
  assert.equal(st.rate_limit, 0);
  assert.ok(st.backlog_limit! >= 65536, `backlog_limit ${st.backlog_limit}`);
  const logged = await fsp.readFile('/proc/sys/kernel/seccomp/actions_logged', 'utf8');
  assert.match(logged, /\blog\b/);
  await fsp.access(await auditLogPath());
});

test('64-bit seclog run: type=SECCOMP records (arch=c000003e compat=0, RET_LOG) for its pid', T, async () => {
  const o = await observe(['/bin/busybox', 'echo', 'hi'], { bits: 64 });
  assert.equal(o.run.exitCode, 0, o.run.stderr);
  assert.equal(o.run.stdout, 'hi\n');
  const sc = seccompLines(o.mine);
  assert.ok(sc.length >= 5, `only ${sc.length} SECCOMP records for pid ${o.run.pid}`);
  assert.equal(sc.length, o.mine.length, 'only SECCOMP records expected for a clean run');
  for (const l of sc) {
    assert.equal(auditField(l, 'arch'), ARCH64, l);
    assert.equal(auditField(l, 'compat'), '0', l);
    assert.equal(auditField(l, 'code'), '0x7ffc0000', l);
    assert.equal(auditField(l, 'sig'), '0', l);
  }
  const nrs = syscallsOf(sc);
  assert.equal(nrs[0], 59, 'first logged syscall is the execve of the command');
  assert.ok(nrs.includes(1), 'write(1) logged');
  assert.equal(nrs[nrs.length - 1], 231, 'last logged syscall is exit_group');
  assert.equal(auditField(sc[sc.length - 1]!, 'comm'), '"busybox"');
  assertNoSerialGaps(o.lines, o.mine);
  assert.equal(o.lostAfter, o.lostBefore, 'kernel lost audit records');
});

test('32-bit seclog run: records with arch=40000003 compat=1', T, async () => {
  const bin32 = await seclog({ bits: 32 });
  // the inner 32-bit seclog, given no command, prints its usage and exits 2: all its syscalls are i386
  const o = await observe([bin32], { bits: 32 });
  assert.equal(o.run.exitCode, 2, o.run.stderr);
  assert.match(o.run.stderr, /usage: seclog/);
  const sc = seccompLines(o.mine);
  assert.ok(sc.length >= 3, `only ${sc.length} SECCOMP records`);
  for (const l of sc) {
    assert.equal(auditField(l, 'arch'), ARCH32, l);
    assert.equal(auditField(l, 'compat'), '1', l);
    assert.equal(auditField(l, 'code'), '0x7ffc0000', l);
  }
  const nrs = syscallsOf(sc);
  assert.equal(nrs[0], 11, 'execve is 11 on i386');
  assert.ok(nrs.includes(4), 'write is 4 on i386');
  assert.equal(nrs[nrs.length - 1], 252, 'exit_group is 252 on i386');
  assertNoSerialGaps(o.lines, o.mine);
  assert.equal(o.lostAfter, o.lostBefore);
});

for (const bits of [64, 32] as const) {
  test(`${bits}-bit --errno: the syscall fails with EPERM, logged as code=0x50000`, T, async () => {
    const bin = await seclog({ bits });
    const o = await observe([bin, '--', '/bin/true'], { bits, errno: PRCTL[bits] });
    assert.equal(o.run.exitCode, 125, `inner seclog should fail its prctl: ${o.run.stderr}`);
    assert.match(o.run.stderr, /prctl\(NO_NEW_PRIVS\): Operation not permitted/);
    const denied = seccompLines(o.mine).filter((l) => auditField(l, 'code') !== '0x7ffc0000');
    assert.equal(denied.length, 1, denied.join('\n'));
    // The kernel logs the action only (filter_ret & SECCOMP_RET_ACTION_FULL): the errno value (1) is not in
    // the record, so SECCOMP_RET_ERRNO|EPERM appears as code=0x50000.
    assert.equal(auditField(denied[0]!, 'code'), '0x50000');
    assert.equal(auditField(denied[0]!, 'syscall'), String(PRCTL[bits]));
    assert.equal(auditField(denied[0]!, 'arch'), bits === 64 ? ARCH64 : ARCH32);
    assert.equal(auditField(denied[0]!, 'sig'), '0');
    assert.equal(o.mine.filter((l) => auditType(l) === 'ANOM_ABEND').length, 0);
    assertNoSerialGaps(o.lines, o.mine);
    assert.equal(o.lostAfter, o.lostBefore);
  });

  test(`${bits}-bit --kill: SIGSYS, code=0x80000000 and an ANOM_ABEND record`, T, async () => {
    const bin = await seclog({ bits });
    const o = await observe([bin, '--', '/bin/true'], { bits, kill: PRCTL[bits] });
    assert.equal(o.run.signal, 'SIGSYS', `exit ${o.run.exitCode} ${o.run.stderr}`);
    const sc = seccompLines(o.mine);
    const last = sc[sc.length - 1]!;
    assert.equal(auditField(last, 'code'), '0x80000000', last);
    assert.equal(auditField(last, 'syscall'), String(PRCTL[bits]));
    assert.equal(auditField(last, 'sig'), '31');
    const abend = o.mine.filter((l) => auditType(l) === 'ANOM_ABEND');
    assert.equal(abend.length, 1, `ANOM_ABEND for pid ${o.run.pid}: ${abend.length}`);
    assert.equal(auditField(abend[0]!, 'sig'), '31');
    assert.ok(auditSerial(abend[0]!)! > auditSerial(last)!, 'ANOM_ABEND follows the SECCOMP record');
    assertNoSerialGaps(o.lines, o.mine);
    assert.equal(o.lostAfter, o.lostBefore);
  });
}

test('--trap: SIGSYS, code=0x30000', T, async () => {
  const bin = await seclog({ bits: 64 });
  const o = await observe([bin, '--', '/bin/true'], { bits: 64, trap: PRCTL[64] });
  assert.equal(o.run.signal, 'SIGSYS');
  const trapped = seccompLines(o.mine).filter((l) => auditField(l, 'code') === '0x30000');
  assert.equal(trapped.length, 1);
  assert.equal(auditField(trapped[0]!, 'syscall'), '157');
  assert.equal(o.lostAfter, o.lostBefore);
});

test('session: a shell and its children share one audit session (ses=)', T, async () => {
  const o = await observe(['/bin/busybox', 'sh', '-c', '/bin/busybox true; /bin/busybox echo done'], { session: true });
  assert.equal(o.run.exitCode, 0, o.run.stderr);
  assert.ok(o.run.ses !== undefined && o.run.ses > 0);
  const all = recordsForSession(o.lines, o.run.ses!);
  const pids = new Set(all.map((l) => auditField(l, 'pid')));
  assert.ok(pids.size >= 2, `expected the child's records too, pids: ${[...pids].join(',')}`);
  assert.ok(all.length > o.mine.length);
  for (const l of seccompLines(all)) assert.equal(auditField(l, 'auid'), '0', l);
  // writing loginuid is itself audited: a LOGIN event (LOGIN + SYSCALL + PROCTITLE) opens the session
  const login = all.filter((l) => auditType(l) === 'LOGIN');
  assert.equal(login.length, 1, 'one LOGIN record');
  assert.equal(auditField(login[0]!, 'old-ses'), '4294967295');
});

test('readAuditSince follows a rotation (audit.log -> audit.log.1)', T, async () => {
  const mark: AuditMark = await auditMark();
  const a = await runUnderSeccomp(['/bin/busybox', 'true']);
  const st = await auditStatus();
  process.kill(st.pid!, 'SIGUSR1'); // auditd rotates its logs right away
  const logPath = await auditLogPath();
  const t0 = Date.now();
  while ((await fsp.stat(logPath).catch(() => undefined))?.ino === mark.ino) {
    assert.ok(Date.now() - t0 < 10_000, 'auditd did not rotate within 10 s of SIGUSR1');
    await new Promise((r) => setTimeout(r, 20));
  }
  const b = await runUnderSeccomp(['/bin/busybox', 'true']);
  const lines = await readAuditSince(mark);
  assert.ok(seccompLines(recordsForPid(lines, a.pid)).length > 0, 'records written before the rotation are read');
  assert.ok(seccompLines(recordsForPid(lines, b.pid)).length > 0, 'records written after the rotation are read');
  assert.ok(lines.some((l) => auditType(l) === 'DAEMON_ROTATE'), 'the DAEMON_ROTATE record is in between');
});

test('runc under SCMP_ACT_LOG: exit 0, SECCOMP records for the container pid and session', T, async () => {
  const lostBefore = await auditLost();
  const mark = await auditMark();
  const r = await runcRun({
    args: ['sh', '-c', 'echo hi > /tmp/x; cat /tmp/x; ls /; id'],
    seccomp: { defaultAction: 'SCMP_ACT_LOG' },
  });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^hi\n/);
  assert.match(r.stdout, /\bproc\b/);
  assert.match(r.stdout, /uid=0\(root\) gid=0\(root\)/);
  assert.ok(r.pid && r.pid > 0, 'runc --pid-file gave the host pid');
  const lines = await readAuditSince(mark);
  const byPid = seccompLines(recordsForPid(lines, r.pid!));
  const bySes = seccompLines(recordsForSession(lines, r.ses!));
  assert.ok(byPid.length > 10, `${byPid.length} SECCOMP records for container pid ${r.pid}`);
  assert.ok(bySes.length > byPid.length, 'the session also covers the forked applets (cat, ls, id)');
  const comms = new Set(bySes.map((l) => auditField(l, 'comm')));
  assert.ok(comms.has('"runc:[2:INIT]"'), 'runc init records (before the final execve)');
  assert.ok(comms.has('"sh"'), [...comms].join(','));
  for (const l of bySes) assert.equal(auditField(l, 'code'), '0x7ffc0000', l);
  assert.equal(await auditLost(), lostBefore);

});

test('runc refuses what this VM cannot do, with a message', T, async () => {
  await assert.rejects(
    runcRun({ args: ['true'], configure: (s) => (s.process.oomScoreAdj = -999) }),
    /CAP_SYS_RESOURCE/,
  );
  await assert.rejects(
    runcRun({ args: ['true'], seccomp: { defaultAction: 'SCMP_ACT_LOG', flags: ['SECCOMP_FILTER_FLAG_LOG'] } }),
    /runc >= 1\.2/,
  );
});

test('no audit records were lost during this file', T, async () => {
  assert.equal(await auditLost(), lostAtStart);
});
