// `spec.baseProfileName: oci://REGISTRY/REPO[:TAG|@sha256:DIGEST]` for the node agent: the base is pulled (this
// node's platform), its cosign signature verified against the configured public keys (required by default), and
// kept in a cache bounded in count and age (SPO's limits by default: 1000 artifacts, 24 h). A base that cannot be
// pulled, is refused by the policy or fails verification is an error with the reason: the agent reports it in the
// profile's status and writes nothing for that profile.
//
// The resolved syscalls of a stack with an OCI base are exposed as SPO does, in the profile annotation `syscalls`
// (JSON of the merged syscall rules).

import type { KeyObject } from 'node:crypto';
import type { SeccompProfile } from '../k8s/api';
import { API_VERSION } from '../k8s/api';
import { load } from 'js-yaml';
import { hostPlatform, type Platform } from '../oci/artifact';
import type { ClientOptions } from '../oci/client';
import { credentialsFromDockerConfig } from '../oci/credentials';
import { parseReference } from '../oci/reference';
import { pullProfile } from '../oci/registry-ops';
import { resolveStack, type StackResult } from './stack';

/** SPO's annotation with the resolved syscalls of a stacked profile. */
export const ANNOTATION_SYSCALLS = 'syscalls';

export const DEFAULT_CACHE_ENTRIES = 1000;
export const DEFAULT_CACHE_TTL_MS = 24 * 3600_000;

export interface OciBaseOptions {
  /** Registries (host[:port]) bases may come from; empty or undefined: any. */
  allowedRegistries?: string[];
  /** Default true: a base must carry a cosign signature by one of `keys`. */
  requireSignature?: boolean;
  keys?: KeyObject[];
  /** Extra CA (PEM) for the registries' TLS. */
  ca?: string | Buffer;
  /** docker config.json for registry credentials. */
  dockerConfig?: string;
  plainHttp?: boolean;
  maxEntries?: number;
  ttlMs?: number;
  platform?: Platform;
  /** For tests: the clock. */
  now?: () => number;
}

type Entry = { at: number; profile: SeccompProfile };

export class OciBases {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<SeccompProfile | { error: string }>>();
  readonly requireSignature: boolean;

  constructor(private readonly opts: OciBaseOptions = {}) {
    this.requireSignature = opts.requireSignature ?? true;
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  get size(): number {
    return this.cache.size;
  }

  /** A cached, unexpired base. */
  cached(ref: string): SeccompProfile | undefined {
    const e = this.cache.get(ref);
    if (!e) return undefined;
    if (this.now() - e.at > (this.opts.ttlMs ?? DEFAULT_CACHE_TTL_MS)) {
      this.cache.delete(ref);
      return undefined;
    }
    return e.profile;
  }

  /** Pulls and verifies a base (one pull per reference at a time); failures are not cached. */
  fetch(ref: string): Promise<SeccompProfile | { error: string }> {
    const hit = this.cached(ref);
    if (hit) return Promise.resolve(hit);
    let p = this.inflight.get(ref);
    if (!p) {
      p = this.pull(ref).finally(() => this.inflight.delete(ref));
      this.inflight.set(ref, p);
    }
    return p;
  }

  private async pull(ref: string): Promise<SeccompProfile | { error: string }> {
    let registry: string;
    try {
      registry = parseReference(ref).registry;
    } catch (e) {
      return { error: (e as Error).message };
    }
    const allowed = this.opts.allowedRegistries ?? [];
    if (allowed.length && !allowed.includes(registry)) return { error: `registry ${registry} is not allowed by the agent's policy (allowed: ${allowed.join(', ')})` };
    const client: ClientOptions = { ...(this.opts.ca ? { ca: this.opts.ca } : {}), ...(this.opts.plainHttp ? { plainHttp: true } : {}) };
    try {
      const creds = credentialsFromDockerConfig(registry, this.opts.dockerConfig);
      if (creds) client.credentials = creds;
    } catch (e) {
      return { error: `docker config: ${(e as Error).message}` };
    }
    let profile: SeccompProfile;
    try {
      const r = await pullProfile({ reference: ref, platform: this.opts.platform ?? hostPlatform(), keys: this.opts.keys ?? [], requireSignature: this.requireSignature, client });
      if (r.kind !== 'SeccompProfile' && r.kind !== 'oci-seccomp') return { error: `the artifact holds a ${r.kind}, not a seccomp profile` };
      profile = toSeccompProfile(r.content, ref);
    } catch (e) {
      return { error: `pull failed: ${(e as Error).message}` };
    }
    this.cache.delete(ref);
    this.cache.set(ref, { at: this.now(), profile });
    const max = this.opts.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    while (this.cache.size > max) this.cache.delete(this.cache.keys().next().value!);
    return profile;
  }
}

function toSeccompProfile(content: Buffer, ref: string): SeccompProfile {
  const doc = load(content.toString('utf8')) as Record<string, unknown>;
  if (doc.kind === 'SeccompProfile') {
    const p = doc as unknown as SeccompProfile;
    if (!p.spec || typeof p.spec.defaultAction !== 'string') throw new Error('SeccompProfile without spec.defaultAction');
    return p;
  }
  // an OCI runtime-spec seccomp profile
  const spec = doc as SeccompProfile['spec'];
  return { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name: ref }, spec: { ...spec } };
}

/**
 * resolveStack with `oci://` bases pulled first: resolution is retried after each base it needed was fetched (a
 * chain holds at most maxDepth of them).
 */
export async function resolveStackWithOci(
  name: string,
  lookup: (n: string) => SeccompProfile | undefined,
  bases: OciBases,
  maxDepth: number,
): Promise<StackResult & { oci: boolean; pullFailed: boolean }> {
  const failed = new Map<string, string>();
  for (let i = 0; ; i++) {
    let missing: string | undefined;
    let oci = false;
    const r = resolveStack(name, lookup, maxDepth, (ref) => {
      oci = true;
      const err = failed.get(ref);
      if (err) return { error: err };
      const p = bases.cached(ref);
      if (p) return p;
      missing ??= ref;
      return { error: 'not pulled yet' };
    });
    if (missing === undefined || i > maxDepth) return { ...r, oci, pullFailed: failed.size > 0 };
    const got = await bases.fetch(missing);
    if ('error' in got) failed.set(missing, got.error);
  }
}

/** The merge patch that sets SPO's `syscalls` annotation to the resolved rules, or undefined when it is current. */
export function syscallsAnnotationPatch(p: SeccompProfile, syscalls: unknown[] | undefined): { metadata: { annotations: Record<string, string> } } | undefined {
  const value = JSON.stringify(syscalls ?? []);
  if (p.metadata.annotations?.[ANNOTATION_SYSCALLS] === value) return undefined;
  return { metadata: { annotations: { [ANNOTATION_SYSCALLS]: value } } };
}
