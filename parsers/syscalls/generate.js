#!/usr/bin/env node
// Generates parsers/syscalls/tables.ts: per-arch syscall number → name tables taken from the libseccomp
// installed on this machine (Debian: apt-get install libseccomp-dev seccomp; needs a C compiler).
//
//   node parsers/syscalls/generate.js              rewrite parsers/syscalls/tables.ts
//   node parsers/syscalls/generate.js --out FILE   write elsewhere (the tests use this to check freshness)
//
// How: a small C helper is compiled against libseccomp (-lseccomp) at generation time. For every arch it
//   1. resolves every number in [0, 2^20) and [2^30, 2^30 + 2^20) with seccomp_syscall_resolve_num_arch()
//      (the same library call scmp_sys_resolver makes); 2^20 covers ARM's private 0xf0000+ range and the
//      x32 range starts at __X32_SYSCALL_BIT = 2^30;
//   2. resolves every identifier found in the libseccomp shared object (a superset of its syscall names)
//      with seccomp_syscall_resolve_name_arch(), which gives the arch's number base (the lowest number it
//      assigns: 4000 mips o32, 5000 n64, 6000 n32, 0x40000000 x32, else 0) and proves the scan complete:
//      a name whose number falls outside the scanned ranges stops the generator.
// libseccomp's number → name lookup is lenient below the base (mips: 3 → "read" as well as 4003; x32: 3
// as well as 0x40000003); the kernel never reports those numbers for those calls, so numbers below the
// base are left out (each one is checked to be such an alias of base + n). Everything is deterministic:
// the output depends only on the installed libseccomp and kernel headers.
'use strict';

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const OUT_DEFAULT = path.join(__dirname, 'tables.ts');
const X32_SYSCALL_BIT = 0x40000000;
const SCAN_RANGES = [
  [0, 1 << 20],
  [X32_SYSCALL_BIT, X32_SYSCALL_BIT + (1 << 20)],
];
/** Holes up to this long stay inside one dense segment; longer gaps start a new segment. */
const MAX_HOLE = 256;

/**
 * Arches asked of libseccomp, by libseccomp name, with the <linux/audit.h> macro the kernel reports them
 * with (x32 is reported as AUDIT_ARCH_X86_64 with __X32_SYSCALL_BIT set in the syscall number).
 * The last ones exist only in newer libseccomp releases; the generator records which ones this one lacks.
 */
const CANDIDATES = [
  ['x86_64', 'AUDIT_ARCH_X86_64'],
  ['x86', 'AUDIT_ARCH_I386'],
  ['x32', 'AUDIT_ARCH_X86_64'],
  ['aarch64', 'AUDIT_ARCH_AARCH64'],
  ['arm', 'AUDIT_ARCH_ARM'],
  ['ppc', 'AUDIT_ARCH_PPC'],
  ['ppc64', 'AUDIT_ARCH_PPC64'],
  ['ppc64le', 'AUDIT_ARCH_PPC64LE'],
  ['s390', 'AUDIT_ARCH_S390'],
  ['s390x', 'AUDIT_ARCH_S390X'],
  ['riscv64', 'AUDIT_ARCH_RISCV64'],
  ['mips', 'AUDIT_ARCH_MIPS'],
  ['mipsel', 'AUDIT_ARCH_MIPSEL'],
  ['mips64', 'AUDIT_ARCH_MIPS64'],
  ['mips64n32', 'AUDIT_ARCH_MIPS64N32'],
  ['mipsel64', 'AUDIT_ARCH_MIPSEL64'],
  ['mipsel64n32', 'AUDIT_ARCH_MIPSEL64N32'],
  ['parisc', 'AUDIT_ARCH_PARISC'],
  ['parisc64', 'AUDIT_ARCH_PARISC64'],
  ['loongarch64', 'AUDIT_ARCH_LOONGARCH64'],
  ['m68k', 'AUDIT_ARCH_M68K'],
  ['sh', 'AUDIT_ARCH_SHEL'],
  ['sheb', 'AUDIT_ARCH_SH'],
];

