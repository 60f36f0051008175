// `auditflow aggregate` on oci:// bases (issue 16), over a real Kafka broker (test/env/kafka.ts) and the rig
// registry: recording data published by the node's Kafka sink, two recordings of a --recordings file, one on a
// base pushed and signed by `auditflow push`, one on the same base pushed unsigned. The aggregator's --oci-*
// policy (the agent's flags, src/cli/oci-flags.ts) pulls and verifies: the signed base's profile names it and
// carries only the difference; the unsigned one is refused, logged with its reason, and nothing is written for it.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { load } from 'js-yaml';
import { createLogger } from '../../src/log';
import { createKafkaSink } from '../../src/sink/kafka';
import { BIN } from '../env/cli';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { container, pod, poll, seccompEvent } from '../env/kafka/helpers';
import type { RegistryEnv } from '../env/registry';
import { cli, keyPair, registry, regFlags, scratch, uniqueRepo } from './setup';

const log = createLogger('test-aggregate-oci');
log.level = 'warn';

let reg: RegistryEnv;
let broker: KafkaBroker | undefined;
let tmp: string;
let child: ChildProcess | undefined;

async function pushBase(tag: string, key?: string): Promise<string> {
  const f = path.join(tmp, `base-${tag}.yaml`);
  fs.writeFileSync(f, JSON.stringify({
    apiVersion: 'security-profiles-operator.x-k8s.io/v1beta1', kind: 'SeccompProfile', metadata: { name: 'runtime-base' },
    spec: { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read', 'write', 'exit_group'] }] },
  }));
  const r = await cli(['push', ...regFlags(reg), ...(key ? ['--sign-key', key] : []), `${reg.address}/${uniqueRepo('agg-base')}:${tag}`, f]);
  assert.equal(r.code, 0, r.stderr);
  return 'oci://' + /-> (\S+)\n/.exec(r.stdout.toString())![1]!;
}

before(async () => {
  reg = registry();
  tmp = scratch('agg-base');
  broker = await ensureKafka();
});

after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await broker?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('auditflow aggregate on oci:// bases over Kafka', () => {
  it('a signed base: only the difference; an unsigned base: refused, nothing written, the reason logged', async () => {
    const trusted = keyPair(tmp, 'trusted');
    const signed = await pushBase('signed', trusted.key);
    const unsigned = await pushBase('unsigned');
    const dockerConfig = path.join(tmp, 'config.json');
    fs.writeFileSync(dockerConfig, JSON.stringify({ auths: { [reg.address]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
    const recordings = path.join(tmp, 'recordings.json');
    fs.writeFileSync(recordings, JSON.stringify([
      { name: 'signed', podSelector: 'app=signed', baseProfileName: signed },
      { name: 'unsigned', podSelector: 'app=unsigned', baseProfileName: unsigned },
    ]));
    const topics = { events: 'ocibase.events', recordings: 'ocibase.recordings' };
    const kafkaConfig = path.join(tmp, 'kafka.json');
    fs.writeFileSync(kafkaConfig, JSON.stringify({ topics: { recordings: topics.recordings } }));

    const sink = await createKafkaSink({ brokers: broker!.brokers, node: 'node-a', topics, spoolDir: path.join(tmp, 'spool'), dedupIntervalMs: 200 }, log);
    const pods = { signed: pod('signed-0', { app: 'signed' }), unsigned: pod('unsigned-0', { app: 'unsigned' }) };
    const cs = { signed: container('main'), unsigned: container('main') };
    let serial = 0;
    for (const k of ['signed', 'unsigned'] as const) {
      await sink.write([['read', 0], ['write', 1], ['openat', 257], ['socket', 41], ['exit_group', 231]].map(([n, nr]) => seccompEvent(++serial, n as string, nr as number, cs[k], pods[k])));
      await sink.containerEnded!({ container: cs[k], pod: pods[k], at: new Date().toISOString(), reason: 'exited' });
    }
    await sink.close();

    const dir = path.join(tmp, 'profiles');
    let stderr = '';
    child = spawn(process.execPath, [BIN, 'aggregate', '--kafka-brokers', broker!.brokers.join(','), '--kafka-config', kafkaConfig, '--group', 'ocibase',
      '--recordings', recordings, '--profile-dir', dir,
      '--oci-verify-key', trusted.pub, '--oci-ca-file', reg.ca, '--oci-docker-config', dockerConfig, '--oci-allowed-registry', reg.address], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, AUDITFLOW_LOG_LEVEL: 'info' },
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));

    const yamlFile = path.join(dir, 'signed-main.yaml');
    await poll('the signed base\'s profile', () => fs.existsSync(yamlFile), 90_000, 200);
    await poll('the unsigned base refused', () => stderr.includes('base profile not resolved'), 30_000, 200);
    const res = load(fs.readFileSync(yamlFile, 'utf8')) as { spec: { baseProfileName?: string; syscalls: Array<{ names: string[] }> } };
    assert.equal(res.spec.baseProfileName, signed);
    assert.deepEqual(res.spec.syscalls, [{ action: 'SCMP_ACT_ALLOW', names: ['openat', 'socket'] }]);
    const line = stderr.split('\n').find((l) => l.includes('base profile not resolved'))!;
    assert.match(line, /"recording":"unsigned"/);
    assert.match(line, /signature/i);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr.slice(-2000));
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('unsigned')), [], 'nothing written for the unsigned base\'s profile');
  });
});
