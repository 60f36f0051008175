// Registry credentials from a docker config.json (`auths`: base64 `auth` "user:password", or `username`/`password`),
// as docker, podman, oras, cosign and spoc read them. Credential helpers (`credsStore`) are not run.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Credentials } from './client';

export function defaultDockerConfig(): string {
  return path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker'), 'config.json');
}

/** The credentials for `registry` in the config file, if any; a malformed file is an error. */
export function credentialsFromDockerConfig(registry: string, file = defaultDockerConfig()): Credentials | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const cfg = JSON.parse(text) as { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  const auths = cfg.auths ?? {};
  const entry = auths[registry] ?? auths[`https://${registry}`] ?? auths[`http://${registry}`] ?? auths[`https://${registry}/v1/`] ?? auths[`https://${registry}/v2/`];
  if (!entry) return undefined;
  if (entry.auth) {
    const dec = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i < 0) throw new Error(`${file}: auths["${registry}"].auth is not base64 of "user:password"`);
    return { username: dec.slice(0, i), password: dec.slice(i + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}
