// The byte-level SECCOMP scanner (the hot path) against parseLine (the reference): whatever line it accepts,
// it must read exactly as parseLine does; whatever it declines goes to parseLine, so declining is always
// safe but must stay rare for the records auditd really writes. Lines are generated from the real fixtures'
// SECCOMP records, varied field by field, then mutated byte by byte (seeded: failures reproduce).
import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isRecord, parseLine, scanSeccompLine, SeccompLine, type AuditRecord } from '../../parsers';
import { rng, REAL_FIXTURES } from '../env/seeded';


/** The key=value part of every real SECCOMP record in the fixtures (kernel, syslog and auditd forms). */
function realBodies(): string[] {
  const out = new Set<string>();
  for (const f of fs.readdirSync(REAL_FIXTURES).filter((f) => f.endsWith('.log'))) {
    for (const line of fs.readFileSync(path.join(REAL_FIXTURES, f), 'utf8').split('\n')) {
      const r = parseLine(line);
      if (!isRecord(r) || r.type !== 'SECCOMP' || r.rest !== undefined) continue;
      const m = /audit\([0-9.:]+\): ?(.*)$/.exec(r.line);
      if (m) out.add(m[1]!.split('\x1d')[0]!.replace(/(code=0x[0-9a-f]+)[A-Z].*$/, '$1'));
    }
  }
  return [...out];
}

const ENRICHED = '\x1dAUID="unset" UID="root" GID="root" ARCH=x86_64 SYSCALL=unknown-syscall(-1)';

// Field values a log may hold: what the kernel writes, what tools rewrite, and what a hostile workload
// can put in its own comm and exe.
const VARIANTS: Record<string, string[]> = {
  comm: ['"sh"', '"runc:[2:INIT]"', '"a\\b"', '"x=y"', '""', '(null)', '?', '(none)', '7368206C', '77656220436F6E74656E74',
    '61006200', '6162000000', '610A62', 'C3A9', '616', 'sh', '"sc ontext=a"', "'q'", '"tab\there"', '"é"'],
  exe: ['"/usr/bin/busybox"', '"/"', '2F7573722F62696E2F707974686F6E322E37202864656C6574656429', '"/a\\"', '(null)', '""', '/bin/sh', '"/x"y"'],
  pid: ['1', '26925', '0', '007', '-1', '', 'abc', '123456789012345', '1234567890123456', '"42"', '4294967295'],
  uid: ['0', '1000', '4294967295', '-1', 'unset', '01'],
  gid: ['0', '100'],
  auid: ['4294967295', '1000', '-1'],
  ses: ['4294967295', '3', ''],
  arch: ['c000003e', '40000003', 'c00000b7', 'x86_64', 'i386', 'deadbeef', '"c000003e"', '', 'C000003E', '0xc000003e'],
  syscall: ['12', '59', '0', '1073741825', '9999', '-1', 'read', '', '012', '4294967295', '123456789012345678'],
  code: ['0x7ffc0000', '0x50001', '0x80000000', '0x0', '0x7fff0000', '0x30005', '7ffc0000', '0X7FFC0000', '0x', '0x123456789', 'zz', '"0x7ffc0000"', '0x7ffc0000AUID="unset"'],
};

// Labels as the kernel writes them (unquoted), a workload's exec path inside some (AppArmor null profiles).
const HOSTILE_LABELS = [
  'system_u:system_r:container_t:s0:c1,c2', 'unconfined', '=cri-containerd.apparmor.d (enforce)', 'docker-default (enforce)',
  'p//null-/tmp/x syscall=59 pid=7 comm="evil" (complain)', 'p//null-/tmp/KEY="x (complain)', 'p//null-/tmp/a pid=1 (enforce)',
  'p//null-/tmp/a type=SECCOMP msg=audit(1.000:9): pid=1 syscall=59 (enforce)', 'p//null-/tmp/a\x1dUID="x" (complain)',
  "p//null-/tmp/a msg='x (complain)", 'p//null-/tmp/a code=0x0 arch=40000003 (enforce)', '', '?',
];

