// Runs `auditflow run` as a child process, as an operator would, for the node integration tests: the real
// bin, the real audit log, the real CRI socket. Helpers to find its HTTP port (from its log), poll it, read
// its NDJSON output and stop or kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { BIN } from './cli';

export interface RunProc {
  child: ChildProcess;
  /** resolves with the bound HTTP port once logged */
  port: Promise<number>;
  /** stderr (pino JSON lines) so far */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `auditflow run ARGS --listen 127.0.0.1:0 --no-progress`. */
export function startRun(args: string[], env: NodeJS.ProcessEnv = {}): RunProc {
  const child = spawn(process.execPath, [BIN, 'run', '--listen', '127.0.0.1:0', '--no-progress', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AUDITFLOW_LOG_LEVEL: 'info', ...env },
  });
  let err = '';
  let resolvePort!: (p: number) => void;
  let rejectPort!: (e: Error) => void;
  const port = new Promise<number>((res, rej) => {
    resolvePort = res;
    rejectPort = rej;
  });
  port.catch(() => undefined);
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    const m = /"port":(\d+),"msg":"HTTP listening/.exec(err);
    if (m) resolvePort(Number(m[1]));
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      rejectPort(new Error(`auditflow run exited (${code ?? signal}) before listening:\n${err.slice(-3000)}`));
      resolve({ code, signal });
    });
  });
  return { child, port, stderr: () => err, exited };
}

export function httpGet(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p}: timeout`)));
    req.on('error', reject);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` (every 100 ms) until it returns a truthy value, or fails after `timeoutMs` saying `what`. */
export async function pollUntil<T>(pred: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const t0 = Date.now();
  for (;;) {
    const v = await pred();
    if (v) return v as NonNullable<T>;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Waits until /readyz says ready; returns the port. */
export async function waitReady(p: RunProc, timeoutMs = 60_000): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no HTTP port logged within ${timeoutMs} ms:\n${p.stderr().slice(-3000)}`)), timeoutMs);
  });
  const port = await Promise.race([p.port, late]).finally(() => clearTimeout(timer));
  await pollUntil(async () => (await httpGet(port, '/readyz').catch(() => ({ status: 0 }))).status === 200, timeoutMs, `/readyz of auditflow run:\n${p.stderr().slice(-2000)}`);
  return port;
}

/** A metric's value from /metrics text (sum over series matching the label filter). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

export interface OutputEvent {
  type: string;
  timestamp: string;
  serial: number;
  pid: number | null;
  comm: string | null;
  syscall?: string | null;
  action?: string;
  container: { id: string; name: string | null; runtime: string | null; image: string | null } | null;
  pod: { name: string; namespace: string; uid: string; labels: Record<string, string> } | null;
  enrichment: string;
  enrichmentError?: string;
}

/** The events of an NDJSON file; `bad` counts lines that are not JSON (a half line left by a kill -9). */
export function readEvents(file: string): { events: OutputEvent[]; bad: number } {
  if (!fs.existsSync(file)) return { events: [], bad: 0 };
  const events: OutputEvent[] = [];
  let bad = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as OutputEvent);
    } catch {
      bad++;
    }
  }
  return { events, bad };
}

/** `SEC.MS:SERIAL` of an audit line (the key every record of one event shares). */
export function lineStamp(line: string): string | undefined {
  const m = /audit\((\d+)\.(\d+):(\d+)\)/.exec(line);
  return m ? `${Number(m[1]) * 1000 + Number(m[2])}:${m[3]}` : undefined;
}

/** The same key for an output event. */
export function eventStamp(ev: OutputEvent): string {
  return `${Date.parse(ev.timestamp)}:${ev.serial}`;
}

/** SIGTERM, then wait for the exit (SIGKILL after `timeoutMs`). */
export async function stopRun(p: RunProc, timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  try {
    return await p.exited;
  } finally {
    clearTimeout(t);
  }
}

/** A seccomp profile that logs every syscall, written under `dir` (an absolute path, as containerd 1.6 wants). */
export function writeLogProfile(dir: string): string {
  const p = `${dir}/log.json`;
  fs.writeFileSync(p, JSON.stringify({ defaultAction: 'SCMP_ACT_LOG' }));
  return p;
}

/**
 * Audit load: runs a busybox shell loop under a logging seccomp filter (test/env/rig.ts runUnderSeccomp) over
 * and over (about 7 SECCOMP records per loop iteration, a pause between runs), until stop() is called.
 */
export function startSeccompLoad(runUnderSeccomp: (argv: string[]) => Promise<{ exitCode: number | null }>, iterations = 300, pauseMs = 100): { stop: () => Promise<number> } {
  let stopped = false;
  let runs = 0;
  const script = `i=0; while [ $i -lt ${iterations} ]; do i=$((i+1)); echo $i > /dev/null; done`;
  const loop = (async () => {
    while (!stopped) {
      const r = await runUnderSeccomp(['/bin/busybox', 'sh', '-c', script]);
      if (r.exitCode !== 0) throw new Error(`load run exited ${r.exitCode}`);
      runs++;
      await sleep(pauseMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return runs;
    },
  };
}
