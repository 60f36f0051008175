// The `oci://` base profile policy as command-line flags, one reader for every command that resolves such bases:
// `auditflow agent` (installing profiles), `auditflow run` and `auditflow aggregate` (recording on top of a base).
// The same flag means the same thing everywhere: which keys a base must be signed with (a signature is required
// unless --oci-insecure-skip-verify), which registries are allowed, TLS, credentials, and the cache bounds.

import * as fs from 'node:fs';
import { DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_TTL_MS, OciBases } from '../agent/oci-base';
import { loadPublicKey } from '../oci/cosign';
import { list, UsageError, type Options } from './command';

export const OCI_BASE_OPTIONS = {
  'oci-verify-key': { type: 'string', multiple: true },
  'oci-insecure-skip-verify': { type: 'boolean' },
  'oci-allowed-registry': { type: 'string', multiple: true },
  'oci-ca-file': { type: 'string' },
  'oci-docker-config': { type: 'string' },
  'oci-cache-size': { type: 'string' },
  'oci-cache-ttl': { type: 'string' },
} as const satisfies Options;

export const OCI_BASE_HELP = [
  '  --oci-verify-key FILE  cosign public key (PEM) that oci:// base profiles must be signed with (repeatable)',
  '  --oci-insecure-skip-verify  accept unsigned oci:// base profiles (default: a signature is required)',
  '  --oci-allowed-registry HOST[:PORT]  registries oci:// bases may come from (repeatable; default: any)',
  '  --oci-ca-file FILE     extra CA (PEM) for the registries\' TLS',
  '  --oci-docker-config FILE  docker config.json with registry credentials (default ~/.docker/config.json)',
  '  --oci-cache-size N     pulled base profiles kept (default 1000)',
  '  --oci-cache-ttl DUR    how long a pulled base is reused, e.g. 24h, 30m, 600 (s) (default 24h)',
].join('\n');

/** The policy for `oci://` base profiles given by the OCI_BASE_OPTIONS flags; a bad value is a UsageError naming its flag. */
export function ociBasesFromFlags(v: Record<string, unknown>): OciBases {
  let keys;
  try {
    keys = list(v['oci-verify-key']).map((f) => loadPublicKey(fs.readFileSync(f), f));
  } catch (e) {
    throw new UsageError(`--oci-verify-key: ${(e as Error).message}`, { cause: e });
  }
  const size = v['oci-cache-size'] !== undefined ? Number(v['oci-cache-size']) : DEFAULT_CACHE_ENTRIES;
  if (!Number.isInteger(size) || size < 1) throw new UsageError('--oci-cache-size must be a positive integer');
  let ttlMs = DEFAULT_CACHE_TTL_MS;
  if (v['oci-cache-ttl'] !== undefined) {
    const m = /^(\d+)(s|m|h)?$/.exec(String(v['oci-cache-ttl']));
    if (!m) throw new UsageError('--oci-cache-ttl: expected seconds or a duration such as 30m or 24h');
    ttlMs = Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2] ?? 's']! * 1000;
  }
  let ca;
  if (v['oci-ca-file'] !== undefined) {
    try {
      ca = fs.readFileSync(v['oci-ca-file'] as string);
    } catch (e) {
      throw new UsageError(`--oci-ca-file: ${(e as Error).message}`, { cause: e });
    }
  }
  return new OciBases({
    keys,
    requireSignature: v['oci-insecure-skip-verify'] !== true,
    allowedRegistries: list(v['oci-allowed-registry']),
    maxEntries: size,
    ttlMs,
    ...(ca ? { ca } : {}),
    ...(v['oci-docker-config'] !== undefined ? { dockerConfig: v['oci-docker-config'] as string } : {}),
  });
}

/**
 * Refuses at start-up a policy that can only refuse: a signature is required and no key is given, while an
 * oci:// base is named (`what`: the flag or file naming it).
 */
export function checkOciPolicy(v: Record<string, unknown>, what: string): void {
  if (v['oci-insecure-skip-verify'] !== true && list(v['oci-verify-key']).length === 0) {
    throw new UsageError(`${what} names an oci:// base: give --oci-verify-key FILE (its signature is required) or --oci-insecure-skip-verify`);
  }
}
