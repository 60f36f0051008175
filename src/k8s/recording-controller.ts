// The recording controller (runs in the aggregator): watches ProfileRecordings and offers them as the
// aggregator's RecordingSource, and is the aggregator's ProfileSink: recorded profiles become
// SeccompProfile / SelinuxProfile resources (server-side apply, field manager "auditflow"), and the
// recording's status says what was written.
//
// As in SPO, recorded profiles outlive their recording: deleting a ProfileRecording is how a recording ends.
// Profiles are linked to it by the labels spo.x-k8s.io/recording-id and spo.x-k8s.io/recording-namespace (a
// cluster-scoped profile cannot have a namespaced owner). The finalizer spo.x-k8s.io/recording-cleanup holds
// the deleted recording until, for mergeStrategy Containers, its partial profiles (label spo.x-k8s.io/partial,
// e.g. per-replica profiles SPO's recorder wrote) are merged per container into <recording>-<container> and
// removed, as SPO's recording merger does; auditflow itself merges as it goes, so its own profiles are final
// already. Nothing else is deleted.
//
// A spec auditflow cannot record (recorder Bpf, kind AppArmorProfile, ...) is accepted by the CRD as SPO's is;
// the recording's Ready condition says why nothing will be recorded.

import { Counter } from 'prom-client';
import type { Logger } from '../log';
import { registry } from '../metrics';
import { referenceError } from '../oci/reference';
import { invalidProfileName } from '../profile/names';
import { type ProfileSink, type RecordedProfile, type RecordingSource, type RecordingSpec, recordingNameError } from '../profile/recording';
import { ANNOTATION_COVERAGE } from '../profile/seccomp';
import { ANNOTATION_BASE_PROFILE_NAME, API_VERSION, FINALIZER_RECORDING, LABEL_CONTAINER_ID, LABEL_PARTIAL, LABEL_RECORDING_ID, LABEL_RECORDING_NAMESPACE, type Condition, type ProfileRecording, type SeccompProfile, type SelinuxProfile } from './api';
import { ApiError, isConflict, isNotFound, KubeClient } from './client';
import { sameConditions, setCondition } from './conditions';
import { Informer, type KObject } from './informer';
import { PROFILE_RECORDINGS, resourcePath, SECCOMP_PROFILES, SELINUX_PROFILES, type ResourceType } from './resources';
import { WorkQueue } from './workqueue';

export const RECORDING_FIELD_MANAGER = 'auditflow';

const profileWrites = new Counter({
  name: 'auditflow_k8s_profile_writes_total',
  help:
    'Recorded profiles written to the API by kind and result (applied; no-recording: its ProfileRecording is gone or ' +
    'being deleted; invalid: bad name or no namespace; conflict: the name belongs to something else; error: API failure, retried by the caller)',
  labelNames: ['kind', 'result'] as const,
  registers: [registry],
});
const merges = new Counter({
  name: 'auditflow_k8s_recording_merges_total',
  help: 'Partial profiles merged (and then deleted) because their ProfileRecording (mergeStrategy Containers) was deleted',
  labelNames: ['kind'] as const,
  registers: [registry],
});

const TYPES: Record<string, ResourceType> = { SeccompProfile: SECCOMP_PROFILES, SelinuxProfile: SELINUX_PROFILES };
const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);

type Recording = ProfileRecording & KObject;
type PObj = KObject & { metadata: { labels?: Record<string, string> }; spec?: Record<string, unknown> };