function vary(body: string, rand: () => number): string {
  let b = body;
  for (const [key, values] of Object.entries(VARIANTS)) {
    if (rand() < 0.25) {
      const v = values[Math.floor(rand() * values.length)]!;
      const re = new RegExp(`(^| )${key}=("[^"]*"|\\S*)`);
      b = re.test(b) ? b.replace(re, `$1${key}=${v.replace(/\$/g, '$$$$')}`) : `${b} ${key}=${v}`;
    }
  }
  if (rand() < 0.05) b = b.replace(/ pid=\S+/, ''); // an absent field
  if (rand() < 0.05) b += ' pid=99 comm="dup"'; // a later duplicate (the first wins)
  if (rand() < 0.05) b = b.replace(' ', '  '); // doubled separator
  if (rand() < 0.05) b += ' ';
  if (rand() < 0.05) b = b.replace(' sig=', ' subj=system_u:system_r:container_t:s0:c1,c2 sig=');
  // the task's label where the kernel writes it (before pid=), some of them hostile AppArmor labels
  if (rand() < 0.1) b = b.replace(/(^| )pid=/, `$1subj=${HOSTILE_LABELS[Math.floor(rand() * HOSTILE_LABELS.length)]!} pid=`);
  return b;
}

function header(rand: () => number): string {
  const secs = ['1795461281', '1', '0', '99999999999', '253402300799', '253402300800', '00001795461281', '999999999999999'];
  const fracs = ['888', '8', '1234567', '000', '5'];
  const serials = ['85705', '1', '0', '007', '123456789012345', '1234567890123456'];
  const pick = (a: string[]) => (rand() < 0.8 ? a[0]! : a[Math.floor(rand() * a.length)]!);
  const node = rand() < 0.1 ? (rand() < 0.5 ? 'node=n1 ' : 'node=a"b host=h2 ') : '';
  return `${node}type=SECCOMP msg=audit(${pick(secs)}.${pick(fracs)}:${pick(serials)}): `;
}

function mutate(line: string, rand: () => number): string {
  const alphabet = ' ="\'()=:{}\x1d\0\xa0\ufffd0123456789abcdefABCDEF\r\t\\é';
  const chars = line.split('');
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (chars.length + 1));
    const op = rand();
    const ch = alphabet[Math.floor(rand() * alphabet.length)]!;
    if (op < 0.4) chars.splice(at, 1);
    else if (op < 0.8) chars.splice(at, 0, ch);
    else chars[at] = ch;
  }
  return chars.join('');
}

/** Generated lines: varied real records, half of them ENRICHED, some mutated. */
function generated(n: number, seed: number): string[] {
  const rand = rng(seed);
  const bodies = realBodies();
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    let line = header(rand) + vary(bodies[Math.floor(rand() * bodies.length)]!, rand) + (rand() < 0.5 ? ENRICHED : '');
    if (rand() < 0.3) line = mutate(line, rand);
    out.push(line);
  }
  return out;
}

const orMinus = (n: number | undefined) => (n === undefined ? -1 : n);

/** What the scanner read, in parseLine's terms; assert.deepEqual against the record's. */
function viewOf(l: SeccompLine) {
  return {
    timeMs: l.timeMs, serial: l.serial, host: l.host, format: l.enriched ? 'auditd-enriched' : 'auditd',
    pid: l.pid, uid: l.uid, gid: l.gid, auid: l.auid, ses: l.ses, comm: l.comm, exe: l.exe,
    syscall: { ...l.syscall }, action: l.action, actionData: l.actionData, text: l.text(),
  };
}
function recordOf(r: AuditRecord) {
  return {
    timeMs: r.timeMs, serial: r.serial, host: r.host, format: r.format,
    pid: orMinus(r.int('pid')), uid: orMinus(r.int('uid')), gid: orMinus(r.int('gid')), auid: orMinus(r.int('auid')), ses: orMinus(r.int('ses')),
    comm: r.str('comm'), exe: r.str('exe'), syscall: { ...r.syscall }, action: r.seccomp?.action, actionData: r.seccomp?.actionData, text: r.line,
  };
}

