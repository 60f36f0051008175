// Audit arch values → libseccomp arch names, and syscall number ↔ name lookups over the generated tables.
// Hot path: resolveSyscall() is called for every audit record, so lookups are one Map.get on the raw
// `arch=` string plus an array index; the only allocation is the returned object.

import type { SyscallInfo } from '../types.js';
import { SYSCALL_TABLES } from './tables.js';
import type { SyscallSegment } from './tables.js';

// ---- AUDIT_ARCH_* as the kernel defines them (include/uapi/linux/audit.h, include/uapi/linux/elf-em.h).
const AUDIT_ARCH_64BIT = 0x80000000; // __AUDIT_ARCH_64BIT
const AUDIT_ARCH_LE = 0x40000000; // __AUDIT_ARCH_LE
const AUDIT_ARCH_CONVENTION_MIPS64_N32 = 0x20000000; // __AUDIT_ARCH_CONVENTION_MIPS64_N32
const EM_386 = 3;
const EM_MIPS = 8;
const EM_PARISC = 15;
const EM_PPC = 20;
const EM_PPC64 = 21;
const EM_S390 = 22;
const EM_ARM = 40;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const EM_RISCV = 243;
const EM_LOONGARCH = 258;

/** x32 syscalls are reported with arch=AUDIT_ARCH_X86_64 and this bit set in the number (__X32_SYSCALL_BIT). */
export const X32_SYSCALL_BIT = 0x40000000;

const u32 = (v: number): number => v >>> 0;

/**
 * The AUDIT_ARCH_* value the kernel writes as `arch=` (in hex) for each ABI, by libseccomp arch name.
 * x32 has none of its own: the kernel reports it as AUDIT_ARCH_X86_64 (see X32_SYSCALL_BIT).
 * loongarch64 is listed although this libseccomp has no table for it (see tables.ts), so its events still
 * get an `arch`.
 */
export const AUDIT_ARCH: Readonly<Record<string, number>> = Object.freeze({
  x86_64: u32(EM_X86_64 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE),
  x86: u32(EM_386 | AUDIT_ARCH_LE),
  aarch64: u32(EM_AARCH64 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE),
  arm: u32(EM_ARM | AUDIT_ARCH_LE),
  ppc: u32(EM_PPC),
  ppc64: u32(EM_PPC64 | AUDIT_ARCH_64BIT),
  ppc64le: u32(EM_PPC64 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE),
  s390: u32(EM_S390),
  s390x: u32(EM_S390 | AUDIT_ARCH_64BIT),
  riscv64: u32(EM_RISCV | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE),
  mips: u32(EM_MIPS),
  mipsel: u32(EM_MIPS | AUDIT_ARCH_LE),
  mips64: u32(EM_MIPS | AUDIT_ARCH_64BIT),
  mips64n32: u32(EM_MIPS | AUDIT_ARCH_64BIT | AUDIT_ARCH_CONVENTION_MIPS64_N32),
  mipsel64: u32(EM_MIPS | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE),
  mipsel64n32: u32(EM_MIPS | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE | AUDIT_ARCH_CONVENTION_MIPS64_N32),
  parisc: u32(EM_PARISC),
  parisc64: u32(EM_PARISC | AUDIT_ARCH_64BIT),
  loongarch64: u32(EM_LOONGARCH | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE),
});

/**
 * Names auditd writes when it interprets `arch=` (libaudit's machine table; checked against libaudit 3.0.9:
 * audit_machine_to_name(audit_elf_to_machine(v))), plus the aliases libaudit accepts for the same machine.
 * auditd prints "armeb" for AUDIT_ARCH_ARM (little-endian): it is the first name of its ARM machine entry.
 * libaudit also maps "armv8l" to aarch64, which is a 32-bit ARM userland name, so it is deliberately not here.
 */
