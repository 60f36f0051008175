// Signature compatibility with the real cosign CLI (v2, built from the Go module proxy by test/env/cosign-build.sh):
// what cosign signed with its own key pair, `auditflow pull` verifies; what `auditflow push --sign-key` signed,
// `cosign verify --key` accepts (and refuses with another key). Transparency log and Fulcio are not reachable here,
// so cosign runs with --tlog-upload=false / --insecure-ignore-tlog (key-based signatures only).
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureCosign, type RegistryEnv } from '../env/registry';
import { cli, keyPair, registry, regFlags, scratch, uniqueRepo } from './setup';

let reg: RegistryEnv;
let tmp: string;
let cosign: string;
let dockerDir: string;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cosign, args, { cwd: tmp, env: { ...process.env, SSL_CERT_FILE: reg.ca, DOCKER_CONFIG: dockerDir, COSIGN_PASSWORD: '', COSIGN_YES: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b) => (out += b));
    c.stderr.on('data', (b) => (err += b));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout: out, stderr: err }));
  });
}

before(() => {
  reg = registry();
  tmp = scratch('cosign');
  cosign = ensureCosign();
  dockerDir = path.join(tmp, 'docker');
  fs.mkdirSync(dockerDir);
  fs.writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify({ auths: { [reg.address]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
  fs.writeFileSync(path.join(tmp, 'p.json'), '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}\n');
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function pushed(signKey?: string): Promise<string> {
  const r = await cli(['push', ...regFlags(reg), ...(signKey ? ['--sign-key', signKey] : []), `${reg.address}/${uniqueRepo('cosign')}:v1`, path.join(tmp, 'p.json')]);
  assert.equal(r.code, 0, r.stderr);
  return /-> (\S+)\n/.exec(r.stdout.toString())![1]!;
}

describe('cosign interop', () => {
  it('auditflow verifies what cosign signed (cosign generate-key-pair + cosign sign --key)', async () => {
    const gen = await run(['generate-key-pair']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.ok(fs.existsSync(path.join(tmp, 'cosign.pub')));
    const ref = await pushed();
    const sign = await run(['sign', '--key', 'cosign.key', '--tlog-upload=false', ref]);
    assert.equal(sign.code, 0, `cosign sign failed: ${sign.stderr}`);
    const r = await cli(['pull', ...regFlags(reg), '--key', path.join(tmp, 'cosign.pub'), ref]);
    assert.equal(r.code, 0, r.stderr);
    const other = keyPair(tmp, 'stranger');
    const refused = await cli(['pull', ...regFlags(reg), '--key', other.pub, ref]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /none of the trusted keys/);
  });

  it('cosign verify accepts what auditflow signed, and refuses it with another key', async () => {
    const mine = keyPair(tmp, 'auditflow');
    const ref = await pushed(mine.key);
    const v = await run(['verify', '--key', mine.pub, '--insecure-ignore-tlog', ref]);
    assert.equal(v.code, 0, `cosign verify failed: ${v.stderr}`);
    const claims = JSON.parse(v.stdout.trim().split('\n')[0]!) as { critical: { image: { 'docker-manifest-digest': string } } }[];
    assert.equal(claims[0]!.critical.image['docker-manifest-digest'], ref.split('@')[1]);
    const stranger = keyPair(tmp, 'stranger2');
    const bad = await run(['verify', '--key', stranger.pub, '--insecure-ignore-tlog', ref]);
    assert.notEqual(bad.code, 0, 'cosign refuses a signature by another key');
  });
});
