// The artifact layout of SPO's `spoc push`/`spoc pull` (internal/pkg/artifact in security-profiles-operator), so
// that each tool reads the other's artifacts:
//
// * Profile resources (SeccompProfile, SelinuxProfile, AppArmorProfile, YAML or JSON): an OCI image manifest v1.1,
//   artifactType `application/vnd.unknown.config.v1+json` (ORAS' "unknown config"), the empty config descriptor
//   (`application/vnd.oci.empty.v1+json`, `{}`), one layer per profile of media type
//   `application/vnd.oci.image.layer.v1.tar` titled (`org.opencontainers.image.title`) `profile.yaml`, or
//   `profile-<os>-<arch>[-<variant>][-<os.version>].yaml` with the layer's `platform` set; layers sorted by title.
// * A plain OCI runtime-spec seccomp profile (KEP-6061, what `auditflow profile --format oci` writes): config and
//   artifactType `application/vnd.cncf.seccomp-profile.config.v1+json` (config blob `{}`), exactly one layer
//   `application/json` titled `profile.json`, platform independent.
// * Manifest annotations: the user's, plus `org.opencontainers.image.created` (theirs, else SOURCE_DATE_EPOCH,
//   else 1970-01-01T00:00:00Z, so identical content gives an identical digest).
//
// Per-platform profiles are layers of one manifest (spoc's layout), or, with `index`, an OCI image index of one
// manifest per platform; a pull reads both (spoc's pull resolves an index by platform too).

import { load } from 'js-yaml';
import { MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_INDEX, MT_OCI_MANIFEST, sha256 } from './client';

export const MT_UNKNOWN_CONFIG = 'application/vnd.unknown.config.v1+json';
export const MT_EMPTY = 'application/vnd.oci.empty.v1+json';
export const MT_SECCOMP_PROFILE = 'application/vnd.cncf.seccomp-profile.config.v1+json';
export const MT_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const MT_JSON = 'application/json';
export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
export const CREATED_DEFAULT = '1970-01-01T00:00:00Z';
export const MAX_LAYERS = 128;

export const EMPTY_JSON = Buffer.from('{}');

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export type ProfileKind = 'SeccompProfile' | 'SelinuxProfile' | 'AppArmorProfile' | 'oci-seccomp';

export class ArtifactError extends Error {}