function helperSource() {
  const infoLines = CANDIDATES.map(([arch, audit]) => {
    const scmp = 'SCMP_ARCH_' + arch.toUpperCase();
    return [
      `  printf("arch ${arch} %08x ", seccomp_arch_resolve_name("${arch}"));`,
      `#ifdef ${scmp}`,
      `  printf("${scmp} %08x ", (unsigned)(${scmp}));`,
      '#else',
      '  printf("- 0 ");',
      '#endif',
      `#ifdef ${audit}`,
      `  printf("${audit} %08x\\n", (unsigned)(${audit}));`,
      '#else',
      '  printf("- 0\\n");',
      '#endif',
    ].join('\n');
  });
  return `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <seccomp.h>

/* helper info            : library version, path, arch tokens, SCMP_ARCH_* and AUDIT_ARCH_* macros
 * helper scan ARCH LO HI.. : "N <nr> <name>" for every nr in [LO,HI) that resolves on ARCH
 *                            then "S <name> <nr>" for every name read from stdin that resolves */
int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "info") == 0) {
    const struct scmp_version *v = seccomp_version();
    Dl_info dl;
    printf("version %u.%u.%u\\n", v->major, v->minor, v->micro);
    if (dladdr((void *)seccomp_version, &dl) && dl.dli_fname) printf("library %s\\n", dl.dli_fname);
${infoLines.join('\n')}
    return 0;
  }
  if (argc >= 5 && strcmp(argv[1], "scan") == 0 && argc % 2 == 1) {
    uint32_t token = seccomp_arch_resolve_name(argv[2]);
    char line[256];
    if (token == 0) { fprintf(stderr, "unknown arch %s\\n", argv[2]); return 2; }
    for (int a = 3; a + 1 < argc; a += 2) {
      long lo = strtol(argv[a], NULL, 0), hi = strtol(argv[a + 1], NULL, 0);
      for (long nr = lo; nr < hi; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(token, (int)nr);
        if (name) { printf("N %ld %s\\n", nr, name); free(name); }
      }
    }
    while (fgets(line, sizeof line, stdin)) {
      line[strcspn(line, "\\n")] = 0;
      if (!line[0]) continue;
      int nr = seccomp_syscall_resolve_name_arch(token, line);
      if (nr != __NR_SCMP_ERROR) printf("S %s %d\\n", line, nr);
    }
    return 0;
  }
  fprintf(stderr, "usage: helper info | helper scan ARCH LO HI [LO HI]...\\n");
  return 2;
}
`;
}

