// `auditflow push` / `auditflow pull` against a real registry (Debian's docker-registry with TLS from its own CA and
// htpasswd auth): round trips byte-identical, spoc's manifest layout, per-platform artifacts (spoc's layers and an
// image index), custom annotations, digest pinning, registry auth from flags and from a docker config.json.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RegistryEnv } from '../env/registry';
import { cli, keyPair, rawClient, recordedProfile, registry, regFlags, scratch, uniqueRepo } from './setup';

let reg: RegistryEnv;
let tmp: string;
let keys: { key: string; pub: string };

before(() => {
  reg = registry();
  tmp = scratch('pushpull');
  keys = keyPair(tmp, 'signer');
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(name: string, content: Buffer | string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, content);
  return f;
}

const DIGEST_LINE = /-> (\S+@sha256:[0-9a-f]{64})\n/;

describe('push and pull through a real registry', () => {
  it('round trip of a recorded OCI seccomp profile: pulled bytes are identical, push prints the digest', async () => {
    const profile = await recordedProfile('oci');
    const f = file('recorded.json', profile);
    const ref = `${reg.address}/${uniqueRepo('rt')}:v1`;
    const push = await cli(['push', ...regFlags(reg), '--sign-key', keys.key, ref, f]);
    assert.equal(push.code, 0, push.stderr);
    const m = DIGEST_LINE.exec(push.stdout.toString());
    assert.ok(m, `push prints REF@sha256:…: ${push.stdout}`);
    const out = path.join(tmp, 'pulled.json');
    const pull = await cli(['pull', ...regFlags(reg), '--key', keys.pub, '-o', out, ref]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.ok(fs.readFileSync(out).equals(profile), 'pulled profile is byte-identical to the pushed one');
    // and by the printed digest
    const byDigest = await cli(['pull', ...regFlags(reg), '--key', keys.pub, m[1]!]);
    assert.equal(byDigest.code, 0, byDigest.stderr);
    assert.ok(byDigest.stdout.equals(profile));
  });

  it("writes spoc's manifest: KEP-6061 media types for OCI JSON, unknown-config artifact with profile.yaml for resources", async () => {
    const c = rawClient(reg);
    try {
      const repo = uniqueRepo('layout');
      const json = await cli(['push', ...regFlags(reg), `${reg.address}/${repo}:json`, file('l.json', await recordedProfile('oci'))]);
      assert.equal(json.code, 0, json.stderr);
      const mj = JSON.parse((await c.getManifest(repo, 'json'))!.bytes.toString());
      assert.equal(mj.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(mj.artifactType, 'application/vnd.cncf.seccomp-profile.config.v1+json');
      assert.equal(mj.config.mediaType, 'application/vnd.cncf.seccomp-profile.config.v1+json');
      assert.equal(mj.config.digest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
      assert.equal(mj.layers.length, 1);
      assert.equal(mj.layers[0].mediaType, 'application/json');
      assert.equal(mj.layers[0].annotations['org.opencontainers.image.title'], 'profile.json');
      assert.equal(mj.annotations['org.opencontainers.image.created'], '1970-01-01T00:00:00Z');

      const yaml = await cli(['push', ...regFlags(reg), '--annotation', 'team=payments', '--annotation', 'org.opencontainers.image.source=https://example.org/x', `${reg.address}/${repo}:crd`, file('l.yaml', await recordedProfile('seccompprofile'))]);
      assert.equal(yaml.code, 0, yaml.stderr);
      const my = JSON.parse((await c.getManifest(repo, 'crd'))!.bytes.toString());
      assert.equal(my.artifactType, 'application/vnd.unknown.config.v1+json');
      assert.deepEqual(my.config, { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2, data: 'e30=' });
      assert.equal(my.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar');
      assert.equal(my.layers[0].annotations['org.opencontainers.image.title'], 'profile.yaml');
      assert.equal(my.annotations.team, 'payments', 'custom annotations are manifest annotations');
      assert.equal(my.annotations['org.opencontainers.image.source'], 'https://example.org/x');
      // the same content pushed again has the same digest (created is fixed, as spoc makes it)
      const again = await cli(['push', ...regFlags(reg), '--annotation', 'team=payments', '--annotation', 'org.opencontainers.image.source=https://example.org/x', `${reg.address}/${repo}:crd2`, file('l.yaml', await recordedProfile('seccompprofile'))]);
      assert.equal(DIGEST_LINE.exec(again.stdout.toString())![1]!.split('@')[1], DIGEST_LINE.exec(yaml.stdout.toString())![1]!.split('@')[1]);
      // pull --json reports the annotations
      const pulled = await cli(['pull', ...regFlags(reg), '--insecure-skip-verify', '--json', `${reg.address}/${repo}:crd`]);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.equal(JSON.parse(pulled.stderr.trim().split('\n').pop()!).annotations.team, 'payments');
      assert.equal(JSON.parse(pulled.stderr.trim().split('\n').pop()!).kind, 'SeccompProfile');
    } finally {
      c.close();
    }
  });

  for (const mode of ['layers', 'index'] as const) {
    it(`per-platform artifact (${mode === 'layers' ? "spoc's one manifest, a layer per platform" : 'an OCI image index'}): --platform picks the profile`, async () => {
      const amd = Buffer.from((await recordedProfile('seccompprofile', 'p-amd64')).toString());
      const arm = Buffer.from((await recordedProfile('seccompprofile', 'p-arm64')).toString());
      const ref = `${reg.address}/${uniqueRepo(`plat-${mode}`)}:v1`;
      const push = await cli(['push', ...regFlags(reg), ...(mode === 'index' ? ['--index'] : []), '--platform', `linux/amd64=${file('amd.yaml', amd)}`, '--platform', `linux/arm64=${file('arm.yaml', arm)}`, ref]);
      assert.equal(push.code, 0, push.stderr);
      for (const [platform, want] of [['linux/amd64', amd], ['linux/arm64', arm]] as const) {
        const r = await cli(['pull', ...regFlags(reg), '--insecure-skip-verify', '--platform', platform, ref]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.equals(want), `${platform} gets its own profile`);
      }
      const none = await cli(['pull', ...regFlags(reg), '--insecure-skip-verify', '--platform', 'linux/s390x', ref]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no (profile|manifest) for platform linux\/s390x/);
      if (mode === 'layers') {
        const c = rawClient(reg);
        const m = JSON.parse((await c.getManifest(ref.split('/').slice(1).join('/').split(':')[0]!, 'v1'))!.bytes.toString());
        c.close();
        assert.deepEqual(m.layers.map((l: { annotations: Record<string, string>; platform: unknown }) => [l.annotations['org.opencontainers.image.title'], l.platform]), [
          ['profile-linux-amd64.yaml', { os: 'linux', architecture: 'amd64' }],
          ['profile-linux-arm64.yaml', { os: 'linux', architecture: 'arm64' }],
        ]);
      }
    });
  }

  it('digest pinning: @sha256 of another manifest or a tampered tag is refused', async () => {
    const repo = uniqueRepo('pin');
    const a = await cli(['push', ...regFlags(reg), `${reg.address}/${repo}:v1`, file('a.json', '{"defaultAction":"SCMP_ACT_ALLOW"}')]);
    const pinned = DIGEST_LINE.exec(a.stdout.toString())![1]!;
    // the tag moves on
    await cli(['push', ...regFlags(reg), `${reg.address}/${repo}:v1`, file('b.json', '{"defaultAction":"SCMP_ACT_LOG"}')]);
    const r = await cli(['pull', ...regFlags(reg), '--insecure-skip-verify', pinned]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '{"defaultAction":"SCMP_ACT_ALLOW"}', 'the pinned digest, not the tag, is pulled');
    const missing = await cli(['pull', ...regFlags(reg), '--insecure-skip-verify', `${reg.address}/${repo}@sha256:${'0'.repeat(64)}`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
  });

  it('auth: refused without credentials, accepted from a docker config.json (base64 auth)', async () => {
    const ref = `${reg.address}/${uniqueRepo('auth')}:v1`;
    const f = file('auth.json', '{"defaultAction":"SCMP_ACT_ERRNO"}');
    const empty = file('empty-config.json', '{"auths":{}}');
    const anon = await cli(['push', '--ca-file', reg.ca, '--docker-config', empty, ref, f]);
    assert.equal(anon.code, 1);
    assert.match(anon.stderr, /authentication required/);
    const wrong = await cli(['push', '--ca-file', reg.ca, '--username', reg.username, '--password', 'not-the-password', ref, f]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /credentials refused/);
    const cfg = file('config.json', JSON.stringify({ auths: { [reg.address]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
    const ok = await cli(['push', '--ca-file', reg.ca, '--docker-config', cfg, ref, f]);
    assert.equal(ok.code, 0, ok.stderr);
    const pullAnon = await cli(['pull', '--ca-file', reg.ca, '--docker-config', empty, '--insecure-skip-verify', ref]);
    assert.equal(pullAnon.code, 1);
    assert.match(pullAnon.stderr, /authentication required/);
    const pull = await cli(['pull', '--ca-file', reg.ca, '--docker-config', cfg, '--insecure-skip-verify', ref]);
    assert.equal(pull.code, 0, pull.stderr);
  });

  it("TLS: the registry's certificate is refused without --ca-file", async () => {
    const r = await cli(['pull', '--username', reg.username, '--password', reg.password, '--insecure-skip-verify', `${reg.address}/${uniqueRepo('tls')}:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /certificate/i);
  });

  it('pull requires a key or an explicit --insecure-skip-verify; non-profiles are refused on push', async () => {
    const r = await cli(['pull', ...regFlags(reg), `${reg.address}/x:v1`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--key/);
    const bad = await cli(['push', ...regFlags(reg), `${reg.address}/${uniqueRepo('bad')}:v1`, file('bad.yaml', 'apiVersion: v1\nkind: ConfigMap\n')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not SPO's|not a SeccompProfile/);
  });
});
