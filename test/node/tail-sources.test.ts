// Source selection (auditd log / syslog / kmsg), the kmsg reader against the real /dev/kmsg, and stdin.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { isNonAudit, isParseError, parseLine } from '../../parsers';
import { openTailer } from '../../src/tail';
import { KMSG, auditdLogFile, auditdRunning, detectSource, sourceKindOf } from '../../src/tail/sources';
import { tailMetrics } from '../../src/tail/metrics';
import type { Checkpoint, Tailer } from '../../src/tail/types';
import { captureLog, collectUntil, counterValue, envDir, scratchDir } from '../env/tail-helpers';

const open: Tailer[] = [];
after(async () => {
  await Promise.all(open.map((t) => t.close()));
});

describe('source detection', () => {
  test('auditd log_file is read from auditd.conf (comments and spacing), with the default as fallback', async () => {
    const dir = scratchDir('tail-conf');
    const conf = path.join(dir, 'auditd.conf');
    writeFileSync(conf, '# log_file = /nope\nlocal_events = yes\n  log_file   =   /srv/audit/x.log   # where\nnum_logs = 5\n');
    assert.equal(await auditdLogFile(conf), '/srv/audit/x.log');
    writeFileSync(conf, 'num_logs = 5\n');
    assert.equal(await auditdLogFile(conf), '/var/log/audit/audit.log');
    assert.equal(await auditdLogFile(path.join(dir, 'missing.conf')), '/var/log/audit/audit.log');
  });

  test('without auditd: the first existing of kern.log / syslog / messages, else /dev/kmsg', async () => {
    const dir = scratchDir('tail-detect');
    // A process table without auditd in it (the real one has auditd running for the other tests).
    const proc = path.join(dir, 'proc');
    await fsp.mkdir(path.join(proc, '1'), { recursive: true });
    await fsp.writeFile(path.join(proc, '1', 'comm'), 'init\n');
    await fsp.mkdir(path.join(proc, '42'));
    await fsp.writeFile(path.join(proc, '42', 'comm'), 'auditd-not\n');
    assert.equal(await auditdRunning(proc), false);
    const kern = path.join(dir, 'kern.log');
    const syslog = path.join(dir, 'syslog');
    const candidates = [kern, syslog, path.join(dir, 'messages')];
    await fsp.writeFile(syslog, '');
    assert.deepEqual(await detectSource({ procRoot: proc, syslogCandidates: candidates }), {
      kind: 'syslog',
      path: syslog,
      reason: `auditd is not running; the kernel's audit records go to ${syslog}`,
    });
    await fsp.writeFile(kern, '');
    assert.equal((await detectSource({ procRoot: proc, syslogCandidates: candidates })).path, kern);
    await fsp.rm(kern);
    await fsp.rm(syslog);
    const d = await detectSource({ procRoot: proc, syslogCandidates: candidates });
    assert.equal(d.kind, 'kmsg');
    assert.equal(d.path, KMSG);
    // With auditd in the table it wins.
    await fsp.mkdir(path.join(proc, '77'));
    await fsp.writeFile(path.join(proc, '77', 'comm'), 'auditd\n');
    const conf = path.join(dir, 'auditd.conf');
    await fsp.writeFile(conf, 'log_file = /x/audit.log\n');
    assert.deepEqual(await detectSource({ procRoot: proc, auditdConf: conf, syslogCandidates: candidates }), {
      kind: 'auditd',
      path: '/x/audit.log',
      reason: `auditd is running (log_file from ${conf})`,
    });
    assert.equal(await sourceKindOf('-'), 'stdin');
    assert.equal(await sourceKindOf('/dev/kmsg'), 'kmsg');
    assert.equal(await sourceKindOf(conf), 'file');
  });
});

