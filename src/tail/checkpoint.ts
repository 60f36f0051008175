// Reading and writing the tailer's checkpoint. A write is atomic (temp file in the same directory, fsync,
// rename, fsync of the directory) so a crash at any moment leaves either the old or the new checkpoint,
// never a torn one. Reading validates every field: a checkpoint that does not parse is "corrupt", never a
// crash, and the caller falls back to startAt.

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log';
import { tailMetrics } from './metrics';
import type { Checkpoint, TailPosition } from './types';

export type CheckpointLoad =
  | { ok: true; checkpoint: Checkpoint }
  | { ok: false; reason: 'missing' | 'unreadable' | 'corrupt' | 'other-source'; message: string };

export async function loadCheckpoint(file: string, source: string): Promise<CheckpointLoad> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, reason: 'missing', message: `no checkpoint at ${file}` };
    return { ok: false, reason: 'unreadable', message: `cannot read checkpoint ${file}: ${code ?? (e as Error).message}` };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: 'corrupt', message: `checkpoint ${file} is not JSON: ${(e as Error).message}` };
  }
  const problem = checkpointProblem(v);
  if (problem) return { ok: false, reason: 'corrupt', message: `checkpoint ${file}: ${problem}` };
  const cp = v as Checkpoint;
  if (cp.source !== source) {
    return { ok: false, reason: 'other-source', message: `checkpoint ${file} is for ${cp.source}, not ${source}` };
  }
  return { ok: true, checkpoint: cp };
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Why `v` is not a Checkpoint, or null when it is one. */
export function checkpointProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const o = v as Record<string, unknown>;
  if (o.version !== 1) return `unknown version ${JSON.stringify(o.version)}`;
  if (typeof o.source !== 'string' || o.source === '') return 'no source';
  const p = o.position as Record<string, unknown> | null | undefined;
  if (typeof p !== 'object' || p === null) return 'no position';
  if (typeof p.path !== 'string') return 'position.path is not a string';
  for (const k of ['dev', 'ino', 'offset'] as const) {
    if (!isCount(p[k])) return `position.${k} is not a non-negative integer`;
  }
  if (o.lastStamp !== null && typeof o.lastStamp !== 'string') return 'lastStamp is neither a string nor null';
  if (typeof o.savedAt !== 'string' || Number.isNaN(Date.parse(o.savedAt))) return 'savedAt is not a date';
  if (o.head !== undefined && (typeof o.head !== 'string' || !/^(?:[0-9a-f]{2}){0,64}$/.test(o.head))) return 'head is not hex';
  if (o.bootId !== undefined && typeof o.bootId !== 'string') return 'bootId is not a string';
  return null;
}

export function makeCheckpoint(
  source: string,
  position: TailPosition,
  lastStamp: string | null,
  extra: { head?: string; bootId?: string } = {},
): Checkpoint {
  const cp: Checkpoint = {
    version: 1,
    source,
    position: { path: position.path, dev: position.dev, ino: position.ino, offset: position.offset },
    lastStamp,
    savedAt: new Date().toISOString(),
  };
  if (extra.head !== undefined) cp.head = extra.head;
  if (extra.bootId !== undefined) cp.bootId = extra.bootId;
  return cp;
}

let tmpSeq = 0;

/** Writes `cp` to `file` atomically. Throws on failure (the caller counts and logs it). */
export async function saveCheckpoint(file: string, cp: Checkpoint): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${++tmpSeq}`);
  // the first save creates the checkpoint's directory (e.g. /var/lib/auditflow on a fresh node)
  await fsp.mkdir(dir, { recursive: true });
  const fh = await fsp.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(cp) + '\n');
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  // The rename itself is durable only once the directory is synced.
  const dh = await fsp.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/**
 * Writes the checkpoint at most every `intervalMs` after a change (an ack), and on close(). Writes are
 * serialized; a failed write is counted, logged and retried at the next interval, never thrown.
 */
export class CheckpointWriter {
  writes = 0;
  failures = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private lastSaveAt = 0;
  private stopped = false;

  constructor(
    private readonly file: string,
    private readonly intervalMs: number,
    /** The checkpoint to write now (the last acked position), or null when there is none yet. */
    private readonly snapshot: () => Checkpoint | null,
    private readonly log: Logger,
  ) {}

  /** The acked position changed: write it within the interval. */
  touch(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.timer) return;
    const delay = Math.max(0, this.lastSaveAt + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delay);
    // The tailer's own work keeps the process alive; a pending write alone must not.
    this.timer.unref();
  }

  /** Writes now if anything changed since the last write. */
  flush(): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (!this.dirty) return;
      const cp = this.snapshot();
      if (!cp) return;
      this.dirty = false;
      try {
        await saveCheckpoint(this.file, cp);
        this.writes++;
        tailMetrics.checkpointWrites.inc();
      } catch (e) {
        this.dirty = true;
        this.failures++;
        tailMetrics.checkpointWriteFailures.inc();
        if (this.failures <= 10 || this.failures % 1000 === 0) {
          this.log.error({ err: (e as Error).message, checkpoint: this.file, failures: this.failures }, 'checkpoint write failed; the previous one stays');
        }
      } finally {
        this.lastSaveAt = Date.now();
      }
      if (this.dirty) this.touch();
    });
    return this.chain;
  }

  /** Final write; afterwards changes are no longer written. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dirty = true;
    await this.flush();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
