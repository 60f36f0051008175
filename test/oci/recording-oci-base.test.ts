// Recording from an OCI base (issue 16) against the rig's registry: a signed SeccompProfile pushed with
// `auditflow push`, pulled and verified by the node agent's OciBases; the recorded profile names the
// oci:// reference and lists only what the base does not allow. An unsigned base is refused by the policy:
// nothing is written for the profile. (run-oci-base.test.ts: the same through `auditflow run` and a real pod.)

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { load } from 'js-yaml';
import pino from 'pino';
import { isRecord, parseLine } from '../../parsers';
import { OciBases } from '../../src/agent/oci-base';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { loadPublicKey } from '../../src/oci/cosign';
import type { RecordingSpec } from '../../src/profile/recording';
import { baseLookup } from '../../src/recording/base';
import { ProfileDirectory } from '../../src/recording/profile-dir';
import { Recorder } from '../../src/recording/recorder';
import type { RegistryEnv } from '../env/registry';
import { cli, keyPair, registry, regFlags, scratch, uniqueRepo } from './setup';

let reg: RegistryEnv;
let tmp: string;
let trusted: { key: string; pub: string };
let bases: OciBases;

const BASE = {
  apiVersion: 'security-profiles-operator.x-k8s.io/v1beta1',
  kind: 'SeccompProfile',
  metadata: { name: 'runtime-base' },
  spec: { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read', 'write', 'exit_group'] }] },
};

async function push(tag: string, key?: string): Promise<string> {
  const f = path.join(tmp, `${tag}.yaml`);
  fs.writeFileSync(f, JSON.stringify(BASE));
  const r = await cli(['push', ...regFlags(reg), ...(key ? ['--sign-key', key] : []), `${reg.address}/${uniqueRepo('rec-base')}:${tag}`, f]);
  assert.equal(r.code, 0, r.stderr);
  return 'oci://' + /-> (\S+)\n/.exec(r.stdout.toString())![1]!;
}

const NR: Record<string, number> = { read: 0, write: 1, socket: 41, exit_group: 231, openat: 257 };
let serial = 1;
function seccomp(name: string): EventV1 {
  const r = parseLine(`type=SECCOMP msg=audit(1795368920.${String(serial).padStart(3, '0')}:${serial++}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=7 comm="app" exe="/app" sig=0 arch=c000003e syscall=${NR[name]} compat=0 ip=0x1 code=0x7ffc0000`);
  assert.ok(isRecord(r));
  const ev = eventFromRecord(r, { node: 'n1', file: null, raw: false });
  ev.enrichment = 'resolved';
  ev.container = { id: 'c'.repeat(64), name: 'main', runtime: 'containerd', image: 'app' };
  ev.pod = { name: 'web-1', namespace: 'demo', uid: 'u1', labels: { app: 'web' } };
  return ev;
}

type Recorded = { spec: { baseProfileName?: string; syscalls: Array<{ names: string[] }> } };

async function record(base: string, dir: string): Promise<Recorded | undefined> {
  const rec: RecordingSpec = { name: 'web', namespace: null, kind: 'SeccompProfile', podSelector: { matchLabels: { app: 'web' } }, mergeStrategy: 'containers', baseProfileName: base };
  const r = new Recorder({ recordings: [rec], out: new ProfileDirectory(dir), stateDir: null, log: pino({ level: 'silent' }), bases: baseLookup(dir, (ref) => bases.fetch(ref)) });
  await r.write(['read', 'write', 'openat', 'socket', 'exit_group'].map(seccomp));
  await r.close();
  const f = path.join(dir, 'web-main.yaml');
  return fs.existsSync(f) ? (load(fs.readFileSync(f, 'utf8')) as Recorded) : undefined;
}

before(() => {
  reg = registry();
  tmp = scratch('rec-base');
  trusted = keyPair(tmp, 'trusted');
  const dockerConfig = path.join(tmp, 'config.json');
  fs.writeFileSync(dockerConfig, JSON.stringify({ auths: { [reg.address]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
  bases = new OciBases({ keys: [loadPublicKey(fs.readFileSync(trusted.pub))], ca: fs.readFileSync(reg.ca), dockerConfig, allowedRegistries: [reg.address] });
});

describe('recording from an oci:// base', () => {
  it('a signed base: the profile names the reference and lists only what the base does not allow', async () => {
    const ref = await push('v1', trusted.key);
    const res = await record(ref, path.join(tmp, 'signed'));
    assert.ok(res, 'written');
    assert.equal(res.spec.baseProfileName, ref);
    assert.deepEqual(res.spec.syscalls[0]!.names, ['openat', 'socket']);
  });

  it('an unsigned base is refused by the policy: nothing is written for the profile', async () => {
    const ref = await push('unsigned');
    const dir = path.join(tmp, 'unsigned');
    assert.equal(await record(ref, dir), undefined);
    assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], []);
    const got = await bases.fetch(ref);
    assert.ok('error' in got && /signature/i.test(got.error), JSON.stringify(got));
  });
});
