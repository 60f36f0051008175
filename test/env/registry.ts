// The real OCI registry of the OCI tests (test/env/registry.sh): Debian's docker-registry (distribution 2.8) with
// TLS from a CA made by the script and htpasswd (bcrypt) basic auth. One instance per machine, reused while healthy.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findUp } from './find-up';

export interface RegistryEnv {
  /** 127.0.0.1:PORT */
  address: string;
  /** PEM file of the CA that signed the serving certificate. */
  ca: string;
  username: string;
  password: string;
  /** The run directory (config.yml, registry.log, data/). */
  dir: string;
  pid: number;
}

let cached: RegistryEnv | undefined;

/** Starts (or reuses) the rig registry; throws saying what is missing when it cannot. */
export function ensureRegistry(): RegistryEnv {
  if (cached && isAlive(cached.pid)) return cached;
  if (process.getuid?.() !== 0) throw new Error('the registry rig needs root (apt install of docker-registry, state under /var/cache/auditflow): run the tests as root');
  const script = findUp(path.join('test', 'env', 'registry.sh'));
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 15 * 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) throw new Error(`test/env/registry.sh failed (${r.error?.message ?? `exit ${r.status}`}); it said:\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    cached = JSON.parse(line) as RegistryEnv;
  } catch {
    throw new Error(`test/env/registry.sh printed no JSON environment (got ${JSON.stringify(line)}):\n${r.stderr}`);
  }
  return cached;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Builds cosign from the Go module proxy (test/env/cosign-build.sh, cached) and returns its path. */
export function ensureCosign(): string {
  const script = findUp(path.join('test', 'env', 'cosign-build.sh'));
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 90 * 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) throw new Error(`test/env/cosign-build.sh failed (${r.error?.message ?? `exit ${r.status}`}): cosign is needed to prove signature compatibility; it said:\n${r.stderr.slice(-4000)}`);
  const out = r.stdout.trim().split('\n').pop() ?? '';
  if (!out || !fs.existsSync(out)) throw new Error(`test/env/cosign-build.sh printed no cosign path (got ${JSON.stringify(out)})`);
  return out;
}