const AUDITD_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['i386', 'x86'],
  ['i486', 'x86'],
  ['i586', 'x86'],
  ['i686', 'x86'],
  ['x86_64', 'x86_64'],
  ['ppc64', 'ppc64'],
  ['ppc64le', 'ppc64le'],
  ['ppc', 'ppc'],
  ['s390x', 's390x'],
  ['s390', 's390'],
  ['armeb', 'arm'],
  ['armv5tejl', 'arm'],
  ['armv5tel', 'arm'],
  ['armv6l', 'arm'],
  ['armv7l', 'arm'],
  ['aarch64', 'aarch64'],
];

/** Container runtimes' default-profile archMap (moby profiles/seccomp/default.json): arch → sub-architectures. */
const SUB_ARCHITECTURES: Readonly<Record<string, readonly string[]>> = {
  x86_64: ['x86', 'x32'],
  aarch64: ['arm'],
  mips64: ['mips', 'mips64n32'],
  mips64n32: ['mips', 'mips64'],
  mipsel64: ['mipsel', 'mipsel64n32'],
  mipsel64n32: ['mipsel', 'mipsel64'],
  s390x: ['s390'],
};

interface ArchEntry {
  readonly arch: string;
  readonly scmpArch: string;
  readonly segments: readonly SyscallSegment[];
  /** Set on x86_64 only: where numbers carrying X32_SYSCALL_BIT go. */
  x32: ArchEntry | undefined;
  /** name → number, built on first syscallNumber() for the arch. */
  byName: Map<string, number> | undefined;
  readonly aliases: Readonly<Record<string, number>>;
}

const ENTRIES = new Map<string, ArchEntry>();
for (const t of SYSCALL_TABLES) {
  ENTRIES.set(t.arch, {
    arch: t.arch,
    scmpArch: t.scmpArch,
    segments: t.segments,
    x32: undefined,
    byName: undefined,
    aliases: t.aliases,
  });
}
// Arches audit reports that this libseccomp has no table for: known arch, never a syscall name.
if (!ENTRIES.has('loongarch64')) {
  ENTRIES.set('loongarch64', {
    arch: 'loongarch64',
    scmpArch: 'SCMP_ARCH_LOONGARCH64', // libseccomp >= 2.6 and the OCI runtime spec spell it so
    segments: [],
    x32: undefined,
    byName: undefined,
    aliases: {},
  });
}
{
  const x86_64 = ENTRIES.get('x86_64');
  if (x86_64 !== undefined) x86_64.x32 = ENTRIES.get('x32');
}

/** libseccomp arch names with a syscall table, in the generator's order. */
export const ARCHES: readonly string[] = Object.freeze(SYSCALL_TABLES.map((t) => t.arch));

/** Every `arch=` form we recognise, keyed exactly as the kernel / auditd write it (lowercase hex, no 0x). */
const AUDIT_LOOKUP = new Map<string, ArchEntry>();
for (const [arch, value] of Object.entries(AUDIT_ARCH)) {
  const e = ENTRIES.get(arch);
  if (e !== undefined) AUDIT_LOOKUP.set(value.toString(16), e);
}
for (const [name, arch] of AUDITD_NAMES) {
  const e = ENTRIES.get(arch);
  if (e !== undefined) AUDIT_LOOKUP.set(name, e);
}
for (const [arch, e] of ENTRIES) if (!AUDIT_LOOKUP.has(arch)) AUDIT_LOOKUP.set(arch, e);

const HEX = /^[0-9a-f]{1,8}$/;

/** The forms the fast path misses: upper case, 0x prefix, leading zeros, auparse's `unknown-elf-type(…)`. */
function slowAuditLookup(value: string): ArchEntry | undefined {
  let s = value.trim().toLowerCase();
  const byName = AUDIT_LOOKUP.get(s);
  if (byName !== undefined) return byName;
  if (s.startsWith('unknown-elf-type(') && s.endsWith(')')) s = s.slice(17, -1);
  if (s.startsWith('0x')) s = s.slice(2);
  s = s.replace(/^0+(?=.)/, '');
  if (!HEX.test(s)) return undefined;
  return AUDIT_LOOKUP.get(s);
}

