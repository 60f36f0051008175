import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isRecord, parseLine, scanSeccompLine, SeccompLine } from '../../parsers';
import { formatTimestamp } from '../../src/event/timestamp';
import { eventFromRecord, type EventContext } from '../../src/event/v1';
import { SeccompNdjson } from '../../src/event/seccomp-ndjson';
import { Summary } from '../../src/cli/summary';
import { readRecords } from '../../src/io/record-reader';
import pino from 'pino';
import { rng, REAL_FIXTURES } from '../env/seeded';


const pick = <T>(rand: () => number, a: T[]): T => a[Math.floor(rand() * a.length)]!;

/**
 * SECCOMP lines for the byte writer: values that need JSON escaping or decoding (backslashes, quotes,
 * hex with NULs, control bytes in the ENRICHED part), absent and null values, numbers with leading zeros,
 * unknown arches and syscalls, every seccomp action, node= prefixes; some mutated byte by byte.
 */
function seccompLines(n: number, seed: number): string[] {
  const rand = rng(seed);
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const f = (key: string, values: string[]) => (rand() < 0.05 ? '' : ` ${key}=${rand() < 0.6 ? values[0] : pick(rand, values)}`);
    let line =
      (rand() < 0.1 ? pick(rand, ['node=n1 ', 'node=a"b\\c ', 'host=h node=n ']) : '') +
      `type=SECCOMP msg=audit(${pick(rand, ['1795461281.888', '1795461281.9', '0.000', '253402300799.999', '1795461282.0004'])}:${pick(rand, ['85705', '1', '0012'])}):` +
      f('auid', ['4294967295', '1000', '007', '', 'unset']) + f('uid', ['0', '1000']) + f('gid', ['0']) + f('ses', ['4294967295', '12']) +
      f('pid', ['14045', '1', '123456789012345']) +
      f('comm', ['"busybox"', '"a\\b"', '"x\\"', '2F6122620A', '610062000000', '(null)', '?', '""', 'plain', '22']) +
      f('exe', ['"/usr/bin/busybox"', '"/"', '2F7573722F62696E2F7079', '(none)', '"/w/\\x"', `"/${'long/'.repeat(120)}"`]) +
      f('sig', ['0', '31']) + f('arch', ['c000003e', '40000003', 'c00000b7', 'deadbeef', 'x86_64', '']) +
      ` syscall=${pick(rand, ['12', '59', '0', '1073741825', '9999', '017'])}` + f('compat', ['0', '1']) + f('ip', ['0x49641b']) +
      ` code=${pick(rand, ['0x7ffc0000', '0x50001', '0x80000000', '0x0', '0x7fff0000', '0x30005', '0x7fc00000', '0x7ff00000', '0x12340000'])}` +
      (rand() < 0.5 ? '\x1dAUID="unset" UID="root" GID="root" ARCH=x86_64 SYSCALL=unknown-syscall(-1)' : '') +
      (rand() < 0.05 ? '\t\x01\x7f"\\' : '');
    if (rand() < 0.2) {
      const chars = line.split('');
      for (let e = 0; e < 3; e++) chars.splice(Math.floor(rand() * chars.length), rand() < 0.5 ? 1 : 0, pick(rand, [...' ="\'\\\x1d\x01\t0aZ=é']));
      line = chars.join('');
    }
    out.push(line);
  }
  return out;
}