/** Scan `line` as the reader would (bytes, clean flag per chunk), inside a larger buffer at an offset. */
function scan(line: string, clean: 'auto' | false = 'auto'): SeccompLine | undefined {
  const bytes = Buffer.from(line, 'utf8');
  const buf = Buffer.concat([Buffer.from('junk\n'), bytes, Buffer.from('\nmore')]);
  const isClean = clean === 'auto' ? isAscii(bytes) && bytes.indexOf(0) === -1 : false;
  const l = new SeccompLine();
  return scanSeccompLine(buf, 5, 5 + bytes.length, l, isClean) ? l : undefined;
}

describe('byte-level SECCOMP scanner (hot path)', () => {
  it('reads every line it accepts exactly as parseLine does', () => {
    const lines = generated(40000, 0x5ecc0);
    let accepted = 0;
    for (const [i, line] of lines.entries()) {
      for (const clean of ['auto', false] as const) {
        const l = scan(line, clean);
        if (l === undefined) continue;
        accepted++;
        const r = parseLine(line);
        assert.ok(isRecord(r), `line ${i}: scanner accepted what parseLine rejects: ${JSON.stringify(line)}`);
        assert.equal(r.rest, undefined);
        assert.equal(r.utf8Invalid, false);
        assert.deepEqual(viewOf(l), recordOf(r), `line ${i} (seed 0x5ecc0): ${JSON.stringify(line)}`);
        assert.deepEqual(l.toRecord(), r);
      }
    }
    // Declining is safe, accepting is the point: most of the generated lines are ordinary records.
    assert.ok(accepted > lines.length * 0.5, `only ${accepted / 2} of ${lines.length} lines took the fast path`);
  });

  it('accepts the records auditd writes, raw and ENRICHED, with node= prefixes and hex-encoded strings', () => {
    const base = 'auid=4294967295 uid=0 gid=0 ses=4294967295 pid=14045 comm="busybox" exe="/usr/bin/busybox" sig=0 arch=c000003e syscall=12 compat=0 ip=0x49641b code=0x7ffc0000';
    for (const line of [
      `type=SECCOMP msg=audit(1795461281.896:85706): ${base}`,
      `type=SECCOMP msg=audit(1795461281.896:85706): ${base}${ENRICHED}`,
      `node=worker-1 type=SECCOMP msg=audit(1795461281.896:85706): ${base}`,
      `type=SECCOMP msg=audit(1795461281.896:85706): ${base.replace('comm="busybox"', 'comm=77656220636F6E74656E74')}`,
      `type=SECCOMP msg=audit(1669382477.611:459): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=system_u:system_r:virtd_t:s0-s0:c0.c1023 pid=6649 comm="virtiofsd" exe="/usr/libexec/virtiofsd" sig=31 arch=80000016 syscall=119 compat=0 ip=0x3fff15f748a code=0x80000000`,
    ]) {
      const l = scan(line);
      assert.ok(l, `declined: ${line}`);
      const r = parseLine(line);
      assert.ok(isRecord(r));
      assert.deepEqual(viewOf(l), recordOf(r));
    }
    const l = scan(`node=worker-1 type=SECCOMP msg=audit(1795461281.896:85706): ${base.replace('comm="busybox"', 'comm=77656220636F6E74656E74')}${ENRICHED}`)!;
    assert.equal(l.host, 'worker-1');
    assert.equal(l.comm, 'web content');
    assert.equal(l.syscall.name, 'brk');
    assert.equal(l.action, 'log');
    assert.equal(l.enriched, true);
  });

  it('never throws on arbitrary bytes and ranges; what it accepts there, parseLine reads the same', () => {
    const rand = rng(0xbad5);
    const l = new SeccompLine();
    const good = Buffer.from('type=SECCOMP msg=audit(1795461281.896:85706): pid=1 comm="a" exe="/b" arch=c000003e syscall=12 code=0x7ffc0000\x1dUID="root"\n');
    for (let k = 0; k < 20000; k++) {
      const buf = Buffer.from(good);
      const edits = Math.floor(rand() * 8);
      for (let e = 0; e < edits; e++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      const start = rand() < 0.8 ? 0 : Math.floor(rand() * buf.length);
      const end = rand() < 0.5 ? buf.length - 1 : start + Math.floor(rand() * (buf.length - start));
      const clean = isAscii(buf.subarray(start, end)) && buf.subarray(start, end).indexOf(0) === -1;
      let ok: boolean;
      try {
        ok = scanSeccompLine(buf, start, end, l, clean);
      } catch (err) {
        assert.fail(`threw on ${JSON.stringify(buf.toString('latin1', start, end))}: ${(err as Error).message}`);
      }
      if (!ok) continue;
      const r = parseLine(buf.toString('utf8', start, end));
      assert.ok(isRecord(r), `accepted what parseLine rejects: ${JSON.stringify(buf.toString('latin1', start, end))}`);
      assert.deepEqual(viewOf(l), recordOf(r));
    }
  });

  it('hostile labels: whatever the label holds, both read the fields the kernel wrote after it', () => {
    const tail = 'pid=4242 comm="sleep" exe="/bin/sleep" sig=0 arch=c000003e syscall=165 compat=0 ip=0x1 code=0x7ffc0000';
    let accepted = 0;
    for (const label of HOSTILE_LABELS) {
      for (const enriched of ['', ENRICHED]) {
        const line = `type=SECCOMP msg=audit(1.000:1): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=${label} ${tail}${enriched}`;
        const r = parseLine(line);
        assert.ok(isRecord(r), `${JSON.stringify(line)}: ${JSON.stringify(r)}`);
        assert.equal(r.fields.get('subj'), label);
        assert.equal(r.int('pid'), 4242, line);
        assert.equal(r.str('comm'), 'sleep', line);
        assert.equal(r.syscall?.nr, 165, line);
        assert.equal(r.seccomp?.action, 'log', line);
        assert.equal(r.rest, undefined);
        const l = scan(line);
        if (l === undefined) continue;
        accepted++;
        assert.deepEqual(viewOf(l), recordOf(r), JSON.stringify(line));
      }
    }
    // SELinux and plain AppArmor labels keep the fast path
    assert.ok(accepted >= 8, `only ${accepted} hostile-label lines took the fast path`);
  });

  it('declines what it does not read exactly like parseLine: those lines take parseLine', () => {
    const base = 'pid=1 comm="sh" exe="/bin/sh" sig=0 arch=c000003e syscall=12 compat=0 ip=0x1 code=0x7ffc0000';
    const h = 'type=SECCOMP msg=audit(1.000:1): ';
    for (const line of [
      `audit: type=1326 audit(1.000:1): ${base}`, // kernel form
      `Jul  8 10:31:23 host kernel: audit: type=1326 audit(1.000:1): ${base}`, // syslog
      `type=AVC msg=audit(1.000:1): ${base}`, // another type
      `${h}${base.replace('code=0x7ffc0000', 'code=0x7ffc0000AUID="unset"')}`, // ENRICHED without its 0x1d
      `${h}${base} type=SECCOMP msg=audit(1.000:2): ${base}`, // two records glued
      `${h}${base.replace('syscall=12', 'syscall=brk')}`, // syscall by name (ausearch -i)
      `${h}${base.replace('pid=1', 'pid=-1')}`, // signed
      `${h}${base.replace('code=0x7ffc0000', 'code=zz')}`, // bad code: parseLine reports it
      `${h}${base.replace('comm="sh"', 'comm="é"')}`, // not ASCII
      `${h}${base.replace('comm="sh"', "comm='sh'")}`,
      `${h}${base}\r`, // CRLF
      `${h}${base.replace('sig=0', 'sig=0 stray')}`, // a bare word
      `${h}${base.replace('comm="sh"', 'comm="sh')}`, // truncated inside a quote
      `${h}${base}\x1dAUID="unset"\0`, // NUL in the ENRICHED part
      `type=SECCOMP msg=audit(253402300800.000:1): ${base}`, // year 10000: parseLine's event takes the slow way
    ]) {
      assert.equal(scan(line), undefined, `accepted: ${JSON.stringify(line)}`);
    }
  });
});
