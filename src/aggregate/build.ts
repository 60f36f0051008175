// Sessions → profiles. A profile group is what one profile is built from: with merge strategy
// `containers`, every session of one container name in a recording (all replicas); with `none`, one
// session (one replica). Names follow DESIGN.md: `<recording>-<container>[-<replica suffix>]`.

import type { AvcInfo } from '../../parsers';
import { RUNC_BASE_SYSCALLS } from '../profile/runtime-base';
import type { Evidence, RecordedProfile, RecordingSpec } from '../profile/recording';
import { invalidProfileName } from '../profile/names';
import { LABEL_CONTAINER_ID, LABEL_RECORDING_ID, LABEL_RECORDING_NAMESPACE, SeccompProfileBuilder } from '../profile/seccomp';
import { SELF, SelinuxProfileBuilder } from '../profile/selinux';
import { totalCount, type SessionState } from './session';

export const ANNOTATION_EVIDENCE = 'auditflow.dev/evidence';

/** The replica part of a profile name: the random suffix of a generated pod name, else from the pod uid. */
export function replicaSuffix(s: SessionState): string {
  if (!s.pod) return s.container.id.slice(0, 12).toLowerCase();
  const m = /-([a-z0-9]{5})$/.exec(s.pod.name);
  // a pod made from generateName ends in 5 random [a-z0-9]; a fixed-name pod gets a stable uid-derived suffix
  if (m && s.pod.name.split('-').length > 2) return m[1]!;
  return s.pod.uid.replace(/-/g, '').slice(0, 8).toLowerCase();
}

export function containerNameOf(s: SessionState): string {
  return s.container.name ?? s.container.id.slice(0, 12);
}

/** The key of the profile a session contributes to. */
export function groupKey(rec: RecordingSpec, s: SessionState): string {
  const base = `${rec.name}/${containerNameOf(s)}`;
  return rec.mergeStrategy === 'none' ? `${base}/${replicaSuffix(s)}` : base;
}

export function profileName(rec: RecordingSpec, s: SessionState): string {
  const base = `${rec.name}-${containerNameOf(s)}`;
  return rec.mergeStrategy === 'none' ? `${base}-${replicaSuffix(s)}` : base;
}

export class ProfileNameError extends Error {}

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

/** Builds the profile of one group. `final`: the group has no active session left. */
export function buildProfile(rec: RecordingSpec, sessions: readonly SessionState[], final: boolean): RecordedProfile {
  const first = sessions[0];
  if (!first) throw new Error('buildProfile: no sessions');
  const name = profileName(rec, first);
  const bad = invalidProfileName(name);
  if (bad) throw new ProfileNameError(`profile name "${name}": ${bad}`);
  const containerName = containerNameOf(first);
  const labels: Record<string, string> = { [LABEL_RECORDING_ID]: rec.name, [LABEL_CONTAINER_ID]: containerName };
  const ns = rec.namespace ?? first.pod?.namespace;
  if (ns) labels[LABEL_RECORDING_NAMESPACE] = ns;
  const evidence: Record<string, Evidence> = {};
  // visit in a fixed order: the output must not depend on which instance held which session first
  const ordered = [...sessions].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (rec.kind === 'SeccompProfile') {
    const b = new SeccompProfileBuilder();
    for (const s of ordered) {
      for (const seen of Object.values(s.seccomp)) {
        const count = totalCount(seen);
        b.add(seen.arch ?? undefined, seen.syscall ?? undefined, seen.nr, count);
        addEvidence(evidence, seen.syscall ?? `${seen.arch ?? 'unknown-arch'}:${seen.nr}`, s, seen, count);
      }
    }
    // Go code in runc's init runs under the filter before the workload and does not always make the same
    // syscalls (GC, scheduler): one recording may miss one, and the container then fails to start at random
    if (ordered.some((s) => s.runtimeInit)) for (const n of RUNC_BASE_SYSCALLS) b.add(undefined, n, undefined, 0);
    const resource = b.toResource({ name, labels });
    resource.metadata.annotations = { ...resource.metadata.annotations, [ANNOTATION_EVIDENCE]: `${name}.evidence.json` };
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
      } as AvcInfo;
      b.add(avc);
      const target = seen.ttype === seen.stype ? SELF : seen.ttype;
      addEvidence(evidence, `${target}:${seen.tclass}:${seen.perm}`, s, seen, totalCount(seen));
    }
  }
  const r = b.toResource(name, labels);
  const resource = { ...r, metadata: { ...r.metadata, annotations: { [ANNOTATION_EVIDENCE]: `${name}.evidence.json` } } };
  return { recording: rec, name, containerName, kind: rec.kind, resource, cil: b.toCil(name), evidence, final };
}
