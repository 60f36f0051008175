// cosign's key-based signatures (the ".sig" tag scheme of cosign v2 and SPO), made and checked in-process with
// node:crypto:
//
// * the signed payload is a "simple signing" JSON document naming the artifact's repository and manifest digest
//   (`critical.image.docker-manifest-digest`, type "cosign container image signature");
// * the signature is ECDSA P-256 over SHA-256 of the payload bytes, ASN.1 DER, base64 in the layer annotation
//   `dev.cosignproject.cosign/signature`;
// * the payload is a layer (`application/vnd.dev.cosign.simplesigning.v1+json`) of an image manifest tagged
//   `sha256-<hex>.sig` in the artifact's repository; more signatures are more layers.
//
// Keys: public keys are PEM (SubjectPublicKeyInfo, "PUBLIC KEY", as `cosign generate-key-pair` writes cosign.pub).
// Private keys for signing: an unencrypted PKCS#8 or SEC1 EC P-256 PEM. cosign's own encrypted key format
// ("ENCRYPTED SIGSTORE PRIVATE KEY": scrypt + NaCl secretbox, XSalsa20-Poly1305) is not read: node:crypto has no
// XSalsa20. Export one with `openssl`-made keys instead, or `cosign import-key-pair` the other way round.
// Keyless signatures (Fulcio certificates, Rekor entries) are not verified: they need the public Sigstore services.

import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { MT_OCI_MANIFEST, sha256, type RegistryClient } from './client';
import type { Descriptor, Manifest } from './artifact';

export const MT_SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const ANNOTATION_SIGNATURE = 'dev.cosignproject.cosign/signature';
const MT_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MAX_SIGNATURES = 16;

export class SignatureError extends Error {}

export function signatureTag(digest: string): string {
  const [alg, hex] = digest.split(':');
  return `${alg}-${hex}.sig`;
}

export function loadPublicKey(pem: string | Buffer, name = 'key'): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey(pem);
  } catch (e) {
    throw new SignatureError(`${name}: not a PEM public key (${(e as Error).message})`, { cause: e });
  }
  if (k.asymmetricKeyType !== 'ec') throw new SignatureError(`${name}: a ${k.asymmetricKeyType} key; cosign keys are ECDSA P-256`);
  return k;
}

export function loadPrivateKey(pem: string | Buffer, name = 'key'): KeyObject {
  const text = pem.toString();
  if (text.includes('ENCRYPTED SIGSTORE PRIVATE KEY') || text.includes('ENCRYPTED COSIGN PRIVATE KEY')) {
    throw new SignatureError(`${name}: cosign's encrypted key format (scrypt + NaCl secretbox) is not supported; use an unencrypted PKCS#8 EC P-256 key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)`);
  }
  let k: KeyObject;
  try {
    k = createPrivateKey(pem);
  } catch (e) {
    throw new SignatureError(`${name}: not an unencrypted PEM private key (${(e as Error).message})`, { cause: e });
  }
  const curve = k.asymmetricKeyDetails?.namedCurve;
  if (k.asymmetricKeyType !== 'ec' || (curve !== 'prime256v1' && curve !== 'P-256')) throw new SignatureError(`${name}: need an ECDSA P-256 key (got ${k.asymmetricKeyType} ${curve ?? ''})`);
  return k;
}

/** The payload cosign signs for `repo@digest` (same field order as cosign's Go struct). */
export function simpleSigningPayload(dockerReference: string, digest: string, optional: Record<string, string> | null = null): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
      optional,
    }),
  );
}

/** Signs `registry/repo@digest` and stores the signature under the `.sig` tag (appending to signatures already there). */
export async function signArtifact(client: RegistryClient, repo: string, digest: string, key: KeyObject): Promise<{ tag: string; digest: string }> {
  const payload = simpleSigningPayload(`${client.registry}/${repo}`, digest);
  const signature = cryptoSign('sha256', payload, { key, dsaEncoding: 'der' }).toString('base64');
  const tag = signatureTag(digest);
  const layer: Descriptor = { mediaType: MT_SIMPLESIGNING, digest: sha256(payload), size: payload.length, annotations: { [ANNOTATION_SIGNATURE]: signature } };
  const existing = await client.getManifest(repo, tag);
  let layers: Descriptor[] = [];
  if (existing) {
    const m = JSON.parse(existing.bytes.toString('utf8')) as Manifest;
    layers = (m.layers ?? []).filter((l) => !(l.digest === layer.digest && l.annotations?.[ANNOTATION_SIGNATURE] === signature));
  }
  layers.push(layer);
  // an image config as go-containerregistry writes it for cosign's signature image: one rootfs diff per layer
  const config = Buffer.from(
    JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })), os: '', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} }),
  );
  await client.putBlob(repo, payload);
  const cfgDigest = await client.putBlob(repo, config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT_OCI_MANIFEST, config: { mediaType: MT_IMAGE_CONFIG, size: config.length, digest: cfgDigest }, layers }));
  const d = await client.putManifest(repo, tag, manifest, MT_OCI_MANIFEST);
  return { tag, digest: d };
}

export interface VerifyResult {
  /** Index in the given keys of the key that verified. */
  key: number;
  payload: Buffer;
}

/**
 * Verifies that `repo@digest` carries a cosign signature by one of `keys`. Throws a SignatureError saying why not:
 * no signature, a payload about another digest, a tampered payload, or no signature by a trusted key.
 */
export async function verifyArtifact(client: RegistryClient, repo: string, digest: string, keys: KeyObject[]): Promise<VerifyResult> {
  if (!keys.length) throw new SignatureError('no public key configured to verify the signature with');
  const tag = signatureTag(digest);
  const sig = await client.getManifest(repo, tag);
  if (!sig) throw new SignatureError(`no signature: ${client.registry}/${repo}@${digest} is unsigned (no ${tag})`);
  const m = JSON.parse(sig.bytes.toString('utf8')) as Manifest;
  const layers = (m.layers ?? []).filter((l) => l.mediaType === MT_SIMPLESIGNING).slice(0, MAX_SIGNATURES);
  if (!layers.length) throw new SignatureError(`no signature: ${tag} holds no cosign simple signing layer`);
  const problems: string[] = [];
  for (const l of layers) {
    const b64 = l.annotations?.[ANNOTATION_SIGNATURE];
    if (!b64) {
      problems.push('a layer without the dev.cosignproject.cosign/signature annotation');
      continue;
    }
    let payload: Buffer;
    try {
      payload = await client.getBlob(repo, l.digest, l.size, 1 << 20);
    } catch (e) {
      problems.push(`signature payload: ${(e as Error).message}`);
      continue;
    }
    const sigBytes = Buffer.from(b64, 'base64');
    const k = keys.findIndex((key) => {
      try {
        return cryptoVerify('sha256', payload, { key, dsaEncoding: 'der' }, sigBytes);
      } catch {
        return false;
      }
    });
    if (k < 0) {
      problems.push('a signature by none of the trusted keys (unknown key or tampered payload)');
      continue;
    }
    let claimed: string | undefined;
    try {
      claimed = (JSON.parse(payload.toString('utf8')) as { critical?: { image?: { 'docker-manifest-digest'?: string } } }).critical?.image?.['docker-manifest-digest'];
    } catch {
      /* below */
    }
    if (claimed !== digest) {
      problems.push(`a valid signature about another manifest (${claimed ?? 'none'}): the manifest was changed after signing`);
      continue;
    }
    return { key: k, payload };
  }
  throw new SignatureError(`signature verification failed for ${client.registry}/${repo}@${digest}: ${[...new Set(problems)].join('; ')}`);
}
