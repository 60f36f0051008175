// Helpers for the tailer tests (test/node/tail*.test.ts): scratch directories, numbered log lines, a
// logger whose records the test can inspect, and a bounded pull loop over a tailer.

import { mkdtempSync, promises as fsp, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import type { Counter } from 'prom-client';
import type { Logger } from '../../src/log';
import type { TailBatch, Tailer } from '../../src/tail/types';

const scratch: string[] = [];
process.on('exit', () => {
  // Keep them when asked, to look at a failure.
  if (process.env.AUDITFLOW_KEEP_SCRATCH) return;
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under the system temp dir, removed when the test process exits. */
export function scratchDir(tag: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), `auditflow-${tag}-`));
  scratch.push(d);
  return d;
}

/** Fixed width, so a byte offset tells which line it is: `line 0000042 <pad>\n`. */
export const LINE_BYTES = 32;
export function numbered(n: number): string {
  const s = `line ${String(n).padStart(7, '0')} `;
  return s + 'x'.repeat(LINE_BYTES - 1 - s.length);
}
export function numberOf(line: string): number {
  const m = /^line (\d{7}) x+$/.exec(line);
  if (!m) throw new Error(`not a numbered line: ${JSON.stringify(line.slice(0, 80))}`);
  return Number(m[1]);
}
export function linesText(from: number, to: number): string {
  let s = '';
  for (let i = from; i <= to; i++) s += numbered(i) + '\n';
  return s;
}
export async function appendLines(file: string, from: number, to: number): Promise<void> {
  await fsp.appendFile(file, linesText(from, to));
}
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

export interface CapturedLog {
  log: Logger;
  records: Array<Record<string, unknown>>;
  messages(level?: number): string[];
}

/** A pino logger that keeps its records in memory (and echoes errors to stderr for debugging). */
export function captureLog(): CapturedLog {
  const records: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'debug', base: { pid: process.pid } },
    {
      write(s: string) {
        const r = JSON.parse(s) as Record<string, unknown>;
        records.push(r);
        if ((r.level as number) >= 50 && process.env.AUDITFLOW_TEST_VERBOSE) process.stderr.write(s);
      },
    },
  );
  return {
    log,
    records,
    messages: (level = 0) => records.filter((r) => (r.level as number) >= level).map((r) => String(r.msg)),
  };
}

export async function counterValue(c: Counter<string>, labels: Record<string, string> = {}): Promise<number> {
  const m = await c.get();
  let sum = 0;
  for (const v of m.values) {
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

export interface Collected {
  lines: string[];
  batches: TailBatch[];
}

/**
 * Pulls batches (acking each) until `done(lines)` holds. On the deadline the tailer is closed (which ends
 * the pending pull) and this throws, saying what it got. With `ack: false` nothing is acked.
 */
export async function collectUntil(
  t: Tailer,
  done: (lines: string[]) => boolean,
  opts: { timeoutMs?: number; ack?: boolean; what?: string; into?: Collected } = {},
): Promise<Collected> {
  const got: Collected = opts.into ?? { lines: [], batches: [] };
  if (done(got.lines)) return got;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void t.close();
  }, timeoutMs);
  try {
    const it = t[Symbol.asyncIterator]();
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      got.batches.push(r.value);
      got.lines.push(...r.value.lines);
      if (opts.ack !== false) t.ack(r.value.position);
      if (done(got.lines)) return got;
    }
  } finally {
    clearTimeout(timer);
  }
  const tail = got.lines.slice(-3).map((l) => l.slice(0, 60));
  throw new Error(
    `${timedOut ? `timed out after ${timeoutMs} ms` : 'the tailer ended'} waiting for ${opts.what ?? 'lines'}; ` +
      `got ${got.lines.length} lines, last: ${JSON.stringify(tail)}`,
  );
}

/** Polls `cond` until it holds or the deadline passes (then throws `what`). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  let delay = 5;
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** auditd's rotation: .N → .N+1 (oldest first), live → .1, and (by default) a new empty live file. */
export async function rotate(file: string, createNew = true): Promise<void> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)$`);
  const ns = (await fsp.readdir(dir))
    .map((e) => re.exec(e))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  for (const n of ns) await fsp.rename(`${file}.${n}`, `${file}.${n + 1}`);
  await fsp.rename(file, `${file}.1`);
  if (createNew) await fsp.writeFile(file, '');
}

/** The compiled test/env directory (this module's), where tail-child.js sits next to it. */
export const envDir = __dirname;

/** SIGUSR1 to auditd (pid), then waits until `log` is a new file; returns the inode the log had before. */
export async function rotateAuditdOnce(pid: number, log: string): Promise<number> {
  const before = statSync(log).ino;
  process.kill(pid, 'SIGUSR1');
  await waitFor(() => {
    try {
      return statSync(log).ino !== before;
    } catch {
      return false; // between auditd's rename and create
    }
  }, `auditd to rotate ${log} after SIGUSR1`);
  return before;
}
