// The recording controller against the real kube-apiserver, as the aggregator's own service account
// (deploy/'s RBAC and admission policy): ProfileRecording → RecordingSource; schema-v1 events from real audit
// records, carrying pod labels, selected by the recording's podSelector in a tiny in-test aggregation; the
// sink writes the SeccompProfile (labels linking it to the recording: cluster-scoped profiles cannot have an
// owner reference to a namespaced recording) and the recording's status; as in SPO, deleting the recording
// keeps its profiles and merges its partial ones (mergeStrategy Containers); disableProfileAfterRecording
// writes state Disabled; a Bpf recording is accepted and says why nothing is recorded.
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isRecord, parseLine } from '../../parsers';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { API_VERSION, FINALIZER_RECORDING, LABEL_CONTAINER_ID, LABEL_PARTIAL, LABEL_RECORDING_ID, LABEL_RECORDING_NAMESPACE, type ProfileRecording, type SeccompProfile } from '../../src/k8s/api';
import type { KubeClient } from '../../src/k8s/client';
import { startRecordingController, type RecordingController } from '../../src/k8s/recording-controller';
import { PROFILE_RECORDINGS, resourcePath, SECCOMP_PROFILES } from '../../src/k8s/resources';
import { createLogger } from '../../src/log';
import { registry } from '../../src/metrics';
import type { Evidence, RecordedProfile, RecordingSpec } from '../../src/profile/recording';
import { ANNOTATION_COVERAGE, SeccompProfileBuilder } from '../../src/profile/seccomp';
import { matchesSelector } from '../../src/profile/selector';
import { clientAs, ensureDeployed, ensureNamespace, eventually, getOrUndefined, uniqueName } from '../env/k8s-setup';
import { ROOT } from '../env/cli';

const NS = 'auditflow-rec-test';
const OTHER_NS = 'auditflow-rec-other';
const REC = uniqueName('demo');
const recPath = resourcePath(PROFILE_RECORDINGS, { namespace: NS, name: REC });
const profilePath = (name: string) => resourcePath(SECCOMP_PROFILES, { name });

let admin: KubeClient;
let aggregator: KubeClient;
let ctl: RecordingController | undefined;
let changes = 0;
const extraProfiles: string[] = [];

/**
 * Real SECCOMP records (fixtures/real) as schema-v1 events, given to three pods by process name: the selected
 * pod (app=demo in NS), a pod with other labels in NS, and a pod labelled app=demo in another namespace.
 */
function fixtureEvents(): EventV1[] {
  const web = new Set(['sh', 'curl', 'runc:[2:INIT]', 'ls']);
  const elsewhere = new Set(['virtiofsd', 'AsyncLocalStore']);
  const out: EventV1[] = [];
  for (const f of ['seccomp-syslog.log', 'seccomp-auditd.log']) {
    const file = path.join(ROOT, 'fixtures', 'real', f);
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const r = line ? parseLine(line) : undefined;
      if (!r || !isRecord(r) || !r.seccomp || !r.syscall) continue;
      const ev = eventFromRecord(r, { node: 'n1', file, raw: false });
      const comm = ev.comm ?? '';
      const [pod, ns, labels] = web.has(comm)
        ? ['web-7d9f8-abcde', NS, { app: 'demo', tier: 'front' }]
        : elsewhere.has(comm)
          ? ['web-0', OTHER_NS, { app: 'demo' }]
          : ['db-0', NS, { app: 'other' }];
      ev.pod = { name: pod, namespace: ns, uid: `uid-${pod}`, labels };
      ev.container = { id: `cid-${pod}`, name: 'web', runtime: 'containerd', image: 'busybox' };
      ev.enrichment = 'resolved';
      delete ev.enrichmentError;
      out.push(ev);
    }
  }
  return out;
}

