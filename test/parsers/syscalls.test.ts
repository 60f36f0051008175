// Syscall tables and audit arch mapping, checked against the live libseccomp tools on this machine
// (scmp_sys_resolver from Debian's `seccomp` package), the generator, <linux/audit.h> and auditd's ausearch.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import {
  ARCHES,
  ARCHES_UNKNOWN_TO_LIBSECCOMP,
  AUDIT_ARCH,
  LIBSECCOMP_VERSION,
  X32_SYSCALL_BIT,
  archFromAudit,
  nativeCompanions,
  resolveSyscall,
  scmpArchName,
  syscallName,
  syscallNumber,
} from '../../parsers/syscalls/index.js';
import { AUDIT_ARCH_FROM_HEADERS, SYSCALL_TABLES } from '../../parsers/syscalls/tables.js';
import type { ArchSyscallTable } from '../../parsers/syscalls/tables.js';

const ROOT = path.resolve(__dirname, '../../..');
const RESOLVER = 'scmp_sys_resolver';
const INSTALL_HINT = 'scmp_sys_resolver not found: apt-get install seccomp';

/** `scmp_sys_resolver -a ARCH ARG`: trimmed stdout and exit status. Fails the test if the tool is missing. */
function resolver(arch: string, arg: string | number): { out: string; status: number | null } {
  const r = spawnSync(RESOLVER, ['-a', arch, String(arg)], { encoding: 'utf8' });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    assert.fail(code === 'ENOENT' ? INSTALL_HINT : `${RESOLVER}: ${r.error.message}`);
  }
  return { out: r.stdout.trim(), status: r.status };
}

/** Live number → name; undefined for UNKNOWN. */
function liveName(arch: string, nr: number): string | undefined {
  const r = resolver(arch, nr);
  assert.equal(r.status, 0, `${RESOLVER} -a ${arch} ${nr} exited ${r.status}`);
  return r.out === 'UNKNOWN' ? undefined : r.out;
}

/** Live name → number (negative for libseccomp's pseudo numbers). */
function liveNumber(arch: string, name: string): number {
  const r = resolver(arch, name);
  assert.equal(r.status, 0, `${RESOLVER} -a ${arch} ${name} exited ${r.status}`);
  assert.match(r.out, /^-?\d+$/, `${RESOLVER} -a ${arch} ${name} printed ${r.out}`);
  return Number(r.out);
}

function table(arch: string): ArchSyscallTable {
  const t = SYSCALL_TABLES.find((x) => x.arch === arch);
  assert.ok(t, `no table for ${arch}`);
  return t;
}

/** Deterministic per-arch pseudo-random numbers (FNV-1a seed, xorshift32). */
function rng(seed: string): () => number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
  let x = h >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Segment edges, numbers just past each end, the first holes, random numbers in range, far-away numbers. */
function sampleNumbers(t: ArchSyscallTable): number[] {
  const s = new Set<number>();
  const next = rng(t.arch);
  for (const seg of t.segments) {
    const last = seg.base + seg.names.length - 1;
    for (const n of [seg.base - 2, seg.base - 1, seg.base, seg.base + 1, last - 1, last, last + 1, last + 2, last + 64]) s.add(n);
    let holes = 0;
    for (let i = 0; i < seg.names.length && holes < 5; i++) {
      if (seg.names[i] === '') {
        s.add(seg.base + i);
        holes++;
      }
    }
    for (let i = 0; i < 40; i++) s.add(seg.base + (next() % (seg.names.length + 32)));
  }
  for (const n of [0, 1, 983040, 983047, 1 << 20, X32_SYSCALL_BIT, X32_SYSCALL_BIT + 1, 0x7fffffff]) s.add(n);
  return [...s].filter((n) => n >= t.base && n <= 0x7fffffff).sort((a, b) => a - b);
}

function auditHex(arch: string): string {
  const v = AUDIT_ARCH[arch];
  assert.ok(v !== undefined, `no AUDIT_ARCH for ${arch}`);
  return v.toString(16);
}

