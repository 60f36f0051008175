// A ProfileRecording's base (issue 16) against the real kube-apiserver, as the aggregator's service account:
// SPO's ProfileRecording has no base field, so auditflow reads the annotation auditflow.dev/base-profile-name
// (an auditflow extension). A plain name is the cluster's SeccompProfile of that name (where the agent stacks
// the recorded profile), itself stacked on another; the SeccompProfile written through the API names the base
// and lists only what the stack does not allow. While the base does not exist nothing is written and the
// recording's Synced condition says why (BaseProfileUnresolved); the profile is written once the base exists. (test/oci/recording-k8s-base.test.ts: the same with an oci:// base.)
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { isRecord, parseLine } from '../../parsers';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { ANNOTATION_BASE_PROFILE_NAME, API_VERSION, type ProfileRecording, type SeccompProfile } from '../../src/k8s/api';
import type { KubeClient } from '../../src/k8s/client';
import { startRecordingController, type RecordingController } from '../../src/k8s/recording-controller';
import { PROFILE_RECORDINGS, resourcePath, SECCOMP_PROFILES } from '../../src/k8s/resources';
import { createLogger } from '../../src/log';
import { baseLookup } from '../../src/recording/base';
import { Recorder } from '../../src/recording/recorder';
import { clientAs, ensureDeployed, ensureNamespace, eventually, getOrUndefined, uniqueName } from '../env/k8s-setup';

const NS = 'auditflow-rec-base';
const REC = uniqueName('based');
const BASE = uniqueName('rec-base');
const ROOT_BASE = uniqueName('rec-root-base');
const recPath = resourcePath(PROFILE_RECORDINGS, { namespace: NS, name: REC });
const profilePath = (name: string) => resourcePath(SECCOMP_PROFILES, { name });

let admin: KubeClient;
let aggregator: KubeClient;
let ctl: RecordingController | undefined;

const NR: Record<string, number> = { read: 0, write: 1, socket: 41, exit_group: 231, openat: 257 };
let serial = 1;
function seccomp(name: string): EventV1 {
  const r = parseLine(`type=SECCOMP msg=audit(1795368921.${String(serial).padStart(3, '0')}:${serial++}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=7 comm="app" exe="/app" sig=0 arch=c000003e syscall=${NR[name]} compat=0 ip=0x1 code=0x7ffc0000`);
  assert.ok(isRecord(r));
  const ev = eventFromRecord(r, { node: 'n1', file: null, raw: false });
  ev.enrichment = 'resolved';
  ev.container = { id: 'e'.repeat(64), name: 'main', runtime: 'containerd', image: 'app' };
  ev.pod = { name: 'web-1', namespace: NS, uid: 'u1', labels: { app: 'based' } };
  return ev;
}

before(async () => {
  const env = await ensureDeployed();
  admin = clientAs(env, 'admin');
  aggregator = clientAs(env, 'auditflow-aggregator', 'auditflow');
  await ensureNamespace(admin, NS);
  await admin.create(resourcePath(PROFILE_RECORDINGS, { namespace: NS }), {
    apiVersion: API_VERSION,
    kind: 'ProfileRecording',
    metadata: { name: REC, namespace: NS, annotations: { [ANNOTATION_BASE_PROFILE_NAME]: BASE } },
    spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'based' } }, mergeStrategy: 'Containers' },
  });
  ctl = await startRecordingController({ log: createLogger('recording-base-test'), client: aggregator });
});

after(async () => {
  await ctl?.stop();
  if (admin) {
    await admin.mergePatch(recPath, { metadata: { finalizers: null } }).catch(() => undefined);
    await admin.delete(recPath).catch(() => undefined);
    for (const n of [`${REC}-main`, BASE, ROOT_BASE]) await admin.delete(profilePath(n)).catch(() => undefined);
    admin.close();
  }
  aggregator?.close();
});

describe(`ProfileRecording annotation ${ANNOTATION_BASE_PROFILE_NAME} naming a cluster SeccompProfile`, () => {
  it('nothing is written while the base is missing; once it exists, the profile names it and lists only the difference', async () => {
    const spec = await eventually('recording in the source', () => ctl!.source.list().find((s) => s.name === REC));
    assert.equal(spec.baseProfileName, BASE);
    const rec = new Recorder({ recordings: [spec], out: ctl!.sink, stateDir: null, log: pino({ level: 'silent' }), bases: baseLookup(ctl!.seccompProfile) });
    await rec.write(['read', 'write', 'openat', 'socket', 'exit_group'].map(seccomp));
    await rec.flush();
    assert.equal(await getOrUndefined(admin, profilePath(`${REC}-main`)), undefined, 'not written while its base does not exist');
    const synced = (await getOrUndefined<ProfileRecording>(admin, recPath))?.status?.conditions?.find((c) => c.type === 'Synced');
    assert.equal(synced?.status, 'False', JSON.stringify(synced));
    assert.equal(synced.reason, 'BaseProfileUnresolved');
    assert.match(synced.message ?? '', new RegExp(`${REC}-main: base profile "${BASE}": no such SeccompProfile in the cluster`));

    // the base appears, stacked on another (as the agent resolves them: by name, cluster-scoped)
    await admin.create(resourcePath(SECCOMP_PROFILES, {}), { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name: ROOT_BASE }, spec: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['exit_group'] }] } });
    await admin.create(resourcePath(SECCOMP_PROFILES, {}), { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name: BASE }, spec: { defaultAction: 'SCMP_ACT_ERRNO', baseProfileName: ROOT_BASE, syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read', 'write'] }] } });
    await rec.close();
    const sp = await eventually('the recorded profile', () => getOrUndefined<SeccompProfile>(admin, profilePath(`${REC}-main`)));
    assert.equal(sp.spec.baseProfileName, BASE);
    assert.deepEqual(sp.spec.syscalls, [{ action: 'SCMP_ACT_ALLOW', names: ['openat', 'socket'] }]);
    const syncedNow = (await getOrUndefined<ProfileRecording>(admin, recPath))?.status?.conditions?.find((c) => c.type === 'Synced');
    assert.equal(syncedNow?.status, 'True', JSON.stringify(syncedNow));
  });
});