/** What a profile file is: an SPO resource (by kind) or a raw OCI runtime-spec seccomp profile. */
export function profileKind(content: Buffer, file = 'profile'): ProfileKind {
  let doc: unknown;
  try {
    doc = load(content.toString('utf8'));
  } catch (e) {
    throw new ArtifactError(`${file}: neither YAML nor JSON: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    const o = doc as Record<string, unknown>;
    if (typeof o.kind === 'string' && typeof o.apiVersion === 'string') {
      if (!o.apiVersion.startsWith('security-profiles-operator.x-k8s.io/')) throw new ArtifactError(`${file}: apiVersion ${o.apiVersion} is not SPO's`);
      if (o.kind === 'SeccompProfile' || o.kind === 'SelinuxProfile' || o.kind === 'AppArmorProfile') return o.kind;
      throw new ArtifactError(`${file}: kind ${o.kind} is not a SeccompProfile, SelinuxProfile or AppArmorProfile`);
    }
    if (typeof o.defaultAction === 'string' && o.defaultAction) {
      const known = new Set(['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'listenerPath', 'listenerMetadata', 'syscalls']);
      const unknown = Object.keys(o).filter((k) => !known.has(k));
      if (unknown.length) throw new ArtifactError(`${file}: not an OCI runtime-spec seccomp profile (unknown field ${unknown[0]})`);
      try {
        JSON.parse(content.toString('utf8'));
      } catch {
        throw new ArtifactError(`${file}: an OCI runtime-spec seccomp profile must be JSON`);
      }
      return 'oci-seccomp';
    }
  }
  throw new ArtifactError(`${file}: not a SeccompProfile/SelinuxProfile/AppArmorProfile resource nor an OCI seccomp profile (no kind, no defaultAction)`);
}

export function parsePlatform(s: string): Platform {
  const m = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?(?::([A-Za-z0-9._-]+))?$/.exec(s);
  if (!m) throw new ArtifactError(`platform ${JSON.stringify(s)}: expected OS/ARCH[/VARIANT][:OSVERSION], e.g. linux/amd64`);
  return { os: m[1]!, architecture: m[2]!, ...(m[3] ? { variant: m[3] } : {}), ...(m[4] ? { 'os.version': m[4] } : {}) };
}

export function platformString(p: Platform | undefined): string {
  if (!p) return 'any';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/') + (p['os.version'] ? `:${p['os.version']}` : '');
}

/** spoc's layer title for a platform's profile. */
export function layerTitle(p: Platform | undefined): string {
  if (!p) return 'profile.yaml';
  return 'profile' + [p.os, p.architecture, p.variant, p['os.version']].filter(Boolean).map((x) => `-${x}`).join('') + '.yaml';
}

function normalizeVariant(arch: string, v: string | undefined): string {
  if (arch === 'arm64' && v === 'v8') return '';
  if (arch === 'arm' && !v) return 'v7';
  if (arch === 'amd64' && v === 'v1') return '';
  return v ?? '';
}

export function platformMatches(have: Platform, want: Platform): boolean {
  return have.os === want.os && have.architecture === want.architecture && normalizeVariant(have.architecture, have.variant) === normalizeVariant(want.architecture, want.variant) && (have['os.version'] ?? '') === (want['os.version'] ?? '');
}

/** This machine's platform, in OCI (Go) names. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

export interface Blob {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface PackInput {
  /** The profile file's bytes, and the platform it is for (undefined: any). */
  files: { content: Buffer; platform?: Platform; name: string }[];
  annotations?: Record<string, string>;
}

export interface Packed {
  /** Blobs to upload (config and layers). */
  blobs: Blob[];
  manifest: Buffer;
  kind: ProfileKind;
}

function createdAnnotation(annotations: Record<string, string>): string {
  if (annotations[ANNOTATION_CREATED] !== undefined) return annotations[ANNOTATION_CREATED]!;
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (!epoch) return CREATED_DEFAULT;
  if (!/^-?\d+$/.test(epoch)) throw new ArtifactError(`SOURCE_DATE_EPOCH is not a number of seconds: ${JSON.stringify(epoch)}`);
  return new Date(Number(epoch) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function descriptorOf(mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length, ...extra };
}

/** One manifest as spoc packs it. */
export function packManifest(input: PackInput): Packed {
  if (!input.files.length) throw new ArtifactError('nothing to push');
  const kinds = input.files.map((f) => profileKind(f.content, f.name));
  const raw = kinds.filter((k) => k === 'oci-seccomp').length;
  if (raw && raw !== kinds.length) throw new ArtifactError('cannot mix runtime-spec seccomp profiles and profile resources in one artifact');
  if (raw > 1) throw new ArtifactError('runtime-spec seccomp profile artifacts must contain exactly one profile');
  const annotations = { ...(input.annotations ?? {}) };
  annotations[ANNOTATION_CREATED] = createdAnnotation(annotations);
  const blobs: Blob[] = [];
  let config: Descriptor;
  let artifactType: string;
  const layers: Descriptor[] = [];
  if (raw) {
    artifactType = MT_SECCOMP_PROFILE;
    config = descriptorOf(MT_SECCOMP_PROFILE, EMPTY_JSON);
    blobs.push({ descriptor: config, bytes: EMPTY_JSON });
    const f = input.files[0]!;
    const d = descriptorOf(MT_JSON, f.content, { annotations: { [ANNOTATION_TITLE]: 'profile.json' } });
    layers.push(d);
    blobs.push({ descriptor: d, bytes: f.content });
  } else {
    artifactType = MT_UNKNOWN_CONFIG;
    config = descriptorOf(MT_EMPTY, EMPTY_JSON, { data: EMPTY_JSON.toString('base64') });
    blobs.push({ descriptor: config, bytes: EMPTY_JSON });
    const titles = new Set<string>();
    for (const f of input.files) {
      const title = layerTitle(f.platform);
      if (titles.has(title)) throw new ArtifactError(`two profiles for platform ${platformString(f.platform)}`);
      titles.add(title);
      const d = descriptorOf(MT_LAYER_TAR, f.content, { annotations: { [ANNOTATION_TITLE]: title }, ...(f.platform ? { platform: f.platform } : {}) });
      layers.push(d);
      blobs.push({ descriptor: d, bytes: f.content });
    }
    layers.sort((a, b) => (a.annotations![ANNOTATION_TITLE]! < b.annotations![ANNOTATION_TITLE]! ? -1 : 1));
  }
  const manifest: Manifest = { schemaVersion: 2, mediaType: MT_OCI_MANIFEST, artifactType, config, layers, annotations };
  return { blobs, manifest: Buffer.from(JSON.stringify(manifest)), kind: kinds[0]! };
}

export function buildIndex(manifests: { bytes: Buffer; platform: Platform; artifactType?: string }[], annotations: Record<string, string> = {}): Buffer {
  const a = { ...annotations, [ANNOTATION_CREATED]: createdAnnotation(annotations) };
  const index: Index = {
    schemaVersion: 2,
    mediaType: MT_OCI_INDEX,
    manifests: manifests.map((m) => descriptorOf(MT_OCI_MANIFEST, m.bytes, { platform: m.platform, ...(m.artifactType ? { artifactType: m.artifactType } : {}) })),
    annotations: a,
  };
  return Buffer.from(JSON.stringify(index));
}

export function isIndex(mediaType: string): boolean {
  return mediaType === MT_OCI_INDEX || mediaType === MT_DOCKER_LIST;
}

export function isManifest(mediaType: string): boolean {
  return mediaType === MT_OCI_MANIFEST || mediaType === MT_DOCKER_MANIFEST;
}

/** The manifest of an index for a platform (spoc's rule: a single platform-less manifest serves every platform). */
export function selectIndexManifest(index: Index, platform: Platform | undefined): Descriptor {
  if (index.manifests.length > MAX_LAYERS) throw new ArtifactError(`index has ${index.manifests.length} manifests, limit is ${MAX_LAYERS}`);
  if (platform) {
    const m = index.manifests.find((d) => d.platform && platformMatches(d.platform, platform));
    if (m) return m;
  }
  if (index.manifests.length === 1 && !index.manifests[0]!.platform) return index.manifests[0]!;
  throw new ArtifactError(`image index has no manifest for platform ${platformString(platform)} (it has: ${index.manifests.map((d) => platformString(d.platform)).join(', ')})`);
}

const PLATFORM_NAMED = /^profile-.+\.yaml$/;

/** The layer holding the profile for a platform, as spoc selects it. */
export function selectLayer(manifest: Manifest, platform: Platform | undefined): { layer: Descriptor; runtimeFormat: boolean } {
  if (manifest.layers.length > MAX_LAYERS) throw new ArtifactError(`artifact has ${manifest.layers.length} layers, limit is ${MAX_LAYERS}`);
  if (manifest.config?.mediaType === MT_SECCOMP_PROFILE || manifest.artifactType === MT_SECCOMP_PROFILE) {
    if (manifest.layers.length !== 1) throw new ArtifactError(`runtime-spec seccomp profile artifact has ${manifest.layers.length} layers, expected 1`);
    return { layer: manifest.layers[0]!, runtimeFormat: true };
  }
  const title = (d: Descriptor) => d.annotations?.[ANNOTATION_TITLE];
  if (platform) {
    const name = layerTitle(platform);
    const l = manifest.layers.find((d) => (d.platform ? platformMatches(d.platform, platform) : title(d) === name));
    if (l) return { layer: l, runtimeFormat: false };
  }
  for (const name of ['profile.yaml', 'profile.json']) {
    const l = manifest.layers.find((d) => !d.platform && title(d) === name);
    if (l) return { layer: l, runtimeFormat: false };
  }
  if (manifest.layers.length !== 1) throw new ArtifactError(`artifact has no profile for platform ${platformString(platform)} (layers: ${manifest.layers.map((d) => title(d) ?? d.digest).join(', ')})`);
  const l = manifest.layers[0]!;
  const ok = l.platform ? !!platform && platformMatches(l.platform, platform) : !PLATFORM_NAMED.test(title(l) ?? '');
  if (!ok) throw new ArtifactError(`the artifact's only layer ${title(l) ?? ''} is for platform ${platformString(l.platform)}, not ${platformString(platform)}`);
  return { layer: l, runtimeFormat: false };
}