/** The RecordingSpec of a ProfileRecording, or why it cannot be used (`reason`: the Ready condition's). */
export function recordingSpecOf(r: ProfileRecording): { spec: RecordingSpec } | { error: string; reason: string } {
  const name = r.metadata.name;
  const badName = recordingNameError(name);
  if (badName) return { reason: 'InvalidName', error: `${badName}: nothing will be recorded` };
  const s = r.spec ?? ({} as ProfileRecording['spec']);
  // v1 spells the enums Logs/Containers, SPO's v1alpha1 logs/containers: both are SPO's.
  if ((s.recorder as string) === 'Bpf' || (s.recorder as string) === 'bpf') {
    return { reason: 'UnsupportedRecorder', error: 'recorder Bpf is not supported: auditflow records from the audit log only (recorder: Logs); nothing will be recorded' };
  }
  if (s.recorder !== 'Logs' && (s.recorder as string) !== 'logs') return { reason: 'UnsupportedRecorder', error: `recorder "${String(s.recorder)}" is not supported: auditflow records from the audit log (recorder: Logs); nothing will be recorded` };
  if (s.kind !== 'SeccompProfile' && s.kind !== 'SelinuxProfile') {
    return { reason: 'UnsupportedKind', error: `kind "${String(s.kind)}" is not recorded by the recording controller (SeccompProfile and SelinuxProfile are; AppArmorProfile: \`auditflow profile --format apparmorprofile\`); nothing will be recorded` };
  }
  if (!s.podSelector || typeof s.podSelector !== 'object') return { reason: 'InvalidSelector', error: 'podSelector is required' };
  for (const e of s.podSelector.matchExpressions ?? []) {
    if (!OPERATORS.has(e.operator)) return { reason: 'InvalidSelector', error: `podSelector: unknown operator "${e.operator}": nothing will be recorded` };
    if ((e.operator === 'In' || e.operator === 'NotIn') && !(e.values ?? []).length) return { reason: 'InvalidSelector', error: `podSelector: ${e.key} ${e.operator} needs values: nothing will be recorded` };
    if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && (e.values ?? []).length) return { reason: 'InvalidSelector', error: `podSelector: ${e.key} ${e.operator} takes no values: nothing will be recorded` };
  }
  const spec: RecordingSpec = {
    name,
    namespace: r.metadata.namespace ?? null,
    kind: s.kind,
    podSelector: s.podSelector,
    mergeStrategy: s.mergeStrategy === 'Containers' || (s.mergeStrategy as string) === 'containers' ? 'containers' : 'none',
  };
  if (s.containers?.length) spec.containers = [...s.containers];
  const base = r.metadata.annotations?.[ANNOTATION_BASE_PROFILE_NAME];
  if (base !== undefined) {
    const bad = s.kind !== 'SeccompProfile' ? `it is for SeccompProfile recordings, this one records ${s.kind}` : baseNameProblem(base);
    if (bad) return { reason: 'InvalidBaseProfileName', error: `annotation ${ANNOTATION_BASE_PROFILE_NAME} "${base.slice(0, 300)}": ${bad}; nothing will be recorded` };
    spec.baseProfileName = base;
  }
  return { spec };
}

/** Why `name` cannot name a base: a SeccompProfile name or an oci:// reference (as src/recording/base.ts baseNameError, a module of this layer). */
const baseNameProblem = (name: string): string | undefined => (name.startsWith('oci://') ? referenceError(name) : invalidProfileName(name));

export interface RecordingControllerOptions {
  /** Default: $KUBECONFIG, in-cluster, ~/.kube/config. */
  kubeconfig?: string;
  log: Logger;
  /** An existing client (tests); otherwise one is made from `kubeconfig`. */
  client?: KubeClient;
}

export interface RecordingController {
  source: RecordingSource;
  sink: ProfileSink;
  /**
   * The cluster's SeccompProfile `name` (cluster-scoped, as the agent stacks them), for recordings whose base
   * names one; { error } when there is none. API failures are an error too: the profile is then written later.
   */
  seccompProfile(name: string): Promise<SeccompProfile | { error: string }>;
  stop(): Promise<void>;
}

export async function startRecordingController(opts: RecordingControllerOptions): Promise<RecordingController> {
  const c = new Controller(opts.client ?? KubeClient.load(opts.kubeconfig, RECORDING_FIELD_MANAGER), opts.log.child({ component: 'recording-controller' }), !opts.client);
  await c.start();
  return { source: c, sink: c, seccompProfile: (n) => c.seccompProfile(n), stop: () => c.stop() };
}

