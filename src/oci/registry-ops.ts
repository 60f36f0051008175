// Push and pull of profile artifacts: the layout of artifact.ts, over the client of client.ts, signed and verified
// with cosign.ts. Shared by `auditflow push`/`pull` and the node agent's `oci://` bases.

import type { KeyObject } from 'node:crypto';
import { buildIndex, isIndex, packManifest, profileKind, selectIndexManifest, selectLayer, type Descriptor, type Index, type Manifest, type Platform, type ProfileKind, ArtifactError } from './artifact';
import { MT_OCI_INDEX, MT_OCI_MANIFEST, RegistryClient, sha256, type ClientOptions } from './client';
import { signArtifact, verifyArtifact } from './cosign';
import { formatReference, identifier, parseReference, type Reference } from './reference';

export interface PushInput {
  reference: string;
  files: { content: Buffer; platform?: Platform; name: string }[];
  annotations?: Record<string, string>;
  /** One manifest per platform under an OCI image index, instead of spoc's one manifest with a layer per platform. */
  index?: boolean;
  signKey?: KeyObject;
  client?: ClientOptions;
}

export interface PushResult {
  reference: string;
  /** Digest of what the tag points at (manifest or index). */
  digest: string;
  mediaType: string;
  kind: ProfileKind;
  manifests: { digest: string; platform?: Platform }[];
  signature?: { tag: string; digest: string };
}

export async function pushProfiles(input: PushInput): Promise<PushResult> {
  const ref = parseReference(input.reference);
  if (ref.digest) throw new ArtifactError(`push to ${input.reference}: push to a tag, not a digest (the digest is printed after the push)`);
  const client = new RegistryClient(ref.registry, input.client);
  try {
    const upload = async (files: PushInput['files']) => {
      const p = packManifest({ files, ...(input.annotations ? { annotations: input.annotations } : {}) });
      for (const b of p.blobs) await client.putBlob(ref.repository, b.bytes);
      return p;
    };
    let digest: string;
    let mediaType: string;
    let kind: ProfileKind;
    const manifests: PushResult['manifests'] = [];
    if (input.index) {
      if (input.files.some((f) => !f.platform)) throw new ArtifactError('--index needs a platform for every profile (--platform OS/ARCH=FILE)');
      const entries: { bytes: Buffer; platform: Platform; artifactType?: string }[] = [];
      kind = 'SeccompProfile';
      for (const f of input.files) {
        const p = await upload([f]);
        kind = p.kind;
        const d = await client.putManifest(ref.repository, sha256(p.manifest), p.manifest, MT_OCI_MANIFEST);
        manifests.push({ digest: d, platform: f.platform! });
        const artifactType = (JSON.parse(p.manifest.toString()) as Manifest).artifactType;
        entries.push({ bytes: p.manifest, platform: f.platform!, ...(artifactType ? { artifactType } : {}) });
      }
      const idx = buildIndex(entries, input.annotations);
      digest = await client.putManifest(ref.repository, ref.tag!, idx, MT_OCI_INDEX);
      mediaType = MT_OCI_INDEX;
    } else {
      const p = await upload(input.files);
      kind = p.kind;
      digest = await client.putManifest(ref.repository, ref.tag!, p.manifest, MT_OCI_MANIFEST);
      mediaType = MT_OCI_MANIFEST;
      manifests.push({ digest });
    }
    const out: PushResult = { reference: formatReference({ ...ref, digest }), digest, mediaType, kind, manifests };
    if (input.signKey) out.signature = await signArtifact(client, ref.repository, digest, input.signKey);
    return out;
  } finally {
    client.close();
  }
}

export interface PullInput {
  reference: string;
  platform?: Platform;
  /** Trusted public keys; with `requireSignature`, at least one must have signed the artifact. */
  keys?: KeyObject[];
  requireSignature: boolean;
  client?: ClientOptions;
}

export interface PullResult {
  reference: Reference;
  /** Digest the reference resolved to (manifest or index): what was verified. */
  digest: string;
  /** Digest of the manifest the profile came from. */
  manifestDigest: string;
  layer: Descriptor;
  content: Buffer;
  kind: ProfileKind;
  annotations: Record<string, string>;
  /** Index into `keys` of the key whose signature verified. */
  verifiedBy?: number;
}

export async function pullProfile(input: PullInput): Promise<PullResult> {
  const ref = parseReference(input.reference);
  const client = new RegistryClient(ref.registry, input.client);
  try {
    const top = await client.getManifest(ref.repository, identifier(ref));
    if (!top) throw new ArtifactError(`${formatReference(ref)}: not found in the registry`);
    let verifiedBy: number | undefined;
    if (input.requireSignature) verifiedBy = (await verifyArtifact(client, ref.repository, top.digest, input.keys ?? [])).key;
    let manifestBytes = top.bytes;
    let manifestDigest = top.digest;
    let annotations: Record<string, string> = {};
    if (isIndex(top.mediaType)) {
      const index = JSON.parse(top.bytes.toString('utf8')) as Index;
      annotations = index.annotations ?? {};
      const d = selectIndexManifest(index, input.platform);
      if (isIndex(d.mediaType)) throw new ArtifactError('nested image index');
      const m = await client.getManifest(ref.repository, d.digest);
      if (!m) throw new ArtifactError(`${formatReference(ref)}: manifest ${d.digest} of the index is missing`);
      manifestBytes = m.bytes;
      manifestDigest = m.digest;
    }
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
    if (!Array.isArray(manifest.layers)) throw new ArtifactError(`${formatReference(ref)}: not an image manifest`);
    annotations = { ...annotations, ...(manifest.annotations ?? {}) };
    const { layer, runtimeFormat } = selectLayer(manifest, input.platform);
    const content = await client.getBlob(ref.repository, layer.digest, layer.size);
    const kind = runtimeFormat ? 'oci-seccomp' : profileKind(content, layer.annotations?.['org.opencontainers.image.title'] ?? 'layer');
    return { reference: ref, digest: top.digest, manifestDigest, layer, content, kind, annotations, ...(verifiedBy !== undefined ? { verifiedBy } : {}) };
  } finally {
    client.close();
  }
}

export { MT_OCI_MANIFEST };
