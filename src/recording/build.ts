// Sessions → profile: the one builder of recorded profiles, for the embedded recorder and the aggregator.
// A profile group is what one profile is built from: with merge strategy `containers`, every session of
// one container name in a recording (all replicas); with `none`, one session (one replica). Names follow
// naming.ts.

import type { AvcInfo } from '../../parsers';
import type { Logger } from '../log';
import { RUNC_BASE_SYSCALLS } from '../profile/runtime-base';
import type { Evidence, RecordedProfile, RecordingSpec } from '../profile/recording';
import { LABEL_CONTAINER_ID, LABEL_RECORDING_ID, LABEL_RECORDING_NAMESPACE, SeccompProfileBuilder } from '../profile/seccomp';
import { SELF, SelinuxProfileBuilder } from '../profile/selinux';
import { containerNameOf, profileName } from './naming';
import { profileFiles, profileNameProblem } from './profile-dir';
import { totalCount, type SessionState } from './session';

/** Names the profile's evidence file (in the same directory), on the SPO resource. */
export const ANNOTATION_EVIDENCE = 'auditflow.dev/evidence';

export class ProfileNameError extends Error {}

export interface BuildOptions {
  /** Add runc's base syscalls when runc's init ran under the filter (as `auditflow profile --base auto`); default true. */
  runcBase?: boolean;
  /** Where to warn about syscall numbers that have no name on their arch (left out of the profile). */
  log?: Logger;
}

function addEvidence(out: Record<string, Evidence>, key: string, s: SessionState, seen: { firstSeen: string; lastSeen: string; exe: string | null }, count: number): void {
  const e = out[key];
  const pod = s.pod?.name ?? null;
  const namespace = s.pod?.namespace ?? null;
  if (!e) {
    out[key] = { firstSeen: seen.firstSeen, lastSeen: seen.lastSeen, count, exe: seen.exe, pod, namespace };
    return;
  }
  e.count += count;
  if (seen.lastSeen > e.lastSeen) e.lastSeen = seen.lastSeen;
  // ties broken by exe and pod so that the result does not depend on the order sessions are visited in
  if (seen.firstSeen < e.firstSeen || (seen.firstSeen === e.firstSeen && `${seen.exe}/${pod}` < `${e.exe}/${e.pod}`)) {
    e.firstSeen = seen.firstSeen;
    e.exe = seen.exe;
    e.pod = pod;
    e.namespace = namespace;
  }
}

/**
 * Builds the profile of one group, or null when the group saw nothing of its kind yet. `final`: the group
 * has no active session left. Throws ProfileNameError when the name cannot be a profile's.
 */
export function buildProfile(rec: RecordingSpec, sessions: readonly SessionState[], final: boolean, opts: BuildOptions = {}): RecordedProfile | null {
  // visit in a fixed order: the output must not depend on which instance held which session first
  const ordered = [...sessions].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const first = ordered[0];
  if (!first) return null;
  const name = profileName(rec, first.container, first.pod);
  const bad = profileNameProblem(rec.kind, name);
  if (bad) throw new ProfileNameError(`profile name "${name}": ${bad}`);
  const containerName = containerNameOf(first.container);
  const labels: Record<string, string> = { [LABEL_RECORDING_ID]: rec.name, [LABEL_CONTAINER_ID]: containerName };
  const ns = rec.namespace ?? first.pod?.namespace;
  if (ns) labels[LABEL_RECORDING_NAMESPACE] = ns;
  const annotations = { [ANNOTATION_EVIDENCE]: profileFiles('', name, rec.kind).evidence };
  const evidence: Record<string, Evidence> = {};
  if (rec.kind === 'SeccompProfile') {
    const b = new SeccompProfileBuilder();
    for (const s of ordered) {
      for (const seen of Object.values(s.seccomp)) {
        const count = totalCount(seen);
        b.add(seen.arch ?? undefined, seen.syscall ?? undefined, seen.nr, count);
        addEvidence(evidence, seen.syscall ?? `${seen.arch ?? 'unknown-arch'}:${seen.nr}`, s, seen, count);
      }
    }
    if (Object.keys(evidence).length === 0) return null;
    // Go code in runc's init runs under the filter before the workload and does not always make the same
    // syscalls (GC, scheduler): one recording may miss one, and the container then fails to start at random
    if (opts.runcBase !== false && ordered.some((s) => s.runtimeInit)) for (const n of RUNC_BASE_SYSCALLS) b.add(undefined, n, undefined, 0);
    for (const [k, n] of b.unnamed) opts.log?.warn({ profile: name, syscall: k, count: n }, 'syscall number without a name on its arch: left out of the profile');
    const r = b.toResource({ name, labels });
    const resource = { ...r, metadata: { ...r.metadata, annotations: { ...r.metadata.annotations, ...annotations } } };
    return { recording: rec, name, containerName, kind: rec.kind, resource, oci: b.toOci() as unknown as Record<string, unknown>, evidence, final };
  }
  const b = new SelinuxProfileBuilder();
  for (const s of ordered) {
    for (const seen of Object.values(s.avc)) {
      const avc: AvcInfo = {
        decision: 'denied',
        permissions: [seen.perm],
        scontext: undefined,
        tcontext: undefined,
        tclass: seen.tclass,
        permissive: undefined,
        source: { user: '', role: '', type: seen.stype, level: undefined },
        target: { user: '', role: '', type: seen.ttype, level: undefined },
      };
      b.add(avc);
      const target = seen.ttype === seen.stype ? SELF : seen.ttype;
      addEvidence(evidence, `${target}:${seen.tclass}:${seen.perm}`, s, seen, totalCount(seen));
    }
  }
  if (Object.keys(evidence).length === 0) return null;
  const r = b.toResource(name, labels);
  const resource = { ...r, metadata: { ...r.metadata, annotations } };
  return { recording: rec, name, containerName, kind: rec.kind, resource, cil: b.toCil(name), evidence, final };
}