class Controller implements RecordingSource, ProfileSink {
  private readonly recordings: Informer<Recording>;
  private readonly queue: WorkQueue;
  private readonly listeners: (() => void)[] = [];
  private lastList = '';
  /** Per recording key, per profile name: the pods whose events fed its last non-final update. */
  private readonly active = new Map<string, Map<string, Set<string>>>();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly ownsClient: boolean,
  ) {
    this.recordings = new Informer(client, PROFILE_RECORDINGS, { log });
    this.queue = new WorkQueue('recording', (k) => this.reconcile(k), log);
    this.recordings.on((_t, r) => {
      this.queue.add(`${r.metadata.namespace}/${r.metadata.name}`);
      this.notifyIfChanged();
    });
  }

  async start(): Promise<void> {
    await this.recordings.start();
    this.log.info({ recordings: this.list().length }, 'recording controller started');
  }

  async stop(): Promise<void> {
    await this.recordings.stop();
    await this.queue.stop();
    if (this.ownsClient) this.client.close();
  }

  // -------------------------------------------------------------------------------------------
  // RecordingSource

  list(): RecordingSpec[] {
    const out: RecordingSpec[] = [];
    for (const r of this.recordings.list()) {
      if (r.metadata.deletionTimestamp) continue;
      const s = recordingSpecOf(r);
      if ('spec' in s) out.push(s.spec);
    }
    return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  }

  onChange(cb: () => void): void {
    this.listeners.push(cb);
  }

  private notifyIfChanged(): void {
    const now = JSON.stringify(this.list());
    if (now === this.lastList) return;
    this.lastList = now;
    for (const cb of this.listeners) {
      try {
        cb();
      } catch (e) {
        this.log.error({ err: e }, 'recording source listener failed');
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // ProfileRecording reconcile: finalizer, validity, cleanup

  private async reconcile(key: string): Promise<void> {
    const r = this.recordings.get(key);
    if (!r) {
      this.active.delete(key);
      return;
    }
    const { namespace, name } = r.metadata as { namespace: string; name: string };
    const path = resourcePath(PROFILE_RECORDINGS, { namespace, name });
    const finalizers = r.metadata.finalizers ?? [];
    if (r.metadata.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER_RECORDING)) return;
      // The recording ends here; its profiles stay (SPO). Partial ones are merged as SPO's merger does.
      const merged = isContainersMerge(r) ? await this.mergePartialProfiles(r) : 0;
      this.active.delete(key);
      try {
        await this.client.mergePatch(path, { metadata: { resourceVersion: r.metadata.resourceVersion, finalizers: finalizers.filter((f) => f !== FINALIZER_RECORDING) } });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      this.log.info({ recording: key, partialProfilesMerged: merged }, 'recording deleted: its profiles are kept');
      return;
    }
    if (!finalizers.includes(FINALIZER_RECORDING)) {
      await this.client.mergePatch(path, { metadata: { resourceVersion: r.metadata.resourceVersion, finalizers: [...finalizers, FINALIZER_RECORDING] } });
      return; // the update event brings us back with the new resourceVersion
    }
    const s = recordingSpecOf(r);
    const ready: Omit<Condition, 'lastTransitionTime'> =
      'spec' in s
        ? { type: 'Ready', status: 'True', reason: 'Recording', message: `recording ${s.spec.kind} for pods in ${namespace} matching the pod selector` }
        : { type: 'Ready', status: 'False', reason: s.reason, message: s.error };
    if ('error' in s) this.log.warn({ recording: key, reason: s.error }, 'recording is invalid: ignored');
    const want = setCondition(r.status?.conditions, ready);
    if (sameConditions(r.status?.conditions, want)) return;
    await this.updateStatus(namespace, name, (st) => ({ ...st, conditions: setCondition(st.conditions, ready) }));
    // A Warning event as well, as SPO reports: with SPO's own CRD the status has no conditions (pruned).
    if ('error' in s) await this.warn(r, s.reason, s.error);
  }

  private async warn(r: Recording, reason: string, message: string): Promise<void> {
    const { namespace, name, uid } = r.metadata as { namespace: string; name: string; uid?: string };
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await this.client
      .create(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${name}.`, namespace },
        involvedObject: { apiVersion: API_VERSION, kind: 'ProfileRecording', name, namespace, ...(uid ? { uid } : {}) },
        reason,
        message: message.slice(0, 1024),
        type: 'Warning',
        source: { component: 'auditflow-recording-controller' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      })
      .catch((e: Error) => this.log.warn({ err: e.message }, 'cannot create event'));
  }

  /**
   * SPO's recording merger, for mergeStrategy Containers: the recording's profiles labelled
   * spo.x-k8s.io/partial=true are grouped by their spo.x-k8s.io/container-id label, unioned (seccomp: syscalls
   * per action; SELinux: allow rules) into <recording>-<container> together with what that profile already holds
   * (so nothing a user kept or added there is lost), and then deleted. Profiles without the partial label are
   * never touched. Returns how many partial profiles were merged.
   */
  private async mergePartialProfiles(r: Recording): Promise<number> {
    const { namespace, name } = r.metadata as { namespace: string; name: string };
    const kind = r.spec.kind;
    const t = TYPES[kind];
    if (!t) return 0;
    const labelSelector = `${LABEL_RECORDING_ID}=${name},${LABEL_RECORDING_NAMESPACE}=${namespace},${LABEL_PARTIAL}=true`;
    const list = await this.client.get<{ items: PObj[] }>(resourcePath(t), { labelSelector });
    const byContainer = new Map<string, PObj[]>();
    for (const p of list.items ?? []) {
      const c = p.metadata.labels?.[LABEL_CONTAINER_ID];
      if (!c) continue; // as SPO: a partial profile without a container is left alone
      byContainer.set(c, [...(byContainer.get(c) ?? []), p]);
    }
    let merged = 0;
    for (const [container, parts] of [...byContainer].sort(([a], [b]) => a.localeCompare(b))) {
      const target = `${name}-${container}`;
      const existing = await this.client.get<PObj>(resourcePath(t, { name: target })).catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      const sources = [...(existing ? [existing] : []), ...parts.filter((p) => p.metadata.name !== target)];
      const spec = kind === 'SeccompProfile' ? mergeSeccompSpecs(sources.map((p) => p.spec as SeccompProfile['spec'])) : mergeSelinuxSpecs(sources.map((p) => p.spec as SelinuxProfile['spec']));
      await this.client.apply(resourcePath(t, { name: target }), {
        apiVersion: API_VERSION,
        kind,
        metadata: { name: target, labels: { [LABEL_RECORDING_ID]: name, [LABEL_RECORDING_NAMESPACE]: namespace, [LABEL_CONTAINER_ID]: container } },
        spec,
      });
      for (const p of parts) {
        if (p.metadata.name === target) continue;
        try {
          await this.client.delete(resourcePath(t, { name: p.metadata.name }));
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        merges.inc({ kind });
        merged++;
      }
    }
    return merged;
  }

  /** Read-modify-write of the recording's status, resourceVersion-checked, retried on conflicts. */
  private async updateStatus(namespace: string, name: string, mutate: (s: NonNullable<ProfileRecording['status']>) => NonNullable<ProfileRecording['status']>): Promise<void> {
    const path = resourcePath(PROFILE_RECORDINGS, { namespace, name });
    for (let attempt = 0; ; attempt++) {
      const cur = await this.client.get<ProfileRecording>(path);
      const next = { ...cur, status: mutate({ ...(cur.status ?? {}) }) };
      try {
        await this.client.replace(`${path}/status`, next);
        return;
      } catch (e) {
        if (!isConflict(e) || attempt >= 8) throw e;
      }
    }
  }

  async seccompProfile(name: string): Promise<SeccompProfile | { error: string }> {
    const bad = invalidProfileName(name);
    if (bad) return { error: bad };
    try {
      return await this.client.get<SeccompProfile>(resourcePath(SECCOMP_PROFILES, { name }));
    } catch (e) {
      return { error: isNotFound(e) ? 'no such SeccompProfile in the cluster' : `reading the SeccompProfile: ${(e as Error).message}` };
    }
  }

  // -------------------------------------------------------------------------------------------
  // ProfileSink

  /**
   * Applies the profile and records it in the recording's status. Problems retrying cannot fix (unknown
   * or deleted recording, invalid name, a name owned by something else) are counted, logged, noted in the
   * recording's status and not thrown; API failures are thrown so the caller retries.
   */
  async write(p: RecordedProfile): Promise<void> {
    const kind = p.kind;
    const t = TYPES[kind]!;
    const ns = p.recording.namespace;
    const log = this.log.child({ recording: `${ns ?? '-'}/${p.recording.name}`, profile: p.name, kind });
    if (!ns) {
      profileWrites.inc({ kind, result: 'invalid' });
      log.error('recorded profile has no recording namespace: not written to the API');
      return;
    }
    const key = `${ns}/${p.recording.name}`;
    const rec = this.recordings.get(key);
    if (!rec || rec.metadata.deletionTimestamp) {
      profileWrites.inc({ kind, result: 'no-recording' });
      log.warn(rec ? 'recording is being deleted: profile not written' : 'no such ProfileRecording: profile not written');
      return;
    }
    const bad = invalidProfileName(p.name);
    if (bad) {
      profileWrites.inc({ kind, result: 'invalid' });
      log.error({ reason: bad }, 'invalid profile name: not written');
      await this.noteSync(ns, p.recording.name, false, 'InvalidName', `profile "${p.name.slice(0, 300)}": ${bad}`);
      return;
    }
    const path = resourcePath(t, { name: p.name });
    const labels: Record<string, string> = {
      ...(p.resource.metadata.labels ?? {}),
      [LABEL_RECORDING_ID]: p.recording.name,
      [LABEL_RECORDING_NAMESPACE]: ns,
      [LABEL_CONTAINER_ID]: p.containerName,
    };
    try {
      const existing = await this.client.get<KObject & { metadata: { labels?: Record<string, string> } }>(path).catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      const owner = existing?.metadata.labels ?? {};
      if (existing && (owner[LABEL_RECORDING_ID] !== p.recording.name || owner[LABEL_RECORDING_NAMESPACE] !== ns)) {
        profileWrites.inc({ kind, result: 'conflict' });
        const msg = `${kind} "${p.name}" exists and belongs to ${owner[LABEL_RECORDING_ID] ? `recording ${owner[LABEL_RECORDING_NAMESPACE]}/${owner[LABEL_RECORDING_ID]}` : 'no recording'}: not overwritten`;
        log.error(msg);
        await this.noteSync(ns, p.recording.name, false, 'NameTaken', msg);
        return;
      }
      const body = {
        apiVersion: API_VERSION,
        kind,
        metadata: { name: p.name, labels, ...(p.resource.metadata.annotations ? { annotations: p.resource.metadata.annotations } : {}) },
        // As SPO: disableProfileAfterRecording writes the recorded profiles with state Disabled (not installed on
        // nodes). Otherwise state is left out: the CRD defaults it to Enabled, and a state a user set stays theirs.
        spec: rec.spec.disableProfileAfterRecording ? { ...p.resource.spec, state: 'Disabled' } : p.resource.spec,
      };
      await this.client.apply(path, body);
    } catch (e) {
      profileWrites.inc({ kind, result: 'error' });
      throw e instanceof ApiError ? e : new ApiError(0, 'Error', (e as Error).message, { cause: e });
    }
    profileWrites.inc({ kind, result: 'applied' });

    let byProfile = this.active.get(key);
    if (!byProfile) this.active.set(key, (byProfile = new Map()));
    if (p.final) byProfile.delete(p.name);
    else byProfile.set(p.name, new Set(Object.values(p.evidence).flatMap((e) => (e.pod ? [`${e.namespace ?? ns}/${e.pod}`] : []))));
    const workloads = [...new Set([...byProfile.values()].flatMap((s) => [...s]))].sort();
    const size = kind === 'SeccompProfile' ? coverageTotal(p) : Object.keys(p.evidence).length;
    log.info({ final: p.final, workloads: workloads.length }, 'profile written');
    await this.updateStatus(ns, p.recording.name, (st) => ({
      ...st,
      profiles: [...new Set([...(st.profiles ?? []), p.name])].sort(),
      activeWorkloads: workloads,
      conditions: setCondition(st.conditions, {
        type: 'Synced',
        status: 'True',
        reason: p.final ? 'ProfileFinalized' : 'ProfileUpdated',
        message: `${kind} ${p.name} written${size !== undefined ? ` (${size} observations)` : ''}`,
      }),
    }));
  }

  /** A profile not written (its base cannot be resolved): the recording's Synced condition says why. */
  async notWritten(rec: RecordingSpec, reason: string, message: string): Promise<void> {
    if (!rec.namespace || !this.recordings.get(`${rec.namespace}/${rec.name}`)) return;
    await this.noteSync(rec.namespace, rec.name, false, reason, message);
  }

  private async noteSync(namespace: string, name: string, ok: boolean, reason: string, message: string): Promise<void> {
    await this.updateStatus(namespace, name, (st) => ({
      ...st,
      conditions: setCondition(st.conditions, { type: 'Synced', status: ok ? 'True' : 'False', reason, message: message.slice(0, 1024) }),
    })).catch((e: Error) => this.log.warn({ err: e.message }, 'cannot update recording status'));
  }
}

function coverageTotal(p: RecordedProfile): number | undefined {
  const c = p.resource.metadata.annotations?.[ANNOTATION_COVERAGE];
  if (!c) return undefined;
  try {
    return (JSON.parse(c) as { total?: number }).total;
  } catch {
    return undefined;
  }
}

function isContainersMerge(r: ProfileRecording): boolean {
  const m = r.spec?.mergeStrategy as string | undefined;
  return m === 'Containers' || m === 'containers';
}

/** SPO's util.UnionSyscalls: names unioned per action; everything else from the first spec. */
export function mergeSeccompSpecs(specs: SeccompProfile['spec'][]): SeccompProfile['spec'] {
  const base = { ...specs[0]! };
  const byAction = new Map<string, Set<string>>();
  for (const s of specs) for (const r of s.syscalls ?? []) {
    if (r.args?.length || r.errnoRet !== undefined) continue; // rules with arguments are kept as they are below
    const set = byAction.get(r.action) ?? new Set<string>();
    for (const n of r.names) set.add(n);
    byAction.set(r.action, set);
  }
  const special = specs.flatMap((s) => (s.syscalls ?? []).filter((r) => r.args?.length || r.errnoRet !== undefined));
  const seen = new Set<string>();
  const kept = special.filter((r) => {
    const k = JSON.stringify(r);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  base.syscalls = [...[...byAction].sort(([a], [b]) => a.localeCompare(b)).map(([action, names]) => ({ action, names: [...names].sort() })), ...kept];
  const arch = new Set(specs.flatMap((s) => s.architectures ?? []));
  if (arch.size) base.architectures = [...arch].sort();
  return base;
}

/** SPO's addAllow: allow rules unioned; everything else from the first spec. */
export function mergeSelinuxSpecs(specs: SelinuxProfile['spec'][]): SelinuxProfile['spec'] {
  const base = { ...specs[0]! };
  const allow: Record<string, Record<string, string[]>> = {};
  for (const s of specs) {
    for (const [tgt, classes] of Object.entries(s.allow ?? {})) {
      const t = (allow[tgt] ??= {});
      for (const [cls, perms] of Object.entries(classes)) t[cls] = [...new Set([...(t[cls] ?? []), ...perms])].sort();
    }
  }
  base.allow = allow;
  return base;
}
