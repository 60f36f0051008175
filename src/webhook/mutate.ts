// What the admission webhooks do to a pod being created, as pure functions of the pod and the objects in the
// informers' caches: the recording webhook (SPO's log-enricher-trace) and the binding webhooks (SPO's
// ProfileBinding, auditflow's ClusterProfileBinding). The server turns the result into an AdmissionReview.

import { randomBytes } from 'node:crypto';
import type { ProfileBinding, ProfileRecording, SeccompProfile, SelinuxProfile } from '../k8s/api';
import { recordingSpecOf } from '../k8s/recording-controller';
import { matchesSelector } from '../profile/selector';
import { ANNOTATION_CLUSTER_PROFILE_BINDINGS, ANNOTATION_PROFILE_BINDINGS, ANNOTATION_TRACE_AVCS, ANNOTATION_TRACE_LOGS, type ClusterProfileBinding } from './api';
import { containersOf, PodPatch, type PatchOp, type PodLike } from './patch';

/** An event to record about an object (SPO reports on the recording or the binding, the pod has no uid yet). */
export interface EventNote {
  regarding: { kind: string; apiVersion: string; name: string; namespace?: string; uid?: string };
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Mutation {
  ops: PatchOp[];
  events: EventNote[];
  /** Admission warnings (kubectl shows them). */
  warnings: string[];
}

const ref = (o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; uid?: string } }): EventNote['regarding'] => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.metadata.name,
  ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
  ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
});

/** The pod's name for messages: its name, else its generateName (Deployments' pods have no name yet). */
export const podName = (pod: PodLike, reqName?: string) => reqName || pod.metadata?.name || pod.metadata?.generateName || '(unnamed)';

const str = (v: unknown) => JSON.stringify(String(v).slice(0, 253));

// -----------------------------------------------------------------------------------------------------
// recording

export interface RecordingInput {
  pod: PodLike;
  /** The ProfileRecordings of the pod's namespace. */
  recordings: ProfileRecording[];
  /** `localhostProfile` of the logging profile the agent installs. */
  logProfile: string;
  reqName?: string;
  now?: Date;
}

/**
 * As SPO's recording webhook (recorder Logs): every container of a pod a recording selects (all, or those in
 * spec.containers) gets the logging seccomp profile and the annotation `io.containers.trace-logs/<container>`
 * (`io.containers.trace-avcs/` for SelinuxProfile: annotated only, as auditflow records AVCs from the audit log
 * without a permissive domain). A profile the pod or container already had is overwritten for recording,
 * with a Warning event; so is a privileged container, whose syscalls seccomp does not see.
 */
export function recordingMutation(inp: RecordingInput): Mutation {
  const { pod } = inp;
  const patch = new PodPatch(pod);
  const events: EventNote[] = [];
  const warnings: string[] = [];
  const name = podName(pod, inp.reqName);
  const now = Math.floor((inp.now ?? new Date()).getTime() / 1000);
  if (pod.spec?.os?.name === 'windows') return { ops: [], events, warnings };
  const recordings = [...inp.recordings].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const r of recordings) {
    const spec = recordingSpecOf(r);
    if ('error' in spec) continue;
    if (!matchesSelector(spec.spec.podSelector, pod.metadata?.labels)) continue;
    const seccomp = spec.spec.kind === 'SeccompProfile';
    const prefix = seccomp ? ANNOTATION_TRACE_LOGS : ANNOTATION_TRACE_AVCS;
    const podProfile = pod.spec?.securityContext?.seccompProfile;
    if (seccomp && podProfile && typeof podProfile === 'object') {
      const msg = `Pod ${str(name)} had a seccomp profile (${str(podProfile.type)}) in its securityContext: the profile recorder overrides it in every recorded container`;
      events.push({ regarding: ref(r), type: 'Warning', reason: 'SecurityContextAlreadySet', message: msg });
      warnings.push(msg);
    }
    for (const { list, index, c } of containersOf(pod)) {
      const cname = typeof c.name === 'string' ? c.name : '';
      if (spec.spec.containers && !spec.spec.containers.includes(cname)) continue;
      const key = prefix + cname;
      if (patch.annotation(key) === undefined) patch.setAnnotation(key, `${r.metadata.name}_${cname}_${randomBytes(3).toString('hex').slice(0, 5)}_${now}`);
      if (!seccomp) continue;
      if (c.securityContext?.privileged === true) {
        const msg = `Container ${str(cname)} in pod ${str(name)} is privileged, cannot use log-based profile recording`;
        events.push({ regarding: ref(r), type: 'Warning', reason: 'PrivilegedContainer', message: msg });
        warnings.push(msg);
      }
      const want = { type: 'Localhost', localhostProfile: inp.logProfile };
      const had = patch.containerField(list, index, 'seccompProfile') as { type?: string; localhostProfile?: string } | undefined;
      if (had && had.type === want.type && had.localhostProfile === want.localhostProfile) continue;
      if (had && typeof had === 'object') {
        const msg = `Container ${str(cname)} had SecurityContext already set, the profile recorder overwrote it`;
        events.push({ regarding: ref(r), type: 'Warning', reason: 'SecurityContextAlreadySet', message: msg });
        warnings.push(msg);
      }
      patch.setContainerField(list, index, 'seccompProfile', want);
    }
  }
  return { ops: patch.ops(), events, warnings };
}

