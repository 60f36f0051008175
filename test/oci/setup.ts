// Shared setup of the OCI tests: the rig registry (test/env/registry.ts), the CLI, keys, scratch files, and a raw
// registry client for looking at (and tampering with) what was stored.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN, ROOT } from '../env/cli';
import { ensureRegistry, type RegistryEnv } from '../env/registry';
import { RegistryClient } from '../../src/oci/client';

export { ROOT };

export function scratch(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `auditflow-oci-${prefix}-`));
}

export function uniqueRepo(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** An ECDSA P-256 key pair as PEM files (PKCS#8 private, SPKI public), as `openssl genpkey` writes them. */
export function keyPair(dir: string, name: string): { key: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = path.join(dir, `${name}.key`);
  const pub = path.join(dir, `${name}.pub`);
  fs.writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { key, pub };
}

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `auditflow ARGS` without blocking the event loop. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, AUDITFLOW_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

export function registry(): RegistryEnv {
  return ensureRegistry();
}

/** --ca-file and credentials flags for the rig registry. */
export function regFlags(r: RegistryEnv): string[] {
  return ['--ca-file', r.ca, '--username', r.username, '--password', r.password];
}

export function rawClient(r: RegistryEnv): RegistryClient {
  return new RegistryClient(r.address, { ca: fs.readFileSync(r.ca), credentials: { username: r.username, password: r.password } });
}

/** The file distribution stores a blob in (filesystem driver), for tampering tests. */
export function blobFile(r: RegistryEnv, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return path.join(r.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

/** A recorded profile: `auditflow profile` on the shipped real seccomp log, in the given format. */
export async function recordedProfile(format: 'oci' | 'seccompprofile', name = 'recorded'): Promise<Buffer> {
  const r = await cli(['profile', '--format', format, ...(format === 'seccompprofile' ? ['--name', name] : []), path.join(ROOT, 'fixtures', 'real', 'seccomp-auditd.log')]);
  if (r.code !== 0) throw new Error(`auditflow profile failed: ${r.stderr}`);
  return r.stdout;
}
