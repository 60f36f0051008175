// A recording that starts from a base profile (issue 16): the recorded SeccompProfile names the base in
// `spec.baseProfileName` and lists only the syscalls the base does not already allow, as SPO stacks
// profiles on a runtime base. The base is a SeccompProfile of the profile directory (NAME.yaml, or any
// SeccompProfile the lookup knows) or `oci://REGISTRY/REPO[:TAG|@DIGEST]` (pulled and verified by the
// caller's fetcher: the node agent's OciBases), and may itself stack on another base.
//
// NAME.json (what a runtime reads directly) stays whole: the base's rules plus the recorded difference, so
// using it without the stack allows what the stacked resource allows.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';
import { Counter } from 'prom-client';
import type { Logger } from '../log';
import { registry } from '../metrics';
import { referenceError } from '../oci/reference';
import { invalidProfileName } from '../profile/names';
import type { RecordingSpec } from '../profile/recording';

/** The OCI runtime-spec seccomp object (the parts stacking reads). */
export interface OciSeccomp {
  defaultAction: string;
  architectures?: string[];
  syscalls?: Array<{ names: string[]; action: string; errnoRet?: number; args?: unknown[] }>;
  flags?: string[];
}

/** What a lookup returns for a base name: a SeccompProfile's spec (it may name its own base). */
export interface BaseSpec extends OciSeccomp {
  baseProfileName?: string;
}

/** A resolved base: its name as the recorded profile states it, and its whole stack merged. */
export interface ProfileBase {
  name: string;
  oci: OciSeccomp;
}

export type BaseLookup = (name: string) => Promise<BaseSpec | { error: string }>;

/** Chains longer than this are refused (the node agent's limit: src/agent/stack.ts MAX_STACK_DEPTH). */
const MAX_DEPTH = 8;

/** Resolves `name` and the bases it stacks on, merged as the agent stacks them: the top's default action, the union of architectures, flags and rules. */
export async function resolveBase(name: string, lookup: BaseLookup): Promise<ProfileBase | { error: string }> {
  const specs: BaseSpec[] = [];
  const seen = new Set<string>();
  for (let cur: string | undefined = name; cur !== undefined; ) {
    if (seen.has(cur)) return { error: `base profile cycle: ${[...seen, cur].join(' -> ')}` };
    if (seen.size >= MAX_DEPTH) return { error: `base profile chain deeper than ${MAX_DEPTH}` };
    seen.add(cur);
    const s = await lookup(cur);
    if ('error' in s) return { error: `base profile "${cur.slice(0, 300)}": ${s.error}` };
    specs.push(s);
    cur = s.baseProfileName;
  }
  const arches = new Set<string>();
  const flags = new Set<string>();
  const rules: NonNullable<OciSeccomp['syscalls']> = [];
  for (const s of specs) {
    for (const a of s.architectures ?? []) arches.add(a);
    for (const f of s.flags ?? []) flags.add(f);
    rules.push(...(s.syscalls ?? []));
  }
  const oci: OciSeccomp = { defaultAction: specs[0]!.defaultAction, architectures: [...arches].sort(), syscalls: rules };
  if (flags.size) oci.flags = [...flags].sort();
  return { name, oci };
}

/**
 * The syscalls a base allows whatever their arguments: named in an SCMP_ACT_ALLOW rule without argument
 * conditions. Its default action does not count: a stack takes the top profile's (the recorded one's
 * SCMP_ACT_ERRNO). A syscall allowed only for some arguments is not "already allowed": the recorded profile
 * keeps it.
 */
export function allowedBy(oci: OciSeccomp): (syscall: string) => boolean {
  const allow = new Set<string>();
  for (const r of oci.syscalls ?? []) if (r.action === 'SCMP_ACT_ALLOW' && !r.args?.length) for (const n of r.names) allow.add(n);
  return (n) => allow.has(n);
}