describe('event schema v1', () => {
  it('timestamps equal Date#toISOString, across the per-second cache', () => {
    let ms = 1795461281000;
    for (let i = 0; i < 5000; i++) {
      ms += [0, 1, 7, 999, 1000, 86_399_999][i % 6]!;
      assert.equal(formatTimestamp(ms), new Date(ms).toISOString());
      assert.equal(formatTimestamp(ms - 1), new Date(ms - 1).toISOString());
    }
    for (const t of [0, 1, 999, 1000, 219648, 253402300799999]) assert.equal(formatTimestamp(t), new Date(t).toISOString());
  });

  it('a SECCOMP record carries the contract fields, without raw field dumps', () => {
    const r = parseLine('type=SECCOMP msg=audit(1795368920.417:1014145): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=26925 comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=12 compat=0 ip=0x49641b code=0x7ffc0000\x1dAUID="unset" UID="root" GID="root" ARCH=x86_64 SYSCALL=unknown-syscall(-1)');
    assert.ok(isRecord(r));
    const ev = eventFromRecord(r, { node: 'n1', file: '/var/log/audit/audit.log', raw: false });
    assert.deepEqual(ev, {
      schema: 'auditflow.event/v1', type: 'SECCOMP', kind: 'seccomp', timestamp: '2026-11-22T17:35:20.417Z', serial: 1014145,
      node: 'n1', source: { file: '/var/log/audit/audit.log', format: 'auditd-enriched' },
      pid: 26925, comm: 'sh', exe: '/bin/busybox', uid: 0, gid: 0, auid: 4294967295, ses: 4294967295,
      arch: 'x86_64', syscall: 'brk', syscallNr: 12, action: 'log', actionData: 0,
      container: null, pod: null, enrichment: 'unresolved',
    });
  });

  it('other records keep all their fields and the interpreted ones', () => {
    const r = parseLine('type=SYSCALL msg=audit(1640024915.264:4237): arch=c000003e syscall=159 success=yes exit=0 pid=820 uid=995 comm="chronyd" exe="/usr/sbin/chronyd" key=(null)\x1dARCH=x86_64 SYSCALL=adjtimex UID="chrony"');
    assert.ok(isRecord(r));
    const ev = eventFromRecord(r, { node: 'n1', file: null, raw: true });
    assert.equal(ev.fields?.success, 'yes');
    assert.equal(ev.fields?.key, null);
    assert.equal(ev.interpreted?.UID, 'chrony');
    assert.equal(ev.syscall, 'adjtimex');
    assert.equal(ev.raw, r.line);
  });

  it('the byte writer of SECCOMP events writes exactly JSON.stringify(eventFromRecord(…))', () => {
    const contexts: EventContext[] = [
      { node: 'n1', file: '/var/log/audit/audit.log', raw: false, notEnriched: 'offline parse: not enriched' },
      { node: 'nœud "1" \\ \u2028', file: null, raw: true },
      { node: 'n1', file: 'dir/with "quotes"\n/é.log', raw: true, notEnriched: 'why "not"' },
    ];
    const lines = seccompLines(20000, 0xe7e47);
    let written = 0;
    for (const ctx of contexts) {
      const w = new SeccompNdjson(ctx);
      const l = new SeccompLine();
      const out = Buffer.alloc(1 << 16);
      for (const [i, line] of lines.entries()) {
        const bytes = Buffer.from(line, 'utf8');
        if (!scanSeccompLine(bytes, 0, bytes.length, l, isAscii(bytes) && bytes.indexOf(0) === -1)) continue;
        const r = parseLine(line);
        assert.ok(isRecord(r));
        const want = JSON.stringify(eventFromRecord(r, ctx)) + '\n';
        assert.ok(w.maxBytes(l) >= Buffer.byteLength(want), `maxBytes too small for line ${i}`);
        const end = w.write(l, out, 7);
        assert.equal(out.toString('utf8', 7, end), want, `line ${i} (seed 0xe7e47): ${JSON.stringify(line)}`);
        written++;
      }
    }
    assert.ok(written > lines.length, `only ${written} of ${3 * lines.length} writes took the fast path`);
  });

  it('the summary counts a SECCOMP line from the hot path as it counts its record', () => {
    const fromRecords = new Summary();
    const fromLines = new Summary();
    const l = new SeccompLine();
    for (const line of seccompLines(5000, 0x5044)) {
      const bytes = Buffer.from(line, 'utf8');
      if (!scanSeccompLine(bytes, 0, bytes.length, l, isAscii(bytes) && bytes.indexOf(0) === -1)) continue;
      fromLines.addSeccomp(l);
      const r = l.toRecord();
      assert.ok(isRecord(r));
      fromRecords.add(r);
    }
    assert.ok(fromLines.byType.get('SECCOMP')! > 1000);
    for (const k of ['byType', 'byKind', 'byAction', 'bySyscall', 'denials'] as const) assert.deepEqual(fromLines[k], fromRecords[k], k);
  });

  it('readRecords gives the same events and counts with the hot path as without, in the same order', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-hot-'));
    const file = path.join(dir, 'mixed.log');
    // Real records of every kind interleaved with generated SECCOMP lines, garbage and an over-long line.
    const real = fs.readdirSync(REAL_FIXTURES).filter((f) => f.endsWith('.log')).flatMap((f) => fs.readFileSync(path.join(REAL_FIXTURES, f), 'utf8').split('\n'));
    const gen = seccompLines(3000, 0x0dd);
    const rand = rng(99);
    const mixed: string[] = [];
    for (let i = 0; i < real.length || i < gen.length; i++) {
      if (i < real.length) mixed.push(real[i]!);
      if (i < gen.length) mixed.push(gen[i]!);
      if (rand() < 0.001) mixed.push('type=EXECVE msg=audit(1.000:1): a0="' + 'x'.repeat(70000) + '"');
    }
    fs.writeFileSync(file, Buffer.concat([Buffer.from(mixed.join('\n')), Buffer.from([0xff, 0x0a, 0x41])]));
    const log = pino({ level: 'silent' });
    const ctx: EventContext = { node: 'n1', file, raw: true, notEnriched: 'offline parse: not enriched' };
    const slow: string[] = [];
    const slowStats = await readRecords([file], (r) => slow.push(JSON.stringify(eventFromRecord(r, ctx)) + '\n'), { log, logFirst: 0 });
    const fast: string[] = [];
    const w = new SeccompNdjson(ctx);
    const out = Buffer.alloc(1 << 20);
    let hot = 0;
    const fastStats = await readRecords([file], (r) => fast.push(JSON.stringify(eventFromRecord(r, ctx)) + '\n'), {
      log,
      logFirst: 0,
      onSeccomp: (l) => {
        // Every 7th declined: it must then reach onRecord, in its place.
        if (++hot % 7 === 0) return false;
        fast.push(out.toString('utf8', 0, w.write(l, out, 0)));
        return true;
      },
    });
    assert.ok(hot > 1000, `hot path taken ${hot} times`);
    assert.deepEqual(fastStats, slowStats);
    assert.equal(fast.length, slow.length);
    for (let i = 0; i < slow.length; i++) assert.equal(fast[i], slow[i], `event ${i}`);
    assert.equal(slowStats.errors.get('line-too-long') ?? 0, mixed.filter((l) => l.length > 65536).length);
  });
});
