// The oci:// base policy flags, one reader for agent, run and aggregate (src/cli/oci-flags.ts): values, refusals
// naming their flag, and the start-up refusal of a policy that can only refuse (a signature required, no key).
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/cli/command';
import { checkOciPolicy, ociBasesFromFlags } from '../../src/cli/oci-flags';
import { runCli } from '../env/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-oci-flags-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('--oci-* flags', () => {
  it('read a key, the signature requirement and the cache bounds; bad values name their flag', () => {
    const pub = path.join(tmp, 'k.pub');
    fs.writeFileSync(pub, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
    assert.equal(ociBasesFromFlags({ 'oci-verify-key': [pub] }).requireSignature, true, 'a signature is required by default');
    assert.equal(ociBasesFromFlags({ 'oci-insecure-skip-verify': true }).requireSignature, false);
    for (const [v, re] of [
      [{ 'oci-verify-key': [path.join(tmp, 'missing.pub')] }, /--oci-verify-key/],
      [{ 'oci-cache-size': '0' }, /--oci-cache-size/],
      [{ 'oci-cache-ttl': '1d' }, /--oci-cache-ttl/],
      [{ 'oci-ca-file': path.join(tmp, 'missing.pem') }, /--oci-ca-file/],
    ] as const) assert.throws(() => ociBasesFromFlags(v), (e: Error) => e instanceof UsageError && re.test(e.message));
    assert.throws(() => checkOciPolicy({}, '--record-base'), /--record-base names an oci:\/\/ base: give --oci-verify-key/);
    checkOciPolicy({ 'oci-insecure-skip-verify': true }, '--record-base');
    checkOciPolicy({ 'oci-verify-key': [pub] }, '--record-base');
  });

  it('aggregate --record-base: validated, for seccomp --recording only, and an oci:// base needs a key (usage errors, before any broker is asked)', () => {
    const agg = ['aggregate', '--kafka-brokers', '127.0.0.1:1', '--recording', 'web=app=web'];
    for (const [args, re] of [
      [[...agg, '--record-base', `oci://registry.example/x/base:1`], /--oci-verify-key/],
      [[...agg, '--record-base', 'oci://no-repository'], /--record-base "oci:\/\/no-repository"/],
      [[...agg, '--record-base', '../x'], /--record-base "\.\.\/x"/],
      [[...agg, '--kind', 'selinux', '--record-base', 'runtime-base'], /--record-base is for --recording with --kind seccomp/],
    ] as const) {
      const r = runCli([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
    }
  });

  it('run takes the oci-* keys from its --config file too, flags winning', () => {
    const once = ['run', '--once', '--from-start', '--checkpoint', 'none', '--cri-socket', 'none', '--listen', 'none', '--no-progress', '--no-track-forks', '--no-task-events',
      '--audit-log', '/dev/null', '--output', 'none', '--record', 'web=app=web', '--record-base', 'oci://registry.example/x/base:1', '--profile-dir', path.join(tmp, 'profiles')];
    const cfg = (o: Record<string, unknown>) => {
      const f = path.join(tmp, `config-${Object.keys(o).join('-')}.json`);
      fs.writeFileSync(f, JSON.stringify(o));
      return f;
    };
    const missingKey = runCli([...once, '--config', cfg({ 'oci-verify-key': [path.join(tmp, 'missing.pub')] })]);
    assert.equal(missingKey.code, 2, missingKey.stderr);
    assert.match(missingKey.stderr, /--oci-verify-key: .*missing\.pub/);
    const skip = runCli([...once, '--config', cfg({ 'oci-insecure-skip-verify': true })]);
    assert.equal(skip.code, 0, skip.stderr);
    const flagWins = runCli([...once, '--config', cfg({ 'oci-cache-size': 'many' }), '--oci-cache-size', '5', '--oci-insecure-skip-verify']);
    assert.equal(flagWins.code, 0, flagWins.stderr);
  });
});