describe('kmsg source (the real /dev/kmsg)', () => {
  function kmsgWrite(text: string): void {
    // Writing to /dev/kmsg injects a record into the kernel log (root only).
    writeFileSync(KMSG, `<6>${text}\n`);
  }

  test('reads records in dmesg form, resumes after a checkpoint by sequence number, re-reads all after another boot', async () => {
    if (!existsSync(KMSG)) throw new Error(`${KMSG} is missing: the kmsg source needs the kernel log device`);
    const dir = scratchDir('tail-kmsg');
    const cpPath = path.join(dir, 'cp.json');
    const tag = `auditflow-kmsg-${randomBytes(4).toString('hex')}`;
    const mine = (lines: string[]) => lines.filter((l) => l.includes(tag));
    kmsgWrite(`${tag} before-open`);
    let t = await openTailer({ path: KMSG, checkpointPath: cpPath, startAt: 'end', pollIntervalMs: 20 }, captureLog().log);
    open.push(t);
    for (let i = 1; i <= 5; i++) kmsgWrite(`${tag} first ${i}`);
    let got = await collectUntil(t, (l) => mine(l).length >= 5, { what: 'the first five kmsg records' });
    assert.deepEqual(mine(got.lines).map((l) => l.replace(/^\[ *\d+\.\d{6}\] /, '')), [1, 2, 3, 4, 5].map((i) => `${tag} first ${i}`));
    assert.match(mine(got.lines)[0]!, /^\[ *\d+\.\d{6}\] auditflow-kmsg-/);
    await t.close();
    const cp = JSON.parse(await fsp.readFile(cpPath, 'utf8')) as Checkpoint;
    assert.equal(cp.bootId, (await fsp.readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim());
    assert.ok(cp.position.offset > 0);
    for (let i = 1; i <= 3; i++) kmsgWrite(`${tag} while-stopped ${i}`);
    t = await openTailer({ path: KMSG, checkpointPath: cpPath, startAt: 'end', pollIntervalMs: 20 }, captureLog().log);
    open.push(t);
    kmsgWrite(`${tag} after`);
    got = await collectUntil(t, (l) => mine(l).some((x) => x.endsWith(`${tag} after`)));
    assert.deepEqual(mine(got.lines).map((l) => l.replace(/^\[ *\d+\.\d{6}\] /, '')), [`${tag} while-stopped 1`, `${tag} while-stopped 2`, `${tag} while-stopped 3`, `${tag} after`]);
    await t.close();
    // A checkpoint from another boot: sequence numbers mean nothing, the whole buffer is new.
    const other = { ...(JSON.parse(await fsp.readFile(cpPath, 'utf8')) as Checkpoint), bootId: 'another-boot' };
    await fsp.writeFile(cpPath, JSON.stringify(other));
    const before = await counterValue(tailMetrics.checkpointLoadFailures, { reason: 'other-boot' });
    t = await openTailer({ path: KMSG, checkpointPath: cpPath, startAt: 'end', pollIntervalMs: 20 }, captureLog().log);
    open.push(t);
    got = await collectUntil(t, (l) => mine(l).some((x) => x.endsWith(`${tag} after`)));
    assert.ok(mine(got.lines).some((l) => l.endsWith(`${tag} before-open`)), 'records from before the first open are read again');
    assert.equal((await counterValue(tailMetrics.checkpointLoadFailures, { reason: 'other-boot' })) - before, 1);
  });

  test('kernel audit lines from kmsg parse as audit records (format kmsg)', async () => {
    const t = await openTailer({ path: KMSG, checkpointPath: null, startAt: 'start', follow: false }, captureLog().log);
    open.push(t);
    const tag = `auditflow-kmsg-parse-${randomBytes(4).toString('hex')}`;
    // The kernel's own audit lines are there only when auditd was not running at some point; inject the
    // exact text the kernel prints for a seccomp record so the round trip is checked either way.
    kmsgWrite(`audit: type=1326 audit(1700000000.123:4242): auid=0 uid=0 gid=0 ses=1 pid=1 comm="${tag}" exe="/bin/true" sig=0 arch=c000003e syscall=39 compat=0 ip=0x1 code=0x7ffc0000`);
    const lines: string[] = [];
    for await (const b of t) lines.push(...b.lines);
    const line = lines.find((l) => l.includes(tag));
    assert.ok(line, 'the injected record was read by the one-shot kmsg tailer');
    const r = parseLine(line, {});
    assert.ok(!isParseError(r) && !isNonAudit(r), `parsed: ${JSON.stringify(r)}`);
    assert.equal(r.type, 'SECCOMP');
    assert.equal(r.format, 'kmsg');
    assert.equal(r.serial, 4242);
  });
});

describe('stdin source', () => {
  test('openTailer("-") reads stdin to its end: lines, byte offsets, a final line without newline, over-long lines dropped', async () => {
    const script = path.join(envDir, 'tail-stdin-child.js');
    if (!existsSync(script)) throw new Error(`${script} is missing: run "npx tsc -p ." first`);
    const child = spawn(process.execPath, [script, '2'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, AUDITFLOW_LOG_LEVEL: 'warn' } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdin.write('one\ntwo\n');
    child.stdin.write('x'.repeat(100_000) + '\n');
    child.stdin.write('thrëe\nfour');
    child.stdin.end();
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 0, err);
    const objs = out.trim().split('\n').map((l) => JSON.parse(l) as { lines?: string[]; offset?: number; path?: string; stats?: Record<string, number> });
    const batches = objs.filter((o) => o.lines);
    assert.deepEqual(batches.flatMap((b) => b.lines), ['one', 'two', 'thrëe', 'four']);
    assert.ok(batches.every((b) => b.path === '-' && b.lines!.length <= 2));
    const total = Buffer.byteLength('one\ntwo\n' + 'x'.repeat(100_000) + '\n' + 'thrëe\nfour');
    assert.equal(batches.at(-1)!.offset, total);
    assert.deepEqual(objs.at(-1)!.stats, { bytesRead: total, linesRead: 4, overlongLines: 1 });
    assert.match(err, /over-long line dropped/);
  });
});