// The arches the brief asks for, with the AUDIT_ARCH_* values written out (lowercase %x as the kernel logs).
const EXPECTED_AUDIT_HEX: ReadonlyArray<readonly [string, string]> = [
  ['x86_64', 'c000003e'],
  ['x86', '40000003'],
  ['aarch64', 'c00000b7'],
  ['arm', '40000028'],
  ['ppc64', '80000015'],
  ['ppc64le', 'c0000015'],
  ['ppc', '14'],
  ['s390x', '80000016'],
  ['s390', '16'],
  ['riscv64', 'c00000f3'],
  ['mips', '8'],
  ['mipsel', '40000008'],
  ['mips64', '80000008'],
  ['mipsel64', 'c0000008'],
  ['mips64n32', 'a0000008'],
  ['mipsel64n32', 'e0000008'],
  ['parisc', 'f'],
  ['parisc64', '8000000f'],
  ['loongarch64', 'c0000102'],
];

describe('syscall tables', () => {
  it(`${RESOLVER} is installed (apt-get install seccomp)`, () => {
    const r = spawnSync(RESOLVER, ['-a', 'x86_64', 'read'], { encoding: 'utf8' });
    assert.ok(!r.error, r.error ? `${INSTALL_HINT} (${r.error.message})` : '');
    assert.equal(r.stdout.trim(), '0');
  });

  it('ARCHES holds every required arch; the arches without a table are exactly those libseccomp rejects', () => {
    const required = ['x86_64', 'x86', 'x32', 'aarch64', 'arm', 'ppc', 'ppc64', 'ppc64le', 's390', 's390x', 'riscv64',
      'mips', 'mipsel', 'mips64', 'mips64n32', 'mipsel64', 'mipsel64n32'];
    for (const a of required) assert.ok(ARCHES.includes(a), `${a} missing from ARCHES`);
    assert.deepEqual([...ARCHES], SYSCALL_TABLES.map((t) => t.arch));
    for (const a of ARCHES) {
      assert.equal(resolver(a, 0).status, 0, `${RESOLVER} rejects ${a}`);
      assert.ok(!ARCHES_UNKNOWN_TO_LIBSECCOMP.includes(a));
    }
    assert.ok(ARCHES_UNKNOWN_TO_LIBSECCOMP.includes('loongarch64'), 'libseccomp 2.5.4 has no loongarch64');
    for (const a of ARCHES_UNKNOWN_TO_LIBSECCOMP) assert.notEqual(resolver(a, 0).status, 0, `${RESOLVER} accepts ${a}`);
    assert.match(LIBSECCOMP_VERSION, /^\d+\.\d+\.\d+$/);
  });

  for (const t of SYSCALL_TABLES) {
    it(`${t.arch}: number → name matches live ${RESOLVER} on a sample (edges, holes, past the end)`, () => {
      const sample = sampleNumbers(t);
      assert.ok(sample.length >= 40, `sample too small: ${sample.length}`);
      let named = 0;
      for (const nr of sample) {
        const want = liveName(t.arch, nr);
        assert.equal(syscallName(t.arch, nr), want, `${t.arch} ${nr}`);
        if (want !== undefined) named++;
      }
      assert.ok(named >= 20, `only ${named} sampled numbers have names`);
      // And the last number of each segment is a syscall, the one after it is not (tables are not cut short).
      for (const seg of t.segments) {
        const last = seg.base + seg.names.length - 1;
        assert.ok(liveName(t.arch, last) !== undefined && liveName(t.arch, last + 1) === undefined, `${t.arch} end ${last}`);
      }
    });
  }

  it('numbers below an arch base give no name (libseccomp resolves them only as aliases of base + n)', () => {
    const based = SYSCALL_TABLES.filter((t) => t.base > 1);
    assert.deepEqual(based.map((t) => t.arch).sort(), ['mips', 'mips64', 'mips64n32', 'mipsel', 'mipsel64', 'mipsel64n32', 'x32']);
    for (const t of based) {
      const canonical = (n: number): number => (t.arch === 'x32' ? (n | X32_SYSCALL_BIT) : n + t.base);
      let aliases = 0;
      for (const nr of [0, 1, 2, 3, 4, 5, 13, 59, 100, 250, 999, t.base - 1]) {
        assert.equal(syscallName(t.arch, nr), undefined, `${t.arch} ${nr}`);
        const lenient = liveName(t.arch, nr);
        if (lenient !== undefined) {
          aliases++;
          assert.equal(liveName(t.arch, canonical(nr)), lenient, `${t.arch} ${nr} is not an alias of ${canonical(nr)}`);
          assert.equal(syscallName(t.arch, canonical(nr)), lenient);
        }
      }
      assert.ok(aliases > 0, `${t.arch}: expected libseccomp to resolve some numbers below the base`);
    }
    assert.equal(table('mips').base, 4000);
    assert.equal(table('mips64').base, 5000);
    assert.equal(table('mips64n32').base, 6000);
    assert.equal(table('x32').base, X32_SYSCALL_BIT);
  });

  for (const t of SYSCALL_TABLES) {
    it(`${t.arch}: name → number matches live ${RESOLVER} (pseudo numbers give the table's real number or none)`, () => {
      const names: string[] = [];
      for (const seg of t.segments) for (const n of seg.names) if (n !== '') names.push(n);
      const next = rng(`${t.arch}/names`);
      const sample = new Set<string>([names[0]!, names[names.length - 1]!, 'socket', 'socketcall', 'ipc', 'semop', 'open',
        'arch_prctl', 'mmap2', 'not_a_syscall_at_all', ...Object.keys(t.aliases)]);
      for (let i = 0; i < 20; i++) sample.add(names[next() % names.length]!);
      for (const name of sample) {
        const r = resolver(t.arch, name);
        const ours = syscallNumber(t.arch, name);
        if (r.status !== 0 || !/^-?\d+$/.test(r.out)) {
          assert.equal(ours, undefined, `${t.arch} ${name}: libseccomp does not know it`);
          continue;
        }
        const live = liveNumber(t.arch, name);
        if (live >= 0) assert.equal(ours, live, `${t.arch} ${name}`);
        else if (ours !== undefined) assert.equal(syscallName(t.arch, ours), name, `${t.arch} ${name} (pseudo ${live})`);
        else assert.ok(!names.includes(name), `${t.arch} ${name} is in the table but has no number`);
      }
      // Every table entry round-trips.
      for (const name of names) assert.equal(syscallName(t.arch, syscallNumber(t.arch, name)!), name);
    });
  }

  it('x86 socket: libseccomp names it with a pseudo number, the table gives the real one', () => {
    assert.ok(liveNumber('x86', 'socket') < 0);
    assert.equal(liveName('x86', 359), 'socket');
    assert.equal(syscallNumber('x86', 'socket'), 359);
  });

  it('tables.ts is exactly what generate.js produces from this machine\'s libseccomp', { timeout: 180_000 }, () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-syscalls-test-'));
    try {
      const out = path.join(tmp, 'tables.ts');
      const r = spawnSync(process.execPath, [path.join(ROOT, 'parsers/syscalls/generate.js'), '--out', out], { encoding: 'utf8' });
      assert.equal(r.status, 0, `generate.js failed: ${r.stderr}`);
      const fresh = fs.readFileSync(out, 'utf8');
      const committed = fs.readFileSync(path.join(ROOT, 'parsers/syscalls/tables.ts'), 'utf8');
      assert.ok(fresh === committed, 'parsers/syscalls/tables.ts is stale: run node parsers/syscalls/generate.js');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('audit arch', () => {
  it('AUDIT_ARCH (EM_* | __AUDIT_ARCH_* in arch.ts) equals <linux/audit.h> as compiled by the generator', () => {
    for (const [arch, v] of Object.entries(AUDIT_ARCH)) assert.equal(v, AUDIT_ARCH_FROM_HEADERS[arch], arch);
    for (const t of SYSCALL_TABLES) assert.equal(t.auditArch, AUDIT_ARCH[t.arch === 'x32' ? 'x86_64' : t.arch], t.arch);
  });

  it('archFromAudit maps each hex AUDIT_ARCH_* value, in any case, with or without 0x or zero padding', () => {
    for (const [arch, h] of EXPECTED_AUDIT_HEX) {
      assert.equal(auditHex(arch), h, `AUDIT_ARCH ${arch}`);
      for (const form of [h, h.toUpperCase(), `0x${h}`, `0X${h.toUpperCase()}`, h.padStart(8, '0')]) {
        assert.equal(archFromAudit(form), arch, form);
      }
    }
    assert.equal(Object.keys(AUDIT_ARCH).length, EXPECTED_AUDIT_HEX.length);
  });

  it('archFromAudit maps auditd interpreted names and libseccomp names; unknown values give undefined', () => {
    const names: Array<[string, string]> = [
      ['x86_64', 'x86_64'], ['i386', 'x86'], ['i686', 'x86'], ['aarch64', 'aarch64'], ['armeb', 'arm'], ['armv7l', 'arm'],
      ['ppc', 'ppc'], ['ppc64', 'ppc64'], ['ppc64le', 'ppc64le'], ['s390', 's390'], ['s390x', 's390x'],
      ['unknown-elf-type(c00000f3)', 'riscv64'], ['unknown-elf-type(e0000008)', 'mipsel64n32'],
    ];
    for (const [v, arch] of names) assert.equal(archFromAudit(v), arch, v);
    for (const a of [...ARCHES, 'loongarch64']) assert.equal(archFromAudit(a), a, a);
    for (const v of ['', 'ia64', 'c0000032', '28', 'armv8l', 'sparc', 'zzz', '4000003e', 'c000003e0', '0x', 'unknown-elf-type(ffff)']) {
      assert.equal(archFromAudit(v), undefined, JSON.stringify(v));
    }
  });

  it('auditd (ausearch -i) interprets each AUDIT_ARCH value to a name archFromAudit maps back to the same arch', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-ausearch-'));
    try {
      const log = path.join(tmp, 'audit.log');
      const arches = Object.keys(AUDIT_ARCH);
      fs.writeFileSync(log, arches.map((a, i) =>
        `type=SYSCALL msg=audit(1700000000.${String(i).padStart(3, '0')}:${i + 1}): arch=${auditHex(a)} syscall=1 success=yes exit=0 ` +
        `a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=${i + 2} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 ` +
        `tty=(none) ses=1 comm="t" exe="/t" key=(null)\n`).join(''));
      const r = spawnSync('ausearch', ['-i', '-if', log], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } });
      assert.ok(!r.error, 'ausearch not found: apt-get install auditd');
      const got = [...r.stdout.matchAll(/ arch=(\S+) .* pid=(\d+) /g)].map((m) => [Number(m[2]) - 2, m[1]!] as const);
      assert.equal(got.length, arches.length, r.stdout + r.stderr);
      const interpreted = new Set<string>();
      for (const [i, shown] of got) {
        assert.equal(archFromAudit(shown), arches[i], `ausearch shows ${shown} for ${arches[i]}`);
        if (!shown.startsWith('unknown-elf-type(')) interpreted.add(shown);
      }
      // The names auditd itself prints (the others come out as unknown-elf-type(HEX)).
      assert.deepEqual([...interpreted].sort(), ['aarch64', 'armeb', 'i386', 'ppc', 'ppc64', 'ppc64le', 's390', 's390x', 'x86_64']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('resolveSyscall', () => {
  it('x32: AUDIT_ARCH_X86_64 with the 0x40000000 bit resolves in the x32 table, as live libseccomp does', () => {
    for (const nr of [X32_SYSCALL_BIT, X32_SYSCALL_BIT + 1, X32_SYSCALL_BIT + 13, X32_SYSCALL_BIT + 59, X32_SYSCALL_BIT + 512, X32_SYSCALL_BIT + 547, X32_SYSCALL_BIT + 548]) {
      const info = resolveSyscall('c000003e', nr);
      assert.equal(info.arch, 'x32', String(nr));
      assert.equal(info.name, liveName('x32', nr), String(nr));
      assert.deepEqual(resolveSyscall('x86_64', nr), { ...info, auditArch: 'x86_64' });
    }
    assert.equal(resolveSyscall('c000003e', X32_SYSCALL_BIT + 512).name, 'rt_sigaction');
    assert.equal(resolveSyscall('c000003e', X32_SYSCALL_BIT + 13).name, undefined, 'x32 has no syscall 13 (64-bit rt_sigaction)');
    assert.deepEqual(resolveSyscall('c000003e', 13), { arch: 'x86_64', auditArch: 'c000003e', nr: 13, name: 'rt_sigaction' });
    // The bit means x32 only on x86_64.
    assert.deepEqual(resolveSyscall('40000003', X32_SYSCALL_BIT + 3), { arch: 'x86', auditArch: '40000003', nr: X32_SYSCALL_BIT + 3, name: undefined });
  });

  it('returns arch, the raw audit value, nr and name; unknown arch or number gives undefined, never a guess', () => {
    assert.deepEqual(resolveSyscall('c000003e', 59), { arch: 'x86_64', auditArch: 'c000003e', nr: 59, name: 'execve' });
    assert.deepEqual(resolveSyscall('C000003E', 59), { arch: 'x86_64', auditArch: 'C000003E', nr: 59, name: 'execve' });
    assert.deepEqual(resolveSyscall('i386', 11), { arch: 'x86', auditArch: 'i386', nr: 11, name: 'execve' });
    assert.deepEqual(resolveSyscall('c00000b7', 221), { arch: 'aarch64', auditArch: 'c00000b7', nr: 221, name: 'execve' });
    assert.deepEqual(resolveSyscall('40000028', 0xf0005), { arch: 'arm', auditArch: '40000028', nr: 0xf0005, name: 'set_tls' });
    assert.deepEqual(resolveSyscall('8', 4011), { arch: 'mips', auditArch: '8', nr: 4011, name: 'execve' });
    assert.deepEqual(resolveSyscall('8', 11), { arch: 'mips', auditArch: '8', nr: 11, name: undefined });
    assert.deepEqual(resolveSyscall('c000003e', 100000), { arch: 'x86_64', auditArch: 'c000003e', nr: 100000, name: undefined });
    assert.deepEqual(resolveSyscall('c000003e', -1), { arch: 'x86_64', auditArch: 'c000003e', nr: -1, name: undefined });
    assert.deepEqual(resolveSyscall('c000003e', 1.5), { arch: 'x86_64', auditArch: 'c000003e', nr: 1.5, name: undefined });
    assert.deepEqual(resolveSyscall('c0000102', 63), { arch: 'loongarch64', auditArch: 'c0000102', nr: 63, name: undefined });
    assert.deepEqual(resolveSyscall('deadbeef', 1), { arch: undefined, auditArch: 'deadbeef', nr: 1, name: undefined });
    assert.deepEqual(resolveSyscall(undefined, 1), { arch: undefined, auditArch: undefined, nr: 1, name: undefined });
    assert.equal(syscallName('no-such-arch', 1), undefined);
    assert.equal(syscallNumber('no-such-arch', 'read'), undefined);
    assert.equal(syscallNumber('x86_64', 'no_such_syscall'), undefined);
  });
});

describe('profiles', () => {
  it('nativeCompanions follows the container runtimes\' default archMap', () => {
    assert.deepEqual(nativeCompanions('x86_64'), ['x86_64', 'x86', 'x32']);
    assert.deepEqual(nativeCompanions('aarch64'), ['aarch64', 'arm']);
    assert.deepEqual(nativeCompanions('ppc64le'), ['ppc64le']);
    assert.deepEqual(nativeCompanions('s390x'), ['s390x', 's390']);
    assert.deepEqual(nativeCompanions('riscv64'), ['riscv64']);
    assert.deepEqual(nativeCompanions('mips64'), ['mips64', 'mips', 'mips64n32']);
    assert.deepEqual(nativeCompanions('mips64n32'), ['mips64n32', 'mips', 'mips64']);
    assert.deepEqual(nativeCompanions('mipsel64'), ['mipsel64', 'mipsel', 'mipsel64n32']);
    assert.deepEqual(nativeCompanions('mipsel64n32'), ['mipsel64n32', 'mipsel', 'mipsel64']);
    assert.deepEqual(nativeCompanions('x86'), ['x86']);
    assert.deepEqual(nativeCompanions('arm'), ['arm']);
    assert.deepEqual(nativeCompanions('vax'), []);
    for (const a of ARCHES) for (const c of nativeCompanions(a)) assert.ok(ARCHES.includes(c), `${a} → ${c}`);
  });

  it('scmpArchName spells arches as seccomp.h and the OCI runtime spec do', () => {
    const header = fs.readFileSync('/usr/include/seccomp.h', 'utf8');
    for (const a of ARCHES) {
      const n = scmpArchName(a);
      assert.equal(n, `SCMP_ARCH_${a.toUpperCase()}`);
      assert.match(header, new RegExp(`#define\\s+${n}\\s`), `${n} not in seccomp.h`);
    }
    assert.equal(scmpArchName('x86_64'), 'SCMP_ARCH_X86_64');
    assert.equal(scmpArchName('mipsel64n32'), 'SCMP_ARCH_MIPSEL64N32');
    assert.equal(scmpArchName('loongarch64'), 'SCMP_ARCH_LOONGARCH64');
    assert.equal(scmpArchName('i386'), undefined);
  });
});
