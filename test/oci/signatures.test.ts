// cosign-format signatures made by `push --sign-key` and checked by `pull --key` in-process: what is refused, and
// why — unsigned artifacts, a key that is not trusted, a manifest changed after signing (with or without the
// signature copied over), a layer or a signature payload changed in the registry's storage.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RegistryEnv } from '../env/registry';
import { MT_OCI_MANIFEST } from '../../src/oci/client';
import { signatureTag } from '../../src/oci/cosign';
import { blobFile, cli, keyPair, rawClient, registry, regFlags, scratch, uniqueRepo } from './setup';

let reg: RegistryEnv;
let tmp: string;
let trusted: { key: string; pub: string };
let other: { key: string; pub: string };
const PROFILE = '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}\n';

before(() => {
  reg = registry();
  tmp = scratch('sig');
  trusted = keyPair(tmp, 'trusted');
  other = keyPair(tmp, 'other');
  fs.writeFileSync(path.join(tmp, 'p.json'), PROFILE);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function pushSigned(repo: string, key = trusted.key): Promise<string> {
  const r = await cli(['push', ...regFlags(reg), '--sign-key', key, `${reg.address}/${repo}:v1`, path.join(tmp, 'p.json')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), new RegExp(`signed sha256:[0-9a-f]{64}: ${reg.address}/${repo}:sha256-[0-9a-f]{64}\\.sig`));
  return /@(sha256:[0-9a-f]{64})/.exec(r.stdout.toString())![1]!;
}

const pull = (repo: string, key = trusted.pub, ref = `${reg.address}/${repo}:v1`) => cli(['pull', ...regFlags(reg), '--key', key, ref]);

describe('cosign-format signatures: refused artifacts', () => {
  it('a signed artifact verifies, also against a list of keys with the right one second', async () => {
    const repo = uniqueRepo('ok');
    await pushSigned(repo);
    const r = await cli(['pull', ...regFlags(reg), '--key', other.pub, '--key', trusted.pub, `${reg.address}/${repo}:v1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), PROFILE);
  });

  it('the signature is stored as cosign does: tag sha256-<hex>.sig, simple signing layer, signature annotation', async () => {
    const repo = uniqueRepo('layout');
    const digest = await pushSigned(repo);
    const c = rawClient(reg);
    try {
      const sig = await c.getManifest(repo, signatureTag(digest));
      assert.ok(sig);
      const m = JSON.parse(sig.bytes.toString());
      assert.equal(m.layers[0].mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
      assert.match(m.layers[0].annotations['dev.cosignproject.cosign/signature'], /^[A-Za-z0-9+/]+=*$/);
      const payload = JSON.parse((await c.getBlob(repo, m.layers[0].digest)).toString());
      assert.deepEqual(payload.critical, { identity: { 'docker-reference': `${reg.address}/${repo}` }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' });
    } finally {
      c.close();
    }
  });

  it('unsigned: refused with "no signature"', async () => {
    const repo = uniqueRepo('unsigned');
    const p = await cli(['push', ...regFlags(reg), `${reg.address}/${repo}:v1`, path.join(tmp, 'p.json')]);
    assert.equal(p.code, 0, p.stderr);
    const r = await pull(repo);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused .*no signature/);
    assert.equal(r.stdout.length, 0, 'nothing is written');
  });

  it('unknown key: refused', async () => {
    const repo = uniqueRepo('unknown');
    await pushSigned(repo, other.key);
    const r = await pull(repo);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /none of the trusted keys/);
  });

  it('tampered manifest: a changed manifest under the tag is unsigned, and a copied signature names the old digest', async () => {
    const repo = uniqueRepo('tmanifest');
    const digest = await pushSigned(repo);
    const c = rawClient(reg);
    try {
      const m = JSON.parse((await c.getManifest(repo, 'v1'))!.bytes.toString());
      m.annotations['org.opencontainers.image.created'] = '2030-01-01T00:00:00Z';
      const evil = Buffer.from(JSON.stringify(m));
      const evilDigest = await c.putManifest(repo, 'v1', evil, MT_OCI_MANIFEST);
      assert.notEqual(evilDigest, digest);
      let r = await pull(repo);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no signature/);
      // the attacker copies the old signature to the new digest's .sig tag
      const sig = (await c.getManifest(repo, signatureTag(digest)))!;
      await c.putManifest(repo, signatureTag(evilDigest), sig.bytes, MT_OCI_MANIFEST);
      r = await pull(repo);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /about another manifest .*changed after signing/);
      // the original, pinned by digest, still verifies
      r = await pull(repo, trusted.pub, `${reg.address}/${repo}@${digest}`);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      c.close();
    }
  });

  it("tampered layer: the profile blob changed in the registry's storage is refused", async () => {
    const repo = uniqueRepo('tlayer');
    await pushSigned(repo);
    const c = rawClient(reg);
    let file: string;
    let original: Buffer;
    try {
      const m = JSON.parse((await c.getManifest(repo, 'v1'))!.bytes.toString());
      file = blobFile(reg, m.layers[0].digest);
      original = fs.readFileSync(file);
      assert.equal(original.toString(), PROFILE, `the layer blob is stored at ${file}`);
    } finally {
      c.close();
    }
    // same length: only the digest can tell
    fs.writeFileSync(file, PROFILE.replace('"read"', '"mknd"'));
    try {
      const r = await pull(repo);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /content digest is sha256:[0-9a-f]{64} \(tampered or corrupt layer\)/);
      assert.equal(r.stdout.length, 0);
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  it("tampered signature payload: refused", async () => {
    const repo = uniqueRepo('tpayload');
    const digest = await pushSigned(repo);
    const c = rawClient(reg);
    let file: string;
    try {
      const m = JSON.parse((await c.getManifest(repo, signatureTag(digest)))!.bytes.toString());
      file = blobFile(reg, m.layers[0].digest);
    } finally {
      c.close();
    }
    const original = fs.readFileSync(file);
    fs.writeFileSync(file, original.toString().replace('cosign container image signature', 'cosign container image signaturX'));
    try {
      const r = await pull(repo);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /signature verification failed.*signature payload/);
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  it("cosign's encrypted private key format is refused on push with a clear reason", async () => {
    const f = path.join(tmp, 'cosign.key');
    fs.writeFileSync(f, '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n');
    const r = await cli(['push', ...regFlags(reg), '--sign-key', f, `${reg.address}/${uniqueRepo('enc')}:v1`, path.join(tmp, 'p.json')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /encrypted key format .* not supported/);
  });
});