function auditEntry(value: string): ArchEntry | undefined {
  const e = AUDIT_LOOKUP.get(value);
  return e !== undefined ? e : slowAuditLookup(value);
}

function lookupName(segments: readonly SyscallSegment[], nr: number): string | undefined {
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const idx = nr - seg.base;
    if (idx >= 0 && idx < seg.names.length) {
      const name = seg.names[idx];
      return name === '' ? undefined : name; // a fractional idx reads undefined
    }
  }
  return undefined;
}

/**
 * 'c000003e' → 'x86_64': the hex AUDIT_ARCH_* value of `arch=` (any case, with or without 0x), auditd's
 * interpreted names ('x86_64', 'i386' → 'x86', 'armeb' → 'arm', …), auparse's 'unknown-elf-type(HEX)',
 * and libseccomp names themselves. undefined if unknown.
 */
export function archFromAudit(value: string): string | undefined {
  const e = auditEntry(value);
  return e === undefined ? undefined : e.arch;
}

/**
 * Syscall identity of an audit record: arch from the audit arch value (x32 when the arch is x86_64 and
 * the number carries X32_SYSCALL_BIT), name from the tables; name undefined when not in the table.
 */
export function resolveSyscall(auditArch: string | undefined, nr: number): SyscallInfo {
  let e = auditArch === undefined ? undefined : auditEntry(auditArch);
  if (e === undefined) return { arch: undefined, auditArch, nr, name: undefined };
  if (e.x32 !== undefined && nr >= X32_SYSCALL_BIT && nr < 0x80000000) e = e.x32;
  return { arch: e.arch, auditArch, nr, name: lookupName(e.segments, nr) };
}

/** Name of syscall `nr` on libseccomp arch `arch` (x32 numbers include X32_SYSCALL_BIT); undefined if none. */
export function syscallName(arch: string, nr: number): string | undefined {
  const e = ENTRIES.get(arch);
  return e === undefined ? undefined : lookupName(e.segments, nr);
}

/**
 * Number of `name` on libseccomp arch `arch`: the number the kernel reports it under, i.e. where the table
 * puts it. Where libseccomp answers a name with a negative pseudo number (x86 'socket' → -101, because
 * it can also be reached through socketcall), this gives the real number from the table (359); names
 * with no real number on the arch give undefined.
 */
export function syscallNumber(arch: string, name: string): number | undefined {
  const e = ENTRIES.get(arch);
  if (e === undefined) return undefined;
  let m = e.byName;
  if (m === undefined) {
    m = new Map<string, number>();
    for (const seg of e.segments) {
      for (let i = 0; i < seg.names.length; i++) {
        const n = seg.names[i]!;
        if (n !== '' && !m.has(n)) m.set(n, seg.base + i);
      }
    }
    for (const [n, nr] of Object.entries(e.aliases)) if (!m.has(n)) m.set(n, nr);
    e.byName = m;
  }
  return m.get(name);
}

/** 'x86_64' → 'SCMP_ARCH_X86_64', as the OCI runtime spec and libseccomp spell it; undefined if unknown. */
export function scmpArchName(arch: string): string | undefined {
  const e = ENTRIES.get(arch);
  return e === undefined ? undefined : e.scmpArch;
}

/**
 * Arches a profile recorded on `arch` should list, as container runtimes' default profiles do:
 * the arch first, then its archMap sub-architectures (x86_64 → x86_64, x86, x32; aarch64 → aarch64, arm;
 * s390x → s390x, s390; mips64 → mips64, mips, mips64n32; …). [] for an unknown arch.
 */
export function nativeCompanions(arch: string): string[] {
  if (!ENTRIES.has(arch)) return [];
  const subs = SUB_ARCHITECTURES[arch];
  return subs === undefined ? [arch] : [arch, ...subs];
}
