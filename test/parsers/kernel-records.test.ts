// The parser against records the real kernel wrote on this machine (auditd ENRICHED format): 64-bit and
// 32-bit seclog runs (RET_LOG), errno, kill and trap denials, and a session's LOGIN/SYSCALL/PROCTITLE event.
// Syscall names are checked against libseccomp's own table (scmp_sys_resolver). Needs root; never skips.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { isNonAudit, isParseError, parseLine, type AuditRecord } from '../../parsers';
import {
  auditField,
  auditLost,
  auditMark,
  auditSerial,
  auditType,
  ensureAuditd,
  execCapture,
  readAuditSince,
  recordsForPid,
  recordsForSession,
  runUnderSeccomp,
  seclog,
  type RunResult,
  type SeccompRunOptions,
  withoutAuditRules,
} from '../env/rig';

const T = { timeout: 180_000 };
const ARCHES: Record<string, { arch: string; compat: boolean }> = {
  c000003e: { arch: 'x86_64', compat: false },
  '40000003': { arch: 'x86', compat: true },
};

interface Run {
  name: string;
  run: RunResult;
  /** Every line auditd wrote during the run (all processes). */
  window: string[];
  /** The lines of this run: its pid, or its audit session when it had one. */
  lines: string[];
}

const runs: Run[] = [];
let lostAtStart = 0;

async function record(name: string, argv: string[], opts: SeccompRunOptions): Promise<Run> {
  const mark = await auditMark();
  const run = await runUnderSeccomp(argv, opts);
  const window = await readAuditSince(mark);
  const lines = run.ses !== undefined ? recordsForSession(window, run.ses) : recordsForPid(window, run.pid);
  assert.ok(lines.length > 0, `${name}: no audit records for pid ${run.pid}`);
  const r = { name, run, window, lines };
  runs.push(r);
  return r;
}

const resolved = new Map<string, string>();
/** libseccomp's name for (arch, nr), from the scmp_sys_resolver program. */
async function resolverName(arch: string, nr: number): Promise<string> {
  const key = `${arch}/${nr}`;
  let name = resolved.get(key);
  if (name === undefined) {
    const r = await execCapture('scmp_sys_resolver', ['-a', arch, String(nr)]).catch((e: Error) => {
      throw new Error(`${e.message}: scmp_sys_resolver comes with the "seccomp" package (test/env/auditd.sh installs it)`);
    });
    assert.equal(r.code, 0, `scmp_sys_resolver -a ${arch} ${nr}: ${r.stderr}`);
    name = r.stdout.trim();
    resolved.set(key, name);
  }
  return name;
}

function parseAll(lines: string[]): AuditRecord[] {
  return lines.map((line) => {
    const p = parseLine(line);
    assert.ok(!isParseError(p), `parse error ${JSON.stringify(p)} for ${JSON.stringify(line)}`);
    assert.ok(!isNonAudit(p), `reported as not audit: ${JSON.stringify(line)}`);
    return p as AuditRecord;
  });
}

before(async () => {
  await ensureAuditd();
  await withoutAuditRules();
  lostAtStart = await auditLost();
  const s64 = await seclog({ bits: 64 });
  const s32 = await seclog({ bits: 32 });
  await record('log64', ['/bin/busybox', 'sh', '-c', 'echo hi; ls / >/dev/null; cat /proc/self/stat >/dev/null'], {
    bits: 64,
    session: true,
  });
  await record('log32', [s32], { bits: 32 });
  // 32-bit seclog installs a second filter, then execs 64-bit busybox: both arches under one pid
  await record('mixed32-64', [s32, '--', '/bin/busybox', 'true'], { bits: 32 });
  await record('errno64', [s64, '--', '/bin/true'], { bits: 64, errno: 157 });
  await record('errno32', [s32, '--', '/bin/true'], { bits: 32, errno: 172 });
  await record('kill64', [s64, '--', '/bin/true'], { bits: 64, kill: 157 });
  await record('kill32', [s32, '--', '/bin/true'], { bits: 32, kill: 172 });
  await record('trap64', [s64, '--', '/bin/true'], { bits: 64, trap: 157 });
});

