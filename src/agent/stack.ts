// Profile stacking: a SeccompProfile may name another SeccompProfile in spec.baseProfileName, which may
// itself have a base. The installed file is the whole stack merged: the top profile's defaultAction, the
// union of architectures, flags and syscall rules. A missing base, a cycle, a hostile or over-deep chain is
// an error the caller reports in the profile's status; nothing is guessed.

import type { SeccompProfile } from '../k8s/api';
import { invalidProfileName } from '../profile/names';

/** SPO allows long chains in principle; real stacks are 2–3 deep (runtime base ← app). */
export const MAX_STACK_DEPTH = 8;

export interface OciSyscallRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

/** What runc/crun read from `localhostProfile`: the OCI runtime-spec seccomp object. */
export interface OciProfile {
  defaultAction: string;
  architectures?: string[];
  syscalls?: OciSyscallRule[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
}

export type StackResult =
  | { ok: true; profile: OciProfile; chain: string[] }
  /** `chain`: the names looked at, including a missing one (so the caller re-resolves when it appears). */
  | { ok: false; reason: string; chain: string[] };

/**
 * `oci`: resolves an `oci://` base (src/agent/oci-base.ts: pulled, verified, cached) to its profile or an error; without
 * it, OCI bases are an error.
 */
export function resolveStack(
  name: string,
  lookup: (name: string) => SeccompProfile | undefined,
  maxDepth = MAX_STACK_DEPTH,
  oci?: (ref: string) => SeccompProfile | { error: string },
): StackResult {
  const chain: string[] = [];
  const seen = new Set<string>();
  let cur: string | undefined = name;
  const profiles: SeccompProfile[] = [];
  while (cur !== undefined) {
    chain.push(cur);
    if (seen.has(cur)) return { ok: false, reason: `base profile cycle: ${chain.join(' -> ')}`, chain };
    seen.add(cur);
    if (chain.length > maxDepth + 1) return { ok: false, reason: `base profile chain deeper than ${maxDepth}: ${chain.join(' -> ')}`, chain };
    let p: SeccompProfile | undefined;
    if (cur.startsWith('oci://')) {
      const r = oci!(cur);
      if ('error' in r) return { ok: false, reason: `base profile "${cur.slice(0, 300)}": ${r.error}`, chain };
      p = r;
    } else p = lookup(cur);
    if (!p) return { ok: false, reason: `base profile "${cur}" not found (${chain.join(' -> ')})`, chain };
    profiles.push(p);
    const base: string | undefined = p.spec.baseProfileName;
    if (base === undefined || base === '') break;
    if (base.startsWith('oci://')) {
      if (!oci) return { ok: false, reason: `base profile "${base}": OCI artifact base profiles are not supported`, chain };
      cur = base;
      continue;
    }
    const bad = invalidProfileName(base);
    if (bad) return { ok: false, reason: `base profile name ${JSON.stringify(base.slice(0, 300))} of "${cur}" is invalid: ${bad}`, chain };
    cur = base;
  }
  return { ok: true, profile: mergeStack(profiles), chain };
}

/** `stack[0]` is the top profile, the rest its bases in order. */
export function mergeStack(stack: SeccompProfile[]): OciProfile {
  const top = stack[0]!;
  const out: OciProfile = { defaultAction: top.spec.defaultAction };
  const arches = new Set<string>();
  const flags = new Set<string>();
  // Rules with the same action, errno and argument filters are one rule with the union of names.
  const rules = new Map<string, { rule: OciSyscallRule; names: Set<string> }>();
  for (const p of stack) {
    for (const a of p.spec.architectures ?? []) arches.add(a);
    for (const f of p.spec.flags ?? []) flags.add(f);
    out.listenerPath ??= p.spec.listenerPath || undefined;
    out.listenerMetadata ??= p.spec.listenerMetadata || undefined;
  }
  // Bases first: their rules come first in the file, as SPO writes them.
  for (const p of [...stack].reverse()) {
    for (const s of p.spec.syscalls ?? []) {
      const key = JSON.stringify([s.action, s.errnoRet ?? null, s.args ?? null]);
      let r = rules.get(key);
      if (!r) {
        const rule: OciSyscallRule = { names: [], action: s.action };
        if (s.errnoRet !== undefined) rule.errnoRet = s.errnoRet;
        if (s.args !== undefined) rule.args = s.args;
        rules.set(key, (r = { rule, names: new Set() }));
      }
      for (const n of s.names ?? []) r.names.add(n);
    }
  }
  if (arches.size) out.architectures = [...arches];
  if (rules.size) out.syscalls = [...rules.values()].map(({ rule, names }) => ({ ...rule, names: [...names].sort() }));
  if (flags.size) out.flags = [...flags].sort();
  if (out.listenerPath === undefined) delete out.listenerPath;
  if (out.listenerMetadata === undefined) delete out.listenerMetadata;
  return out;
}