// -----------------------------------------------------------------------------------------------------
// bindings

type BindKind = 'SeccompProfile' | 'SelinuxProfile';
const FIELD: Record<BindKind, 'seccompProfile' | 'seLinuxOptions'> = { SeccompProfile: 'seccompProfile', SelinuxProfile: 'seLinuxOptions' };

/** The profiles a binding may name, from the cache. */
export interface ProfileLookup {
  seccomp(name: string): SeccompProfile | undefined;
  selinux(name: string): SelinuxProfile | undefined;
}

type AnyBinding = (ProfileBinding & { metadata: { creationTimestamp?: string } }) | ClusterProfileBinding;

/** Oldest first (creationTimestamp, then name), so the oldest matching binding wins, as SPO. */
function byAge(a: AnyBinding, b: AnyBinding): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  return ta < tb ? -1 : ta > tb ? 1 : a.metadata.name.localeCompare(b.metadata.name);
}

const kindOf = (b: AnyBinding): BindKind | undefined => {
  const k = b.spec?.profileRef?.kind;
  return k === 'SeccompProfile' || k === 'SelinuxProfile' ? k : undefined;
};

/**
 * The security-context value a binding sets, or why it is skipped. A missing, disabled or terminating profile
 * is skipped (a binding must not block every pod of a namespace); a profile no node installed yet is bound,
 * with a warning.
 */
function valueFor(b: AnyBinding, profiles: ProfileLookup): { value: unknown; warning?: string } | { skip: string; reason: string } {
  const kind = kindOf(b)!;
  const name = String(b.spec.profileRef.name);
  const p = kind === 'SeccompProfile' ? profiles.seccomp(name) : profiles.selinux(name);
  if (!p) return { skip: `${kind} ${str(name)} not found`, reason: 'ProfileNotFound' };
  if (p.metadata.deletionTimestamp) return { skip: `${kind} ${str(name)} is being deleted`, reason: 'ProfileTerminating' };
  if (p.spec?.state === 'Disabled') return { skip: `${kind} ${str(name)} is disabled (spec.state Disabled)`, reason: 'ProfileDisabled' };
  const installed = p.status?.status === 'Installed';
  const warning = installed ? undefined : `${kind} ${str(name)} is not installed yet (status ${str(p.status?.status ?? 'none')}): the pod's containers start once the nodes install it`;
  if (kind === 'SeccompProfile') return { value: { type: 'Localhost', localhostProfile: `operator/${name}.json` }, ...(warning ? { warning } : {}) };
  return { value: { type: `${name}.process` }, ...(warning ? { warning } : {}) };
}

export interface BindingInput {
  pod: PodLike;
  namespace: string;
  /** ProfileBindings of the pod's namespace: applied by the namespaced webhook, and they win over cluster ones. */
  bindings: ProfileBinding[];
  /** Whether the namespace opted in to ProfileBindings (label spo.x-k8s.io/enable-binding). */
  bindingEnabled: boolean;
  clusterBindings: ClusterProfileBinding[];
  profiles: ProfileLookup;
  reqName?: string;
}

function imageMatches(b: AnyBinding, image: unknown): boolean {
  return typeof image === 'string' && b.spec.image !== '*' && b.spec.image === image;
}

/**
 * SPO v1's ProfileBinding, for a namespace that opted in: a container whose image is a binding's `image` (exact
 * string) gets its profile in its own securityContext; a `*` binding sets the profile in the pod's
 * securityContext, which every container without its own inherits; so an image binding wins over `*` for its
 * containers. The oldest binding wins among several of a kind; a profile the pod's author set is kept (SPO:
 * "cannot override existing"). The pod is annotated spo.x-k8s.io/profile-bindings with the bindings applied.
 */
