// Reading and writing the tailer's checkpoint. A write goes through the one atomic writer (src/io/atomic.ts:
// O_EXCL|O_NOFOLLOW temp file, fsync, rename, fsync of the directory) so a crash at any moment leaves either
// the old or the new checkpoint, never a torn one. Reading validates every field: a checkpoint that does not
// parse is "corrupt", never a crash, and the caller falls back to startAt. A checkpoint path that is a
// symlink, device, FIFO, socket or directory is refused at start-up (checkCheckpointPath): it is never read
// (a FIFO would block) nor replaced.

import { promises as fsp } from 'node:fs';
import { specialFileKind, writeFileAtomic } from '../io/atomic';
import { type Logger, worthLogging } from '../log';
import { tailMetrics } from './metrics';
import type { Checkpoint, TailPosition } from './types';

export type CheckpointLoad =
  | { ok: true; checkpoint: Checkpoint }
  | { ok: false; reason: 'missing' | 'unreadable' | 'corrupt' | 'other-source'; message: string };

/** Throws a clear error when `file` exists and is not a regular file: the tailer must not start on it. */
export async function checkCheckpointPath(file: string): Promise<void> {
  let kind: string | undefined;
  try {
    kind = await specialFileKind(file);
  } catch (e) {
    // a directory component that is a file: no checkpoint can exist there; writing it fails (counted) later
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return;
    throw new Error(`cannot check the checkpoint path ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (kind !== undefined) {
    throw new Error(`checkpoint path ${file} is ${kind}, not a regular file: refusing to read or replace it (point --checkpoint at a regular file)`);
  }
}

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
  if (o.firstStamp !== undefined && (typeof o.firstStamp !== 'string' || !/^\d+\.\d{1,3}:\d+$/.test(o.firstStamp))) return 'firstStamp is not SEC.MS:SERIAL';
  return null;
}

export function makeCheckpoint(
  source: string,
  position: TailPosition,
  lastStamp: string | null,
  extra: { head?: string; bootId?: string; firstStamp?: string } = {},
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
  if (extra.firstStamp !== undefined) cp.firstStamp = extra.firstStamp;
  return cp;
}

/** Writes `cp` to `file` atomically (mode 0600, the directory created on first use). Throws on failure. */
export async function saveCheckpoint(file: string, cp: Checkpoint): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(cp) + '\n', { mode: 0o600, mkdir: true });
}

/** The checkpoint interval while the reader is behind (a backlog after a restart): a crash re-reads less. */
export const CATCH_UP_MS = 200;

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

  /** `writes` when the start position was written (markStarted); -1: no eager first write. */
  private writesAtStart = -1;
  private failuresAtStart = 0;
  /** While this says the reader is behind (catching up), writes come at most CATCH_UP_MS apart. */
  behind: () => boolean = () => false;

  /** The acked position changed: write it within the interval (at once for the first ack). */
  touch(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.timer) return;
    const eager = this.writes === this.writesAtStart && this.failures === this.failuresAtStart;
    const interval = eager ? 0 : this.behind() ? Math.min(this.intervalMs, CATCH_UP_MS) : this.intervalMs;
    const delay = Math.max(0, this.lastSaveAt + interval - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delay);
    // The tailer's own work keeps the process alive; a pending write alone must not.
    this.timer.unref();
  }

  /**
   * The acked position moved into another file: write it now, not an interval later. Until it is written a
   * killed process leaves a checkpoint in the file it had already finished, and once auditd deletes that file
   * the restart counts its delivered tail as lost.
   */
  urgent(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.flush();
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
        if (worthLogging(this.failures)) {
          this.log.error({ err: e, checkpoint: this.file, failures: this.failures }, 'checkpoint write failed; the previous one stays');
        }
      } finally {
        this.lastSaveAt = Date.now();
      }
      if (this.dirty) this.touch();
    });
    return this.chain;
  }

  /**
   * The start position is written: the next change (the first ack) is written at once rather than an
   * interval later, so that a process killed every second still moves its checkpoint forward.
   */
  markStarted(): void {
    this.writesAtStart = this.writes;
    this.failuresAtStart = this.failures;
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
