// Runs the compiled `auditflow` bin as a user would, for the CLI tests.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');
export const BIN = path.join(ROOT, 'dist/src/cli/main.js');

export function runCli(args: string[], input?: string | Buffer): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, AUDITFLOW_LOG_LEVEL: 'warn' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