test('every line the kernel and auditd wrote for the runs parses, as auditd-enriched', T, () => {
  for (const r of runs) {
    const recs = parseAll(r.lines);
    recs.forEach((rec, i) => {
      const line = r.lines[i]!;
      // auditd (log_format = ENRICHED) appends 0x1d + interpreted fields to every record except PROCTITLE,
      // which it writes raw; a single line cannot tell it came from an ENRICHED log, so it reads as auditd.
      if (rec.type === 'PROCTITLE') {
        assert.ok(!line.includes('\x1d'), line);
        assert.equal(rec.format, 'auditd', line);
      } else {
        assert.ok(line.includes('\x1d'), `no 0x1d in ${line}`);
        assert.equal(rec.format, 'auditd-enriched', line);
      }
      assert.equal(rec.type, auditType(line), line);
      assert.equal(rec.serial, auditSerial(line), line);
      const m = /audit\((\d+)\.(\d+):/.exec(line)!;
      assert.equal(rec.timeMs, Number(m[1]) * 1000 + Number(m[2]), line);
      assert.equal(rec.fields.get('pid'), auditField(line, 'pid'), line);
    });
  }
});

test('syscall names are what scmp_sys_resolver prints for the record arch and number', T, async () => {
  let checked = 0;
  const arches = new Set<string>();
  for (const r of runs) {
    for (const rec of parseAll(r.lines)) {
      if (rec.type !== 'SECCOMP' && rec.type !== 'SYSCALL') continue;
      const rawArch = rec.fields.get('arch')!;
      const want = ARCHES[rawArch];
      assert.ok(want, `unexpected arch=${rawArch} on this x86_64 machine: ${rec.line}`);
      assert.ok(rec.syscall, `no syscall info: ${rec.line}`);
      assert.equal(rec.syscall.arch, want.arch, rec.line);
      assert.equal(rec.syscall.nr, Number(rec.fields.get('syscall')), rec.line);
      assert.equal(rec.syscall.name, await resolverName(want.arch, rec.syscall.nr), rec.line);
      arches.add(want.arch);
      checked++;
    }
  }
  assert.deepEqual([...arches].sort(), ['x86', 'x86_64']);
  assert.ok(checked > 50, `only ${checked} records checked`);
});

test('seccomp actions are decoded from code=', T, () => {
  const byRun = new Map(runs.map((r) => [r.name, parseAll(r.lines)]));
  const seccomp = (name: string) => byRun.get(name)!.filter((x) => x.type === 'SECCOMP');
  for (const r of runs) {
    for (const rec of seccomp(r.name)) {
      assert.equal(rec.kind, 'seccomp');
      assert.ok(rec.seccomp, rec.line);
      assert.equal(rec.seccomp.code, rec.fields.get('code'));
      assert.equal(rec.seccomp.compat, rec.fields.get('compat') === '1', rec.line);
      assert.equal(rec.seccomp.compat, ARCHES[rec.fields.get('arch')!]!.compat, rec.line);
      if (rec.seccomp.code === '0x7ffc0000') {
        assert.equal(rec.seccomp.action, 'log');
        assert.equal(rec.seccomp.actionData, 0);
        assert.equal(rec.seccomp.sig, 0);
      }
    }
  }
  for (const [name, nr] of [['errno64', 157], ['errno32', 172]] as const) {
    const denied = seccomp(name).filter((x) => x.seccomp!.action !== 'log');
    assert.equal(denied.length, 1, name);
    const d = denied[0]!;
    assert.equal(d.seccomp!.action, 'errno');
    // seclog returns SECCOMP_RET_ERRNO|EPERM, but the kernel logs only the action part
    // (filter_ret & SECCOMP_RET_ACTION_FULL): code=0x50000, so the errno value is not in the record.
    assert.equal(d.seccomp!.code, '0x50000');
    assert.equal(d.seccomp!.actionData, 0);
    assert.equal(d.syscall!.name, 'prctl');
    assert.equal(d.syscall!.nr, nr);
  }
  for (const [name, nr, arch] of [['kill64', 157, 'x86_64'], ['kill32', 172, 'x86']] as const) {
    const recs = byRun.get(name)!;
    const killed = seccomp(name).filter((x) => x.seccomp!.action !== 'log');
    assert.equal(killed.length, 1, name);
    assert.equal(killed[0]!.seccomp!.action, 'kill_process');
    assert.equal(killed[0]!.seccomp!.sig, 31);
    assert.equal(killed[0]!.syscall!.arch, arch);
    assert.equal(killed[0]!.syscall!.nr, nr);
    const abend = recs.filter((x) => x.type === 'ANOM_ABEND');
    assert.equal(abend.length, 1, `${name}: ANOM_ABEND`);
    assert.equal(abend[0]!.fields.int('sig'), 31);
    assert.equal(abend[0]!.kind, 'other');
  }
  const trapped = seccomp('trap64').filter((x) => x.seccomp!.action !== 'log');
  assert.equal(trapped.length, 1);
  assert.equal(trapped[0]!.seccomp!.action, 'trap');
  assert.equal(trapped[0]!.seccomp!.code, '0x30000');
});

test('process fields decode: comm, exe, auid, session LOGIN event, proctitle', T, () => {
  const s32 = runs.find((r) => r.name === 'log32')!;
  for (const rec of parseAll(s32.lines)) {
    const exe = rec.fields.str('exe') ?? '';
    assert.match(exe, /\/bin\/seclog-[0-9a-f]+-32$/);
    // comm is the executable's name cut to TASK_COMM_LEN - 1 = 15 characters
    assert.equal(rec.fields.str('comm'), exe.slice(exe.lastIndexOf('/') + 1).slice(0, 15));
    assert.equal(rec.fields.int('auid'), 4294967295);
  }
  const mixed = parseAll(runs.find((r) => r.name === 'mixed32-64')!.lines).filter((x) => x.type === 'SECCOMP');
  const firstBusybox = mixed.findIndex((x) => x.fields.str('comm') === 'busybox');
  assert.ok(firstBusybox > 0, 'busybox records after the 32-bit ones');
  assert.ok(mixed.slice(0, firstBusybox).every((x) => x.syscall!.arch === 'x86'));
  assert.ok(mixed.slice(firstBusybox).every((x) => x.syscall!.arch === 'x86_64'));
  assert.equal(mixed[firstBusybox - 1]!.syscall!.name, 'execve', 'the 32-bit execve starts busybox');

  const ses = runs.find((r) => r.name === 'log64')!;
  const recs = parseAll(ses.lines);
  const login = recs.filter((x) => x.type === 'LOGIN');
  assert.equal(login.length, 1);
  assert.equal(login[0]!.fields.int('ses'), ses.run.ses);
  const ev = recs.filter((x) => x.serial === login[0]!.serial).map((x) => x.type);
  assert.deepEqual(ev, ['LOGIN', 'SYSCALL', 'PROCTITLE']);
  const title = recs.find((x) => x.type === 'PROCTITLE')!.fields.str('proctitle') ?? '';
  assert.ok(title.startsWith('/bin/sh'), JSON.stringify(title));
  const sc = recs.filter((x) => x.type === 'SECCOMP');
  assert.ok(sc.every((x) => x.fields.int('auid') === 0 && x.fields.int('ses') === ses.run.ses));
  const comms = new Set(sc.map((x) => x.fields.str('comm')));
  // busybox forks for ls (a child pid), re-execs itself as "exe" and execs cat in place (the last command)
  for (const c of ['busybox', 'ls', 'cat']) assert.ok(comms.has(c), `${c} in ${[...comms].join(',')}`);
  assert.ok(new Set(sc.map((x) => x.fields.int('pid'))).size >= 2, 'the forked child is in the session too');
});

test('no records lost: serials per run are what the kernel emitted, lost counter unchanged', T, async () => {
  for (const r of runs) {
    const recs = parseAll(r.lines);
    // parsed serials equal the raw ones, in file order, increasing per process
    assert.deepEqual(recs.map((x) => x.serial), r.lines.map((l) => auditSerial(l)));
    const pidSerials = recs.filter((x) => x.fields.int('pid') === r.run.pid && x.type === 'SECCOMP').map((x) => x.serial);
    for (let i = 1; i < pidSerials.length; i++) assert.ok(pidSerials[i]! > pidSerials[i - 1]!, `${r.name}: serial order`);
    // every serial the kernel handed out between the run's first and last record was written
    const lo = Math.min(...recs.map((x) => x.serial));
    const hi = Math.max(...recs.map((x) => x.serial));
    const seen = new Set(parseAll(r.window).map((x) => x.serial));
    const missing: number[] = [];
    for (let s = lo; s <= hi; s++) if (!seen.has(s)) missing.push(s);
    assert.deepEqual(missing, [], `${r.name}: serials ${lo}..${hi} have gaps`);
    // the raw SECCOMP lines for the pid and the parsed ones are the same set
    const raw = r.window.filter((l) => auditType(l) === 'SECCOMP' && auditField(l, 'pid') === String(r.run.pid)).length;
    assert.equal(recs.filter((x) => x.type === 'SECCOMP' && x.fields.int('pid') === r.run.pid).length, raw);
  }
  assert.equal(await auditLost(), lostAtStart, 'the kernel dropped audit records (auditctl -s lost)');
});
