// A ProfileRecording from the cluster recorded on an oci:// base (issue 16), against the rig's kube-apiserver
// and registry. SPO's ProfileRecording has no base field: auditflow reads the annotation
// auditflow.dev/base-profile-name (an auditflow extension). The recording controller validates it and offers
// it to the recorder; the SeccompProfile written through the API names the base and lists only what the base,
// pulled from the registry and its signature verified, does not allow. A bad annotation makes the recording
// Ready False (InvalidBaseProfileName) and nothing is recorded for it.
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { isRecord, parseLine } from '../../parsers';
import { OciBases } from '../../src/agent/oci-base';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { ANNOTATION_BASE_PROFILE_NAME, API_VERSION, type ProfileRecording, type SeccompProfile } from '../../src/k8s/api';
import type { KubeClient } from '../../src/k8s/client';
import { startRecordingController, type RecordingController } from '../../src/k8s/recording-controller';
import { PROFILE_RECORDINGS, resourcePath, SECCOMP_PROFILES } from '../../src/k8s/resources';
import { createLogger } from '../../src/log';
import { loadPublicKey } from '../../src/oci/cosign';
import { baseLookup } from '../../src/recording/base';
import { Recorder } from '../../src/recording/recorder';
import { clientAs, ensureDeployed, ensureNamespace, eventually, getOrUndefined, uniqueName } from '../env/k8s-setup';
import type { RegistryEnv } from '../env/registry';
import { cli, keyPair, registry, regFlags, scratch, uniqueRepo } from './setup';

const NS = 'auditflow-oci-rec';
const REC = uniqueName('ocibase');
const BAD = uniqueName('ocibase-bad');
const recPath = (name: string) => resourcePath(PROFILE_RECORDINGS, { namespace: NS, name });

let reg: RegistryEnv;
let tmp: string;
let admin: KubeClient;
let aggregator: KubeClient;
let ctl: RecordingController | undefined;
let bases: OciBases;
let ref: string;

const NR: Record<string, number> = { read: 0, write: 1, socket: 41, exit_group: 231, openat: 257 };
let serial = 1;
function seccomp(name: string): EventV1 {
  const r = parseLine(`type=SECCOMP msg=audit(1795368920.${String(serial).padStart(3, '0')}:${serial++}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=7 comm="app" exe="/app" sig=0 arch=c000003e syscall=${NR[name]} compat=0 ip=0x1 code=0x7ffc0000`);
  assert.ok(isRecord(r));
  const ev = eventFromRecord(r, { node: 'n1', file: null, raw: false });
  ev.enrichment = 'resolved';
  ev.container = { id: 'd'.repeat(64), name: 'main', runtime: 'containerd', image: 'app' };
  ev.pod = { name: 'web-1', namespace: NS, uid: 'u1', labels: { app: 'ocibase' } };
  return ev;
}

async function createRecording(name: string, base: string): Promise<void> {
  await admin.create(resourcePath(PROFILE_RECORDINGS, { namespace: NS }), {
    apiVersion: API_VERSION,
    kind: 'ProfileRecording',
    metadata: { name, namespace: NS, annotations: { [ANNOTATION_BASE_PROFILE_NAME]: base } },
    spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'ocibase' } }, mergeStrategy: 'Containers' },
  });
}

before(async () => {
  reg = registry();
  tmp = scratch('k8s-base');
  const trusted = keyPair(tmp, 'trusted');
  const dockerConfig = path.join(tmp, 'config.json');
  fs.writeFileSync(dockerConfig, JSON.stringify({ auths: { [reg.address]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
  bases = new OciBases({ keys: [loadPublicKey(fs.readFileSync(trusted.pub))], ca: fs.readFileSync(reg.ca), dockerConfig, allowedRegistries: [reg.address] });
  const f = path.join(tmp, 'base.yaml');
  fs.writeFileSync(f, JSON.stringify({
    apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name: 'runtime-base' },
    spec: { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read', 'write', 'exit_group'] }] },
  }));
  const pushed = await cli(['push', ...regFlags(reg), '--sign-key', trusted.key, `${reg.address}/${uniqueRepo('k8s-base')}:v1`, f]);
  assert.equal(pushed.code, 0, pushed.stderr);
  ref = 'oci://' + /-> (\S+)\n/.exec(pushed.stdout.toString())![1]!;

  const env = await ensureDeployed();
  admin = clientAs(env, 'admin');
  aggregator = clientAs(env, 'auditflow-aggregator', 'auditflow');
  await ensureNamespace(admin, NS);
  await createRecording(REC, ref);
  await createRecording(BAD, 'oci://no-repository');
  ctl = await startRecordingController({ log: createLogger('recording-oci-base-test'), client: aggregator });
});

after(async () => {
  await ctl?.stop();
  if (admin) {
    for (const name of [REC, BAD]) {
      await admin.mergePatch(recPath(name), { metadata: { finalizers: null } }).catch(() => undefined);
      await admin.delete(recPath(name)).catch(() => undefined);
    }
    await admin.delete(resourcePath(SECCOMP_PROFILES, { name: `${REC}-main` })).catch(() => undefined);
    admin.close();
  }
  aggregator?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe(`ProfileRecording annotation ${ANNOTATION_BASE_PROFILE_NAME}`, () => {
  it('the recorded SeccompProfile in the API names the oci:// base and lists only what the base does not allow', async () => {
    const spec = await eventually('recording in the source', () => ctl!.source.list().find((s) => s.name === REC));
    assert.equal(spec.baseProfileName, ref);
    const rec = new Recorder({ recordings: [spec], out: ctl!.sink, stateDir: null, log: pino({ level: 'silent' }), bases: baseLookup(tmp, (r) => bases.fetch(r)) });
    await rec.write(['read', 'write', 'openat', 'socket', 'exit_group'].map(seccomp));
    await rec.close();
    const sp = await eventually('the recorded profile', () => getOrUndefined<SeccompProfile>(admin, resourcePath(SECCOMP_PROFILES, { name: `${REC}-main` })));
    assert.equal(sp.spec.baseProfileName, ref);
    assert.deepEqual(sp.spec.syscalls, [{ action: 'SCMP_ACT_ALLOW', names: ['openat', 'socket'] }]);
  });

  it('an annotation that names no base makes the recording Ready False (InvalidBaseProfileName), and it is not offered', async () => {
    const r = await eventually('Ready False', async () => {
      const r = await getOrUndefined<ProfileRecording>(admin, recPath(BAD));
      return r?.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False') ? r : undefined;
    });
    const ready = r.status!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.reason, 'InvalidBaseProfileName');
    assert.match(ready.message ?? '', /auditflow\.dev\/base-profile-name "oci:\/\/no-repository"/);
    assert.equal(ctl!.source.list().find((s) => s.name === BAD), undefined);
  });
});