/** The in-test aggregation: what the aggregator does with a recording (mergeStrategy Containers). */
function aggregate(spec: RecordingSpec, events: EventV1[], final: boolean): RecordedProfile[] {
  const builders = new Map<string, { b: SeccompProfileBuilder; evidence: Record<string, Evidence> }>();
  for (const ev of events) {
    if (!ev.pod || !ev.container?.name || ev.pod.namespace !== spec.namespace) continue;
    if (!matchesSelector(spec.podSelector, ev.pod.labels)) continue;
    if (spec.containers && !spec.containers.includes(ev.container.name)) continue;
    let e = builders.get(ev.container.name);
    if (!e) builders.set(ev.container.name, (e = { b: new SeccompProfileBuilder(), evidence: {} }));
    e.b.add(ev.arch ?? undefined, ev.syscall ?? undefined, ev.syscallNr);
    if (ev.syscall) {
      const prev = e.evidence[ev.syscall];
      e.evidence[ev.syscall] = prev
        ? { ...prev, lastSeen: ev.timestamp, count: prev.count + 1 }
        : { firstSeen: ev.timestamp, lastSeen: ev.timestamp, count: 1, exe: ev.exe, pod: ev.pod.name, namespace: ev.pod.namespace };
    }
  }
  return [...builders].map(([container, { b, evidence }]) => {
    const name = `${spec.name}-${container}`;
    return { recording: spec, name, containerName: container, kind: 'SeccompProfile', resource: b.toResource({ name }), oci: { ...b.toOci() }, evidence, final };
  });
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  assert.ok(m, `metric ${name} is registered`);
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

const getRec = () => getOrUndefined<ProfileRecording>(admin, recPath);

before(async () => {
  const env = await ensureDeployed();
  admin = clientAs(env, 'admin');
  aggregator = clientAs(env, 'auditflow-aggregator', 'auditflow');
  await ensureNamespace(admin, NS);
  await ensureNamespace(admin, OTHER_NS);
  await admin.create(resourcePath(PROFILE_RECORDINGS, { namespace: NS }), {
    apiVersion: API_VERSION,
    kind: 'ProfileRecording',
    metadata: { name: REC, namespace: NS },
    spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'demo' } }, mergeStrategy: 'Containers' },
  });
  ctl = await startRecordingController({ log: createLogger('recording-test'), client: aggregator });
  ctl.source.onChange(() => changes++);
});

after(async () => {
  await ctl?.stop();
  if (admin) {
    const r = await getRec().catch(() => undefined);
    if (r) {
      await admin.mergePatch(recPath, { metadata: { finalizers: null } }).catch(() => undefined);
      await admin.delete(recPath).catch(() => undefined);
    }
    for (const n of [...extraProfiles, `${REC}-web`]) await admin.delete(profilePath(n)).catch(() => undefined);
    admin.close();
  }
  aggregator?.close();
});

