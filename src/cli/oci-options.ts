// Registry options shared by `auditflow push` and `auditflow pull`.

import * as fs from 'node:fs';
import type { ClientOptions, Credentials } from '../oci/client';
import { credentialsFromDockerConfig, defaultDockerConfig } from '../oci/credentials';
import { parseReference, type Reference } from '../oci/reference';
import { UsageError } from './command';

export const REGISTRY_HELP = [
  '  --username USER        registry user (with --password); else the docker config.json entry for the registry',
  '  --password PASS        registry password ($AUDITFLOW_REGISTRY_PASSWORD is read when --username is given alone)',
  '  --docker-config FILE   docker config.json with `auths` (default $DOCKER_CONFIG/config.json, ~/.docker/config.json)',
  '  --ca-file FILE         PEM CA certificate(s) to trust for the registry\'s TLS, besides the system roots',
  '  --plain-http           talk HTTP instead of HTTPS (local test registries only)',
].join('\n');

export const REGISTRY_OPTIONS = {
  username: { type: 'string' },
  password: { type: 'string' },
  'docker-config': { type: 'string' },
  'ca-file': { type: 'string' },
  'plain-http': { type: 'boolean' },
} as const;

export function clientOptions(v: Record<string, unknown>, registry: string): ClientOptions {
  const opts: ClientOptions = {};
  if (v['ca-file'] !== undefined) {
    try {
      opts.ca = fs.readFileSync(v['ca-file'] as string);
    } catch (e) {
      throw new UsageError(`--ca-file: ${(e as Error).message}`, { cause: e });
    }
  }
  if (v['plain-http']) opts.plainHttp = true;
  let creds: Credentials | undefined;
  const user = v.username as string | undefined;
  const pass = (v.password as string | undefined) ?? (user !== undefined ? process.env.AUDITFLOW_REGISTRY_PASSWORD : undefined);
  if (user !== undefined || v.password !== undefined) {
    if (user === undefined || pass === undefined) throw new UsageError('--username and --password go together');
    creds = { username: user, password: pass };
  } else {
    const file = (v['docker-config'] as string | undefined) ?? defaultDockerConfig();
    try {
      creds = credentialsFromDockerConfig(registry, file);
    } catch (e) {
      throw new UsageError(`docker config ${file}: ${(e as Error).message}`, { cause: e });
    }
  }
  if (creds) opts.credentials = creds;
  return opts;
}

/** The REGISTRY/REPO[:TAG|@DIGEST] argument, a usage error when it is not one. */
export function referenceArg(target: string | undefined, usage: string): Reference {
  if (!target) throw new UsageError(`missing ${usage}`);
  try {
    return parseReference(target);
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
}