function run(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', reject);
    // A helper that exits without reading all of stdin is reported through its exit code, not EPIPE.
    child.stdin.on('error', () => {});
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${Buffer.concat(err)}`));
      else resolve(Buffer.concat(out).toString('utf8'));
    });
    child.stdin.end(input);
  });
}

/** Runs fn over items with at most `limit` at a time, keeping the input order in the result. */
async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function packageVersion(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const hex = (n) => '0x' + (n >>> 0).toString(16).padStart(8, '0');

async function main() {
  const argv = process.argv.slice(2);
  let out = OUT_DEFAULT;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) out = path.resolve(argv[++i]);
    else {
      console.error('usage: node parsers/syscalls/generate.js [--out FILE]');
      process.exit(2);
    }
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-syscalls-'));
  try {
    const src = path.join(tmp, 'helper.c');
    const bin = path.join(tmp, 'helper');
    fs.writeFileSync(src, helperSource());
    const cc = process.env.CC || 'cc';
    try {
      execFileSync(cc, ['-O2', '-Wall', '-o', bin, src, '-lseccomp', '-ldl'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      throw new Error(`compiling the libseccomp helper with ${cc} failed (apt-get install gcc libseccomp-dev):\n${e.stderr || e.message}`);
    }

    // --- library facts
    const info = await run(bin, ['info'], '');
    let version;
    let library;
    const known = [];
    const unknown = [];
    const auditHeaders = [];
    for (const line of info.split('\n')) {
      const f = line.split(' ');
      if (f[0] === 'version') version = f[1];
      else if (f[0] === 'library') library = f[1];
      else if (f[0] === 'arch') {
        const [, arch, tokenHex, scmpMacro, scmpHex, auditMacro, auditHex] = f;
        const token = parseInt(tokenHex, 16);
        const auditArch = auditMacro === '-' ? undefined : parseInt(auditHex, 16);
        if (auditArch !== undefined && arch !== 'x32') auditHeaders.push([arch, auditMacro, auditArch]);
        if (token === 0) {
          unknown.push(arch);
          continue;
        }
        if (scmpMacro === '-') throw new Error(`libseccomp knows ${arch} but seccomp.h has no SCMP_ARCH_${arch.toUpperCase()}`);
        if (parseInt(scmpHex, 16) !== token) throw new Error(`${scmpMacro} != seccomp_arch_resolve_name("${arch}")`);
        if (auditArch === undefined) throw new Error(`no ${auditMacro} in <linux/audit.h> for ${arch}`);
        if (arch !== 'x32' && auditArch !== token) throw new Error(`${auditMacro} ${hex(auditArch)} != libseccomp token ${hex(token)} for ${arch}`);
        known.push({ arch, scmpArch: scmpMacro, auditMacro, auditArch });
      }
    }
    if (!version || !library) throw new Error(`unexpected helper output:\n${info}`);

    // --- candidate names: every identifier in the shared object (syscall names are stored as C strings)
    const blob = fs.readFileSync(fs.realpathSync(library)).toString('latin1');
    const candidates = [...new Set(blob.match(/[A-Za-z_][A-Za-z0-9_]{1,63}/g))].sort();

    const rangeArgs = SCAN_RANGES.flatMap(([lo, hi]) => [String(lo), String(hi)]);
    const inScan = (n) => SCAN_RANGES.some(([lo, hi]) => n >= lo && n < hi);
    const scans = await mapLimit(known, Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length), (k) =>
      run(bin, ['scan', k.arch, ...rangeArgs], candidates.join('\n') + '\n'),
    );

    const tables = [];
    const notes = [];
    known.forEach((k, i) => {
      const byNr = new Map();
      const byName = new Map();
      for (const line of scans[i].split('\n')) {
        const f = line.split(' ');
        if (f[0] === 'N') byNr.set(Number(f[1]), f[2]);
        else if (f[0] === 'S') byName.set(f[1], Number(f[2]));
      }
      for (const [name, nr] of byName) {
        if (nr >= 0 && !inScan(nr)) throw new Error(`${k.arch}: ${name} resolves to ${nr}, outside the scanned ranges; widen SCAN_RANGES`);
      }
      // Names that only the number scan found must also resolve by name (the identifier harvest is complete).
      for (const name of new Set(byNr.values())) {
        if (!byName.has(name)) throw new Error(`${k.arch}: ${name} resolves by number but was not found by name`);
      }
      const base = Math.min(...[...byName.values()].filter((n) => n >= 0));
      const entries = [];
      for (const [nr, name] of [...byNr].sort((a, b) => a[0] - b[0])) {
        if (nr >= base) {
          entries.push([nr, name]);
          continue;
        }
        // Below the base: must be libseccomp's lenient alias of base + nr (x32: nr | bit), never a syscall of its own.
        const canonical = k.arch === 'x32' ? (nr | X32_SYSCALL_BIT) : nr + base;
        if (byNr.get(canonical) !== name) throw new Error(`${k.arch}: ${nr} → ${name} below base ${base} is not an alias of ${canonical}`);
      }
      const table = new Map(entries);
      // Names whose libseccomp number differs from where the table puts them.
      const aliases = [];
      let pseudo = 0;
      const inverse = new Map();
      for (const [nr, name] of entries) if (!inverse.has(name)) inverse.set(name, nr);
      for (const [name, nr] of [...byName].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
        if (nr < 0) {
          if (inverse.has(name)) pseudo++;
          continue;
        }
        if (table.get(nr) !== name) aliases.push([name, nr]);
      }
      // Dense segments.
      const segments = [];
      for (const [nr, name] of entries) {
        const seg = segments[segments.length - 1];
        if (seg && nr - (seg.base + seg.names.length) <= MAX_HOLE) {
          while (seg.base + seg.names.length < nr) seg.names.push('');
          seg.names.push(name);
        } else segments.push({ base: nr, names: [name] });
      }
      tables.push({ ...k, base, segments, aliases, count: entries.length });
      notes.push(
        `${k.arch}: ${entries.length} syscalls in ${segments.map((s) => `${s.base}..${s.base + s.names.length - 1}`).join(', ')}` +
          (pseudo ? `; ${pseudo} named by libseccomp with a pseudo number` : '') +
          (aliases.length ? `; aliases ${aliases.map(([n, v]) => `${n}=${v}`).join(' ')}` : ''),
      );
    });

    const libPkg = packageVersion('libseccomp2');
    const hdrPkg = packageVersion('linux-libc-dev');
    const text = render({ version, libPkg, hdrPkg, unknown, tables, auditHeaders });
    fs.writeFileSync(out, text);
    for (const n of notes) console.error(n);
    console.error(`wrote ${path.relative(process.cwd(), out) || out} (libseccomp ${version}; not known to it: ${unknown.join(', ') || 'none'})`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function render({ version, libPkg, hdrPkg, unknown, tables, auditHeaders }) {
  const L = [];
  L.push('// GENERATED FILE: do not edit. Regenerate with `node parsers/syscalls/generate.js`.');
  L.push(`// Source: libseccomp ${version}${libPkg ? ` (Debian libseccomp2 ${libPkg})` : ''}, through seccomp_syscall_resolve_num_arch()`);
  L.push('// and seccomp_syscall_resolve_name_arch(), the calls behind `scmp_sys_resolver -a ARCH NUMBER|NAME`;');
  L.push(`// AUDIT_ARCH_* values from <linux/audit.h>${hdrPkg ? ` (Debian linux-libc-dev ${hdrPkg})` : ''}.`);
  L.push(`// Arches this libseccomp does not know (no table): ${unknown.join(', ') || 'none'}.`);
  L.push('// Numbers below an arch\'s base (its lowest libseccomp number) are left out: libseccomp resolves them');
  L.push('// only as aliases of base + n (mips 3 → read like 4003), numbers the kernel never reports for them.');
  L.push('');
  L.push(`export const LIBSECCOMP_VERSION = '${version}';`);
  L.push('');
  L.push('/** Arches asked of libseccomp that it does not know; they have no table. */');
  L.push(`export const ARCHES_UNKNOWN_TO_LIBSECCOMP: readonly string[] = [${unknown.map((a) => `'${a}'`).join(', ')}];`);
  L.push('');
  L.push('/** AUDIT_ARCH_* values as compiled from <linux/audit.h>, by libseccomp arch name (x32 is reported as x86_64). */');
  L.push('export const AUDIT_ARCH_FROM_HEADERS: Readonly<Record<string, number>> = {');
  for (const [arch, macro, v] of auditHeaders) L.push(`  ${quoteKey(arch)}: ${hex(v)}, // ${macro}`);
  L.push('};');
  L.push('');
  L.push('/** Dense run of syscall numbers starting at `base`; `names[nr - base]`, `\'\'` where no syscall. */');
  L.push('export interface SyscallSegment {');
  L.push('  readonly base: number;');
  L.push('  readonly names: readonly string[];');
  L.push('}');
  L.push('');
  L.push('export interface ArchSyscallTable {');
  L.push('  /** libseccomp arch name. */');
  L.push('  readonly arch: string;');
  L.push('  /** libseccomp / OCI runtime spec spelling, checked against seccomp.h at generation. */');
  L.push('  readonly scmpArch: string;');
  L.push('  /** AUDIT_ARCH_* value the kernel reports in `arch=` for this ABI. */');
  L.push('  readonly auditArch: number;');
  L.push('  /** Lowest syscall number libseccomp assigns on this arch. */');
  L.push('  readonly base: number;');
  L.push('  readonly count: number;');
  L.push('  readonly segments: readonly SyscallSegment[];');
  L.push('  /** Names libseccomp resolves to a number whose own name is different (none in this version when empty). */');
  L.push('  readonly aliases: Readonly<Record<string, number>>;');
  L.push('}');
  L.push('');
  L.push('export const SYSCALL_TABLES: readonly ArchSyscallTable[] = [');
  for (const t of tables) {
    L.push('  {');
    L.push(`    arch: '${t.arch}',`);
    L.push(`    scmpArch: '${t.scmpArch}',`);
    L.push(`    auditArch: ${hex(t.auditArch)}, // ${t.auditMacro}`);
    L.push(`    base: ${t.base === X32_SYSCALL_BIT ? '0x40000000' : t.base},`);
    L.push(`    count: ${t.count},`);
    L.push('    segments: [');
    for (const s of t.segments) {
      L.push(`      { base: ${s.base}, names: [`);
      for (let i = 0; i < s.names.length; i += 8) {
        const chunk = s.names.slice(i, i + 8).map((n) => `'${n}'`).join(', ');
        L.push(`        /* ${s.base + i} */ ${chunk},`);
      }
      L.push('      ] },');
    }
    L.push('    ],');
    L.push(`    aliases: {${t.aliases.map(([n, v]) => ` ${quoteKey(n)}: ${v}`).join(',')}${t.aliases.length ? ' ' : ''}},`);
    L.push('  },');
  }
  L.push('];');
  L.push('');
  return L.join('\n');
}

function quoteKey(k) {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : `'${k}'`;
}

main().catch((e) => {
  console.error(`generate.js: ${e.message}`);
  process.exit(1);
});