describe('recording controller: round trip through the API', () => {
  it('offers the ProfileRecording as a RecordingSpec (namespace set), with its cleanup finalizer and Ready condition', async () => {
    const spec = await eventually('recording in the source', () => ctl!.source.list().find((s) => s.name === REC));
    assert.deepEqual(spec, { name: REC, namespace: NS, kind: 'SeccompProfile', podSelector: { matchLabels: { app: 'demo' } }, mergeStrategy: 'containers' });
    const r = await eventually('finalizer and Ready', async () => {
      const r = await getRec();
      return r?.metadata.finalizers?.includes(FINALIZER_RECORDING) && r.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True') ? r : undefined;
    });
    assert.equal(r.status!.conditions!.find((c) => c.type === 'Ready')!.reason, 'Recording');
  });

  it('writes the SeccompProfile of the selected pod only, with the SPO labels, and records it in the status', async () => {
    const spec = ctl!.source.list().find((s) => s.name === REC)!;
    const events = fixtureEvents();
    const profiles = aggregate(spec, events, false);
    assert.equal(profiles.length, 1, 'one container (web) in the selected pod');
    const p = profiles[0]!;
    for (const x of profiles) await ctl!.sink.write(x);

    // What the profile must hold, computed from the events directly: the selected pod's syscalls, and
    // none of those only the unselected pods made.
    const selected = new Set(events.filter((e) => e.pod!.namespace === NS && e.pod!.labels.app === 'demo').map((e) => e.syscall!));
    const notSelected = new Set(events.map((e) => e.syscall!).filter((s) => !selected.has(s)));
    assert.ok(notSelected.size >= 5, `the fixture gives the unselected pods syscalls of their own (${[...notSelected].join(', ')})`);

    const sp = await admin.get<SeccompProfile>(profilePath(p.name));
    assert.equal(sp.metadata.name, `${REC}-web`);
    assert.deepEqual(sp.spec.syscalls, [{ action: 'SCMP_ACT_ALLOW', names: [...selected].sort() }]);
    for (const s of notSelected) assert.ok(!sp.spec.syscalls![0]!.names.includes(s), `${s} comes from an unselected pod`);
    assert.equal(sp.spec.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(sp.spec.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.equal(sp.metadata.labels?.[LABEL_RECORDING_ID], REC);
    assert.equal(sp.metadata.labels?.[LABEL_RECORDING_NAMESPACE], NS);
    assert.equal(sp.metadata.labels?.[LABEL_CONTAINER_ID], 'web');
    assert.equal(sp.metadata.ownerReferences, undefined, 'cluster-scoped: linked by labels, not an owner reference');
    const coverage = JSON.parse(sp.metadata.annotations![ANNOTATION_COVERAGE]!) as { total: number; syscalls: Record<string, number> };
    assert.equal(coverage.total, events.filter((e) => e.pod!.namespace === NS && e.pod!.labels.app === 'demo').length);

    const r = await getRec();
    assert.deepEqual(r!.status!.profiles, [p.name]);
    assert.deepEqual(r!.status!.activeWorkloads, [`${NS}/web-7d9f8-abcde`]);
    const synced = r!.status!.conditions!.find((c) => c.type === 'Synced')!;
    assert.equal(synced.status, 'True');
    assert.equal(synced.reason, 'ProfileUpdated');
  });

  it('updates idempotently: the same profile again changes nothing, the final one clears activeWorkloads', async () => {
    const spec = ctl!.source.list().find((s) => s.name === REC)!;
    const p = aggregate(spec, fixtureEvents(), false)[0]!;
    const rv = (await admin.get<SeccompProfile>(profilePath(p.name))).metadata.resourceVersion;
    await ctl!.sink.write(p);
    assert.equal((await admin.get<SeccompProfile>(profilePath(p.name))).metadata.resourceVersion, rv, 'server-side apply of the same content is a no-op');
    await ctl!.sink.write({ ...p, final: true });
    const r = await getRec();
    assert.deepEqual(r!.status!.activeWorkloads, []);
    assert.equal(r!.status!.conditions!.find((c) => c.type === 'Synced')!.reason, 'ProfileFinalized');
    assert.deepEqual(r!.status!.profiles, [p.name]);
  });

  it('never overwrites a profile that belongs to something else, and reports it on the recording', async () => {
    const spec = ctl!.source.list().find((s) => s.name === REC)!;
    const taken = `${REC}-taken`;
    extraProfiles.push(taken);
    await admin.create(resourcePath(SECCOMP_PROFILES), { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name: taken }, spec: { defaultAction: 'SCMP_ACT_LOG' } });
    const before = await metric('auditflow_k8s_profile_writes_total', { kind: 'SeccompProfile', result: 'conflict' });
    const p = aggregate(spec, fixtureEvents(), false)[0]!;
    await ctl!.sink.write({ ...p, name: taken, resource: { ...p.resource, metadata: { ...p.resource.metadata, name: taken } } });
    const sp = await admin.get<SeccompProfile>(profilePath(taken));
    assert.equal(sp.spec.defaultAction, 'SCMP_ACT_LOG');
    assert.equal(sp.spec.syscalls, undefined);
    assert.equal(await metric('auditflow_k8s_profile_writes_total', { kind: 'SeccompProfile', result: 'conflict' }), before + 1);
    const synced = (await getRec())!.status!.conditions!.find((c) => c.type === 'Synced')!;
    assert.equal(synced.status, 'False');
    assert.equal(synced.reason, 'NameTaken');
  });

  it('drops (counted) a profile whose recording does not exist', async () => {
    const spec = ctl!.source.list().find((s) => s.name === REC)!;
    const ghost: RecordingSpec = { ...spec, name: uniqueName('ghost') };
    const before = await metric('auditflow_k8s_profile_writes_total', { kind: 'SeccompProfile', result: 'no-recording' });
    const p = aggregate(ghost, fixtureEvents(), false)[0]!;
    await ctl!.sink.write(p);
    assert.equal(await getOrUndefined(admin, profilePath(p.name)), undefined);
    assert.equal(await metric('auditflow_k8s_profile_writes_total', { kind: 'SeccompProfile', result: 'no-recording' }), before + 1);
  });

  it('disableProfileAfterRecording writes the profiles with spec.state Disabled (SPO)', async () => {
    const rec = uniqueName('dis');
    const p = resourcePath(PROFILE_RECORDINGS, { namespace: NS, name: rec });
    await admin.apply(p, { apiVersion: API_VERSION, kind: 'ProfileRecording', metadata: { name: rec, namespace: NS }, spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'demo' } }, mergeStrategy: 'Containers', disableProfileAfterRecording: true } });
    try {
      const spec = await eventually('recording in the source', () => ctl!.source.list().find((s) => s.name === rec));
      const prof = aggregate(spec, fixtureEvents(), false)[0]!;
      extraProfiles.push(prof.name);
      await ctl!.sink.write(prof);
      const sp = await admin.get<SeccompProfile>(profilePath(prof.name));
      assert.equal(sp.spec.state, 'Disabled');
      assert.equal((sp.spec as Record<string, unknown>).disabled, undefined, 'no invented field');
    } finally {
      await admin.delete(p).catch(() => undefined);
    }
  });

  it('a Bpf recording is accepted and its Ready condition says why nothing is recorded', async () => {
    const rec = uniqueName('bpf');
    const p = resourcePath(PROFILE_RECORDINGS, { namespace: NS, name: rec });
    await admin.apply(p, { apiVersion: API_VERSION, kind: 'ProfileRecording', metadata: { name: rec, namespace: NS }, spec: { kind: 'SeccompProfile', recorder: 'Bpf', podSelector: { matchLabels: { app: 'demo' } } } });
    try {
      const ready = await eventually('Ready=False UnsupportedRecorder', async () => (await getOrUndefined<ProfileRecording>(admin, p))?.status?.conditions?.find((c) => c.type === 'Ready' && c.reason === 'UnsupportedRecorder'));
      assert.equal(ready.status, 'False');
      assert.match(ready.message!, /recorder Bpf is not supported: auditflow records from the audit log only .*nothing will be recorded/);
      assert.ok(!ctl!.source.list().some((s) => s.name === rec), 'not offered to the aggregator');
      // and a Warning event, which SPO's own CRD (no status conditions) still shows: kubectl describe
      const ev = await eventually('Warning event on the recording', async () => {
        const list = await admin.get<{ items: { involvedObject: { name: string; kind: string }; reason: string; type: string; message: string }[] }>(`/api/v1/namespaces/${NS}/events`);
        return list.items.find((e) => e.involvedObject.kind === 'ProfileRecording' && e.involvedObject.name === rec);
      });
      assert.equal(ev.type, 'Warning');
      assert.equal(ev.reason, 'UnsupportedRecorder');
      assert.match(ev.message, /recorder Bpf is not supported/);
    } finally {
      await admin.delete(p).catch(() => undefined);
    }
  });

  it("deleting the recording keeps its profiles (SPO), merges its partial profiles per container and removes them, and leaves the source", async () => {
    // Partial per-replica profiles as SPO's recorder writes them (label spo.x-k8s.io/partial), next to
    // auditflow's merged-as-it-goes <rec>-web: on deletion they are unioned into <rec>-web, then removed.
    const labels = (c: string, partial: boolean) => ({ [LABEL_RECORDING_ID]: REC, [LABEL_RECORDING_NAMESPACE]: NS, [LABEL_CONTAINER_ID]: c, ...(partial ? { [LABEL_PARTIAL]: 'true' } : {}) });
    const put = async (name: string, l: Record<string, string>, names: string[]) => {
      extraProfiles.push(name);
      await admin.apply(profilePath(name), { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name, labels: l }, spec: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names }] } });
    };
    await put(`${REC}-web-aaaaa`, labels('web', true), ['zz_partial_one', 'read']);
    await put(`${REC}-web-bbbbb`, labels('web', true), ['zz_partial_two']);
    await put(`${REC}-side-ccccc`, labels('side', true), ['getpid']);
    await put(`${REC}-kept`, labels('web', false), ['write']);
    const webBefore = (await admin.get<SeccompProfile>(profilePath(`${REC}-web`))).spec.syscalls![0]!.names;

    const changesBefore = changes;
    await admin.delete(recPath);
    await eventually('recording gone (finalizer removed after the merge)', async () => (await getRec()) === undefined);
    const web = await admin.get<SeccompProfile>(profilePath(`${REC}-web`));
    assert.deepEqual(web.spec.syscalls, [{ action: 'SCMP_ACT_ALLOW', names: [...new Set([...webBefore, 'zz_partial_one', 'zz_partial_two', 'read'])].sort() }], 'recorded profile kept, partials merged in');
    const side = await admin.get<SeccompProfile>(profilePath(`${REC}-side`));
    assert.deepEqual(side.spec.syscalls, [{ action: 'SCMP_ACT_ALLOW', names: ['getpid'] }], 'a container with partials only gets its merged profile');
    assert.equal(side.metadata.labels?.[LABEL_PARTIAL], undefined);
    for (const n of [`${REC}-web-aaaaa`, `${REC}-web-bbbbb`, `${REC}-side-ccccc`]) assert.equal(await getOrUndefined(admin, profilePath(n)), undefined, `partial ${n} removed`);
    extraProfiles.push(`${REC}-side`);
    assert.ok(await getOrUndefined(admin, profilePath(`${REC}-kept`)), 'a non-partial profile of the recording is kept');
    assert.ok(await getOrUndefined(admin, profilePath(`${REC}-taken`)), 'a profile without its labels is not touched');
    await eventually('source no longer lists it', () => !ctl!.source.list().some((s) => s.name === REC));
    assert.ok(changes > changesBefore, 'onChange was called');
  });
});