/** Why `name` cannot name a base (a SeccompProfile name, or an oci:// reference), or undefined. */
export function baseNameError(name: string): string | undefined {
  return name.startsWith('oci://') ? referenceError(name) : invalidProfileName(name);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A SeccompProfile resource or a plain OCI seccomp object (parsed YAML/JSON) → its spec, or why it is not one. */
export function baseSpecOf(doc: unknown): BaseSpec | { error: string } {
  if (!isObj(doc)) return { error: 'not an object' };
  const spec = doc.kind === 'SeccompProfile' ? doc.spec : doc.kind === undefined ? doc : undefined;
  if (spec === undefined) return { error: `a ${String(doc.kind).slice(0, 100)}, not a SeccompProfile` };
  if (!isObj(spec) || typeof spec.defaultAction !== 'string') return { error: 'no spec.defaultAction' };
  if (spec.syscalls !== undefined && (!Array.isArray(spec.syscalls) || !spec.syscalls.every((r) => isObj(r) && typeof r.action === 'string' && Array.isArray(r.names) && r.names.every((n) => typeof n === 'string')))) {
    return { error: 'spec.syscalls is not a list of {action, names}' };
  }
  if (spec.baseProfileName !== undefined && typeof spec.baseProfileName !== 'string') return { error: 'spec.baseProfileName is not a string' };
  return spec as unknown as BaseSpec;
}

/**
 * Looks bases up as the recorder's outputs name them: `oci://…` through `oci` (none given: an error), any
 * other name as the SeccompProfile NAME.yaml of the directory `local`, or through `local` when it is a
 * function (the recording controller: the cluster's SeccompProfile of that name).
 */
export function baseLookup(local: string | ((name: string) => Promise<unknown>), oci?: (ref: string) => Promise<unknown>): BaseLookup {
  const fetched = async (f: (n: string) => Promise<unknown>, name: string): Promise<BaseSpec | { error: string }> => {
    try {
      const got = await f(name);
      return isObj(got) && typeof got.error === 'string' ? { error: got.error } : baseSpecOf(got);
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  return async (name) => {
    if (name.startsWith('oci://')) return oci ? fetched(oci, name) : { error: 'oci:// bases are not enabled here' };
    const bad = invalidProfileName(name);
    if (bad) return { error: bad };
    if (typeof local === 'function') return fetched(local, name);
    let text: string;
    try {
      text = await fs.promises.readFile(path.join(local, `${name}.yaml`), 'utf8');
    } catch (e) {
      return { error: `not found in ${local} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
    }
    try {
      return baseSpecOf(load(text));
    } catch (e) {
      return { error: `${name}.yaml: ${(e as Error).message.split('\n')[0]}` };
    }
  };
}

/** The reason a sink is given (ProfileSink.notWritten) for a profile whose base cannot be resolved. */
export const BASE_UNRESOLVED = 'BaseProfileUnresolved';

const baseErrors = new Counter({
  name: 'auditflow_recording_base_errors_total',
  help: 'Recorded profiles not written because their base profile could not be resolved (missing, not a SeccompProfile, pull failed, refused by the oci:// policy or its signature check); counted per attempt',
  registers: [registry],
});

/**
 * The resolved base of a SeccompProfile recording, undefined when it names none, or why it cannot be resolved.
 * An unresolved base is counted and logged here, and the caller writes nothing for that profile, as the node
 * agent installs nothing whose base it cannot pull or verify: a profile listing every syscall under a base
 * that was refused (unsigned, tampered, not allowed) would be installed on a base nobody vouched for. Nothing
 * is lost: the recorded syscalls stay in the recording's state, and the profile is written at its next
 * trigger once the base resolves.
 */
export async function baseFor(rec: RecordingSpec, lookup: BaseLookup | undefined, log: Logger): Promise<ProfileBase | undefined | { error: string }> {
  if (rec.kind !== 'SeccompProfile' || !rec.baseProfileName) return undefined;
  const r = lookup ? await resolveBase(rec.baseProfileName, lookup) : { error: 'no base profile lookup configured' };
  if (!('error' in r)) return r;
  baseErrors.inc();
  log.error({ recording: rec.name, base: rec.baseProfileName.slice(0, 300), err: r.error }, 'base profile not resolved: the recorded profile is not written');
  return r;
}