export function bindingMutation(inp: BindingInput): Mutation {
  const patch = new PodPatch(inp.pod);
  const events: EventNote[] = [];
  const warnings: string[] = [];
  const applied = new Set<string>();
  if (inp.pod.spec?.os?.name === 'windows') return { ops: [], events, warnings };
  const name = podName(inp.pod, inp.reqName);
  const bindings = inp.bindings.filter((b) => kindOf(b)).sort(byAge);
  const skipped = new Set<string>();
  const resolve = (b: AnyBinding) => {
    const v = valueFor(b, inp.profiles);
    if ('skip' in v) {
      if (!skipped.has(b.metadata.name)) {
        skipped.add(b.metadata.name);
        events.push({ regarding: ref(b as ProfileBinding), type: 'Warning', reason: v.reason, message: `not applied to pod ${str(name)}: ${v.skip}` });
      }
      return undefined;
    }
    if (v.warning && !warnings.includes(v.warning)) warnings.push(v.warning);
    return v.value;
  };
  for (const kind of ['SeccompProfile', 'SelinuxProfile'] as const) {
    const field = FIELD[kind];
    const ofKind = bindings.filter((b) => kindOf(b) === kind);
    for (const { list, index, c } of containersOf(inp.pod)) {
      const b = ofKind.find((x) => imageMatches(x, c.image));
      if (!b) continue;
      if (patch.containerField(list, index, field) !== undefined) continue; // the author's choice stays (SPO v1)
      const v = resolve(b);
      if (v === undefined) continue;
      patch.setContainerField(list, index, field, v);
      applied.add(b.metadata.name);
    }
    const star = ofKind.find((x) => x.spec.image === '*');
    if (star && patch.podField(field) === undefined) {
      const v = resolve(star);
      if (v !== undefined) {
        patch.setPodField(field, v);
        applied.add(star.metadata.name);
      }
    }
  }
  if (applied.size) patch.setAnnotation(ANNOTATION_PROFILE_BINDINGS, [...applied].sort().join(','));
  return { ops: patch.ops(), events, warnings };
}

/**
 * auditflow's ClusterProfileBinding, in every namespace its `exclude` does not list: per container, the oldest
 * cluster binding for its image, else the oldest `*` one, sets the profile in the container's securityContext.
 * It never overrides: not a profile the container or the pod already has (the author's, or a namespaced
 * binding's), and not where a ProfileBinding of an opted-in namespace covers the container (same kind, its
 * image or `*`), whatever order the apiserver calls the webhooks in. So a namespaced binding wins.
 */
export function clusterBindingMutation(inp: BindingInput): Mutation {
  const patch = new PodPatch(inp.pod);
  const events: EventNote[] = [];
  const warnings: string[] = [];
  const applied = new Set<string>();
  if (inp.pod.spec?.os?.name === 'windows') return { ops: [], events, warnings };
  const name = podName(inp.pod, inp.reqName);
  const cluster = inp.clusterBindings.filter((b) => kindOf(b) && !(b.spec.exclude ?? []).includes(inp.namespace)).sort(byAge);
  const local = inp.bindingEnabled ? inp.bindings.filter((b) => kindOf(b)) : [];
  const skipped = new Set<string>();
  for (const kind of ['SeccompProfile', 'SelinuxProfile'] as const) {
    const field = FIELD[kind];
    const ofKind = cluster.filter((b) => kindOf(b) === kind);
    if (!ofKind.length) continue;
    const localOfKind = local.filter((b) => kindOf(b) === kind);
    const podHas = patch.podField(field) !== undefined || localOfKind.some((b) => b.spec.image === '*');
    for (const { list, index, c } of containersOf(inp.pod)) {
      if (podHas || patch.containerField(list, index, field) !== undefined) continue;
      if (localOfKind.some((b) => imageMatches(b, c.image))) continue;
      const b = ofKind.find((x) => imageMatches(x, c.image)) ?? ofKind.find((x) => x.spec.image === '*');
      if (!b) continue;
      const v = valueFor(b, inp.profiles);
      if ('skip' in v) {
        if (!skipped.has(b.metadata.name)) {
          skipped.add(b.metadata.name);
          events.push({ regarding: ref(b), type: 'Warning', reason: v.reason, message: `not applied to pod ${str(name)} in namespace ${str(inp.namespace)}: ${v.skip}` });
        }
        continue;
      }
      if (v.warning && !warnings.includes(v.warning)) warnings.push(v.warning);
      patch.setContainerField(list, index, field, v.value);
      applied.add(b.metadata.name);
    }
  }
  if (applied.size) patch.setAnnotation(ANNOTATION_CLUSTER_PROFILE_BINDINGS, [...applied].sort().join(','));
  return { ops: patch.ops(), events, warnings };
}
