// Artifacts laid out exactly as spoc writes them (security-profiles-operator internal/pkg/artifact: ORAS file store
// layers, PackManifestVersion1_1), stored in the real registry by this test byte for byte as Go's encoding/json
// writes them (field order, `\u0026` escapes), and read by `auditflow pull`: spoc's per-platform layers with the
// layer annotations older spoc versions put there and a wall-clock created time, a platform-independent
// profile.yaml, a KEP-6061 JSON artifact whose only layer has another title, and an index of spoc manifests.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { RegistryEnv } from '../env/registry';
import { MT_OCI_INDEX, MT_OCI_MANIFEST, sha256 } from '../../src/oci/client';
import { cli, rawClient, registry, regFlags, uniqueRepo } from './setup';

let reg: RegistryEnv;
before(() => {
  reg = registry();
});
after(() => undefined);

const EMPTY = '{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}';

/** Go's json.Marshal escapes <, > and & in strings. */
const goString = (s: string) => JSON.stringify(s).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

function layer(content: Buffer, title: string, annotations: Record<string, string> = {}, platform?: { architecture: string; os: string; variant?: string }, mediaType = 'application/vnd.oci.image.layer.v1.tar'): string {
  // Go map keys are sorted; Descriptor field order: mediaType, digest, size, annotations, platform
  const ann: Record<string, string> = { ...annotations, 'org.opencontainers.image.title': title };
  const annJson = '{' + Object.keys(ann).sort().map((k) => `${goString(k)}:${goString(ann[k]!)}`).join(',') + '}';
  const plat = platform ? `,"platform":{"architecture":${goString(platform.architecture)},"os":${goString(platform.os)}${platform.variant ? `,"variant":${goString(platform.variant)}` : ''}}` : '';
  return `{"mediaType":"${mediaType}","digest":"${sha256(content)}","size":${content.length},"annotations":${annJson}${plat}}`;
}

async function store(repo: string, tag: string, blobs: Buffer[], manifest: string, mediaType = MT_OCI_MANIFEST): Promise<string> {
  const c = rawClient(reg);
  try {
    await c.putBlob(repo, Buffer.from('{}'));
    for (const b of blobs) await c.putBlob(repo, b);
    return await c.putManifest(repo, tag, Buffer.from(manifest), mediaType);
  } finally {
    c.close();
  }
}

const seccompYaml = (name: string, syscall: string) =>
  Buffer.from(`apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n  name: ${name}\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names:\n    - ${syscall}\n`);

describe("reading spoc's artifacts", () => {
  it('per-platform layers (spoc v0.9: custom annotations on the layers, wall-clock created)', async () => {
    const amd = seccompYaml('p', 'read');
    const arm = seccompYaml('p', 'write');
    const custom = { 'com.example/team': 'a&b' };
    const manifest =
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.unknown.config.v1+json","config":${EMPTY},"layers":[` +
      [layer(amd, 'profile-linux-amd64.yaml', custom, { architecture: 'amd64', os: 'linux' }), layer(arm, 'profile-linux-arm64.yaml', custom, { architecture: 'arm64', os: 'linux' })].join(',') +
      `],"annotations":{"org.opencontainers.image.created":"2025-02-25T14:46:30Z"}}`;
    const repo = uniqueRepo('spoc-plat');
    await store(repo, 'v1', [amd, arm], manifest);
    for (const [p, want] of [['linux/amd64', amd], ['linux/arm64', arm], ['linux/arm64/v8', arm]] as const) {
      const r = await cli(['pull', ...regFlags(reg), '--insecure-skip-verify', '--platform', p, `${reg.address}/${repo}:v1`]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.equals(want), `${p}: its layer`);
    }
  });

  it('a platform-independent profile.yaml serves every platform', async () => {
    const y = seccompYaml('any', 'close');
    const repo = uniqueRepo('spoc-any');
    await store(repo, 'v1', [y], `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.unknown.config.v1+json","config":${EMPTY},"layers":[${layer(y, 'profile.yaml')}],"annotations":{"org.opencontainers.image.created":"1970-01-01T00:00:00Z"}}`);
    const r = await cli(['pull', ...regFlags(reg), '--insecure-skip-verify', '--platform', 'linux/riscv64', `${reg.address}/${repo}:v1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(y));
  });

  it('a KEP-6061 seccomp JSON artifact whose single layer has another title', async () => {
    const j = Buffer.from('{"defaultAction":"SCMP_ACT_LOG"}');
    const cfg = '{"mediaType":"application/vnd.cncf.seccomp-profile.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}';
    const repo = uniqueRepo('spoc-kep');
    await store(repo, 'v1', [j], `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cncf.seccomp-profile.config.v1+json","config":${cfg},"layers":[${layer(j, 'seccomp.json', {}, undefined, 'application/json')}],"annotations":{"org.opencontainers.image.created":"1970-01-01T00:00:00Z"}}`);
    const r = await cli(['pull', ...regFlags(reg), '--insecure-skip-verify', '--json', `${reg.address}/${repo}:v1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(j));
    assert.equal(JSON.parse(r.stderr.trim().split('\n').pop()!).kind, 'oci-seccomp');
  });

  it('an image index of spoc manifests is resolved by platform', async () => {
    const repo = uniqueRepo('spoc-index');
    const entries: string[] = [];
    const want: Record<string, Buffer> = {};
    for (const arch of ['amd64', 'arm64']) {
      const y = seccompYaml(`i-${arch}`, arch === 'amd64' ? 'read' : 'write');
      want[arch] = y;
      const m = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.unknown.config.v1+json","config":${EMPTY},"layers":[${layer(y, 'profile.yaml')}],"annotations":{"org.opencontainers.image.created":"1970-01-01T00:00:00Z"}}`;
      const d = await store(repo, sha256(m), [y], m);
      entries.push(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${d}","size":${Buffer.byteLength(m)},"platform":{"architecture":"${arch}","os":"linux"}}`);
    }
    const c = rawClient(reg);
    await c.putManifest(repo, 'v1', Buffer.from(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[${entries.join(',')}]}`), MT_OCI_INDEX);
    c.close();
    for (const arch of ['amd64', 'arm64']) {
      const r = await cli(['pull', ...regFlags(reg), '--insecure-skip-verify', '--platform', `linux/${arch}`, `${reg.address}/${repo}:v1`]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.equals(want[arch]!));
    }
  });
});
