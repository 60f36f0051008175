// The tailer against the real auditd: while a process under a seccomp logging filter produces records,
// auditd is told to rotate its log (SIGUSR1) several times. Every record auditd wrote in that time,
// and so every audit serial of the process's session, must come out of the tailer: none skipped.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { test } from 'node:test';
import { openTailer } from '../../src/tail';
import { auditdRunning, detectSource } from '../../src/tail/sources';
import {
  auditField,
  auditLogPath,
  auditMark,
  auditSerial,
  ensureAuditd,
  execCapture,
  recordsForSession,
  runUnderSeccomp,
  seclog,
  waitForAudit,
  withoutAuditRules,
} from '../env/rig';
import { captureLog, collectUntil, rotateAuditdOnce, scratchDir } from '../env/tail-helpers';

async function auditdPid(): Promise<number> {
  const r = await execCapture('pgrep', ['-x', 'auditd'], { timeoutMs: 10_000 });
  const pid = Number(r.stdout.trim().split('\n')[0]);
  if (r.code !== 0 || !Number.isInteger(pid) || pid <= 0) throw new Error(`auditd is not running (pgrep -x auditd: ${r.code}); test/env/auditd.sh starts it`);
  return pid;
}

test('real auditd: SIGUSR1 rotations while seccomp records flow; every serial of the session comes out of the tailer', async () => {
  await ensureAuditd();
  // the reference is "every line auditd wrote": rule records of our own helpers' exits would race it
  await withoutAuditRules();
  await seclog(); // build the helper before the clock matters
  const log = await auditLogPath();
  const dir = scratchDir('tail-auditd');
  const cpPath = path.join(dir, 'cp.json');

  // Auto-detection picks this same file while auditd runs.
  assert.equal(await auditdRunning(), true);
  assert.deepEqual((await detectSource()).path, log);

  const t = await openTailer({ path: log, checkpointPath: cpPath, startAt: 'end', checkpointIntervalMs: 200 }, captureLog().log);
  try {
    const mark = await auditMark();
    const token = `auditflow-tail-${randomBytes(6).toString('hex')}`;
    // Pull in the background the whole time.
    const collected = collectUntil(t, (lines) => lines.some((l) => l.includes(token)), { timeoutMs: 120_000, what: `the marker ${token}` });
    // The reference, read independently by the rig (by inode, following rotations as it polls: other
    // suites rotate auditd too, and a reader that waits until the end could find its file rotated out).
    const referenceP = waitForAudit(mark, (lines) => lines.some((l) => l.includes(token)), 120_000, `the marker ${token} (rig)`);

    // Seconds of syscalls, every one logged: open/write/close per iteration, in its own audit session. Long
    // enough to outlast the three rotations below even on a quiet machine (2,500 iterations once ended before
    // the second rotation, and the rotated files then held too little of the session).
    const work = runUnderSeccomp(['/bin/busybox', 'sh', '-c', 'i=0; while [ $i -lt 10000 ]; do i=$((i+1)); echo $i > /dev/null; done'], {
      session: true,
      timeoutMs: 120_000,
    });
    const pid = await auditdPid();
    const rotated: number[] = [];
    for (let r = 0; r < 3; r++) {
      await new Promise((res) => setTimeout(res, 250));
      const seen = t.stats!().rotations;
      rotated.push(await rotateAuditdOnce(pid, log));
      // the next rotation only once the tailer followed this one: two rotations between two of its looks are
      // one switch to it, and the count below would say 2
      for (const t0 = Date.now(); t.stats!().rotations <= seen && Date.now() - t0 < 30_000; ) await new Promise((res) => setTimeout(res, 20));
    }
    const run = await work;
    assert.equal(run.exitCode, 0, `the seccomp-logging loop ran: ${run.stderr}`);
    assert.ok(run.ses !== undefined);

    // A marker through the kernel's audit queue: once the tailer has it, it has everything before it.
    const m = await execCapture('auditctl', ['-m', token], { timeoutMs: 10_000 });
    assert.equal(m.code, 0, `auditctl -m: ${m.stderr}`);
    const got = await collected;
    const reference = (await referenceP).filter((l) => !l.includes(token));

    const session = recordsForSession(reference, run.ses!);
    const wantSerials = new Set(session.map((l) => auditSerial(l)!));
    assert.ok(session.filter((l) => l.startsWith('type=SECCOMP')).length >= 2500, `seccomp records of session ${run.ses}: ${session.length}`);
    const tailed = new Set(got.lines);
    const missing = reference.filter((l) => !tailed.has(l));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${reference.length} records auditd wrote were not tailed`);
    const gotSerials = new Set(recordsForSession(got.lines, run.ses!).map((l) => auditSerial(l)!));
    const missingSerials = [...wantSerials].filter((s) => !gotSerials.has(s));
    assert.deepEqual(missingSerials.slice(0, 10), [], `${missingSerials.length} of ${wantSerials.size} serials skipped`);
    assert.ok(t.stats!().rotations >= 3, `the tailer followed ${t.stats!().rotations} rotations`);
    // The rotated files really held session records (the rotations happened mid-stream).
    const positions = new Set(got.batches.filter((b) => b.lines.some((l) => auditField(l, 'ses') === String(run.ses))).map((b) => b.position.ino));
    assert.ok(rotated.filter((ino) => positions.has(ino)).length >= 2, 'session records were read from at least two rotated files');
  } finally {
    await t.close();
  }
});
