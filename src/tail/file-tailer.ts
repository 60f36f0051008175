// The checkpointed, rotation-aware tailer of one log file (auditd's audit.log, syslog, kern.log).
//
// Why not tail-file: it is push-only (it emits every line as fast as it can read and has no pause, so a slow
// sink means an unbounded backlog), it reports character positions rather than byte offsets (a checkpoint
// would land in the wrong place after any multi-byte or invalid UTF-8), it buffers a line without bound,
// and it finds rotated files by name (`.1`) rather than by device+inode. So reading is done here with
// positional reads on file descriptors, pulled by the consumer one chunk at a time.
//
// Reading model: the consumer pulls a batch; only when the batch buffer (at most one chunk's lines) is
// empty is the next chunk read. At EOF of the file being read:
//   - rotated files still queued (catch-up after a restart or a multiple rotation): finish this one, go on;
//   - the path still leads to our inode: shorter than our offset or its first bytes changed → truncated
//     (copytruncate: continue in the copy when it is found, by its head, among the siblings), else wait;
//   - the path leads elsewhere (renamed) or nowhere (deleted): read our descriptor to its end, then, once
//     the new file has data, continue with every file newer than ours in the rotation chain, oldest first.

import { watch, type FSWatcher, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log';
import { MAX_LINE } from '../io/record-reader';
import { closeAll, headMatches, openChain, readHead, type ChainFile } from './chain';
import { CheckpointWriter, loadCheckpoint, makeCheckpoint } from './checkpoint';
import { OffsetLineSplitter, type LineEntry } from './lines';
import { registerLag, tailMetrics } from './metrics';
import type { Checkpoint, FileIdentity, TailBatch, Tailer, TailerOptions, TailPosition, TailStats } from './types';
import { SerialReader } from './serial-reader';

const CHUNK = 256 * 1024;
const DEFAULT_BATCH = 1024;
const DEFAULT_INTERVAL = 1000;
const DEFAULT_POLL = 250;
/** How long open waits for the live file to (re)appear, e.g. caught between a rotation's rename and create. */
const OPEN_WAIT_MS = 2000;
/** Small maps keyed by file (stream bases, heads, finished files) keep only this many recent files. */
const KEEP_FILES = 64;

interface Cursor {
  file: ChainFile;
  splitter: OffsetLineSplitter;
  /** The largest size seen for this file (for the lag). */
  knownSize: number;
  /**
   * We waited at its end: before reading what came since, make sure it is still the same content (not
   * truncated and rewritten past our offset meanwhile, as copytruncate followed by busy writes does).
   */
  verify: boolean;
}

interface Queued {
  file: ChainFile;
  start: number;
}

type Fill = { kind: 'progress' } | { kind: 'idle'; seq?: number } | { kind: 'end' };

const PROGRESS: Fill = { kind: 'progress' };

function key(id: FileIdentity): string {
  return `${id.dev}:${id.ino}`;
}

function posKey(p: TailPosition): string {
  return `${p.dev}:${p.ino}:${p.offset}`;
}

function setBounded<K, V>(m: Map<K, V>, k: K, v: V): void {
  m.delete(k);
  m.set(k, v);
  if (m.size > KEEP_FILES) m.delete(m.keys().next().value as K);
}

/** Log the first few of a kind of event in full, then every 1000th: hostile input must not flood the log. */
function worthLogging(n: number): boolean {
  return n <= 10 || n % 1000 === 0;
}

export class FileTailer extends SerialReader implements Tailer {
  private readonly log: Logger;
  private readonly batchLines: number;
  private readonly intervalMs: number;
  private readonly pollMs: number;
  private readonly follow: boolean;

  private cur: Cursor | null = null;
  private queue: Queued[] = [];
  private pending: LineEntry[] = [];
  private pendingIdx = 0;
  private pendingFrom: { path: string; dev: number; ino: number } | null = null;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private ended = false;
  private closed = false;
  private closing: Promise<void> | null = null;

  private changeSeq = 0;
  private wake: (() => void) | null = null;
  private watcher: FSWatcher | null = null;
  private missingWarned = false;

  private acked: TailPosition | null = null;
  private lastStamp: string | null = null;
  private handedOut: TailPosition | null = null;
  private readonly checkpoint: CheckpointWriter | null;
  private unregisterLag: (() => void) | null = null;

  /** Stream coordinate of byte 0 of each recent file: offsets across rotations become comparable. */
  private readonly base = new Map<string, number>();
  /** First bytes (hex) of each recent file, stored in the checkpoint. */
  private readonly heads = new Map<string, string>();
  /** A finished file's end position → where reading continued: an ack of the former means the latter. */
  private readonly finished = new Map<string, TailPosition>();

  private readonly counts = {
    bytesRead: 0,
    linesRead: 0,
    overlongLines: 0,
    rotations: 0,
    truncations: 0,
    readErrors: 0,
  };

  constructor(
    private readonly opts: TailerOptions,
    log: Logger,
  ) {
    super();
    this.log = log.child({ component: 'tail', source: opts.path });
    this.batchLines = Math.max(1, opts.maxBatchLines ?? DEFAULT_BATCH);
    this.intervalMs = Math.max(0, opts.checkpointIntervalMs ?? DEFAULT_INTERVAL);
    this.pollMs = Math.max(10, opts.pollIntervalMs ?? DEFAULT_POLL);
    this.follow = opts.follow ?? true;
    this.checkpoint = opts.checkpointPath
      ? new CheckpointWriter(opts.checkpointPath, this.intervalMs, () => this.snapshot(), this.log)
      : null;
  }

  // -------------------------------------------------------------------------------------------------
  // opening

  async start(): Promise<void> {
    let cp: Checkpoint | null = null;
    if (this.opts.checkpointPath) {
      const r = await loadCheckpoint(this.opts.checkpointPath, this.opts.path);
      if (r.ok) cp = r.checkpoint;
      else if (r.reason === 'missing') this.log.info({ checkpoint: this.opts.checkpointPath }, `no checkpoint yet: starting at the ${this.opts.startAt ?? 'end'}`);
      else {
        tailMetrics.checkpointLoadFailures.inc({ reason: r.reason });
        this.log.warn({ checkpoint: this.opts.checkpointPath, reason: r.reason }, `${r.message}; starting at the ${this.opts.startAt ?? 'end'} instead`);
      }
    }
    const chain = await this.openLiveChain();
    let place: { at: number; start: number; skip?: boolean } | null;
    try {
      place = cp ? this.placeFromCheckpoint(chain, cp) : null;
      if (!place) place = await this.placeFromStartAt(chain);
    } catch (e) {
      await closeAll(chain);
      throw e;
    }
    if (cp) this.lastStamp = cp.lastStamp;
    await closeAll(chain.slice(0, place.at));
    const first = chain[place.at]!;
    this.setBase(first, 0);
    this.cur = this.cursor(first, place.start);
    if (place.skip) this.cur.splitter.startSkipping();
    this.queue = chain.slice(place.at + 1).map((file) => ({ file, start: 0 }));
    this.acked = this.positionOf(first, place.start);
    if (this.follow) this.startWatch();
    this.unregisterLag = registerLag(() => this.currentLag());
    this.log.info(
      { file: first.name, ino: first.ino, offset: place.start, queued: this.queue.map((q) => q.file.name) },
      'tailing',
    );
    // The start is acked by definition: a crash before the first ack must resume here, not at a later end.
    this.checkpoint?.touch();
    await this.checkpoint?.flush();
  }

  /** The chain of the live path; waits briefly when the live file is missing (a rotation in progress). */
  private async openLiveChain(): Promise<ChainFile[]> {
    const deadline = Date.now() + OPEN_WAIT_MS;
    for (;;) {
      const chain = await openChain(this.opts.path);
      if (chain.length > 0 && chain[chain.length - 1]!.name === this.opts.path) return chain;
      await closeAll(chain);
      if (Date.now() > deadline) throw new Error(`${this.opts.path} does not exist (is the audit daemon writing its log there?)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private placeFromCheckpoint(chain: ChainFile[], cp: Checkpoint): { at: number; start: number } | null {
    const p = cp.position;
    const exact = chain.findIndex((f) => f.dev === p.dev && f.ino === p.ino && headMatches(f, cp.head));
    if (exact >= 0 && chain[exact]!.size >= p.offset) {
      this.log.info({ file: chain[exact]!.name, offset: p.offset, lastStamp: cp.lastStamp }, 'resuming from checkpoint');
      return { at: exact, start: p.offset };
    }
    // Not there as it was. copytruncate while we were stopped: the checkpointed bytes live on in the copy.
    if (cp.head) {
      for (let j = chain.length - 1; j >= 0; j--) {
        const f = chain[j]!;
        if ((f.dev !== p.dev || f.ino !== p.ino) && headMatches(f, cp.head) && f.size >= p.offset) {
          this.countRotation('copytruncate');
          this.log.info({ file: f.name, offset: p.offset }, 'checkpointed file was copied and truncated: resuming in the copy');
          return { at: j, start: p.offset };
        }
      }
    }
    const sameIno = chain.findIndex((f) => f.dev === p.dev && f.ino === p.ino);
    if (sameIno >= 0) {
      // Shorter than the checkpoint, or other first bytes: truncated and rewritten, or a new file on a reused inode.
      this.countTruncation();
      this.log.warn({ file: chain[sameIno]!.name, offset: p.offset, size: chain[sameIno]!.size }, 'checkpointed file was truncated or replaced: reading it from the start');
      return { at: sameIno, start: 0 };
    }
    // Gone (rotated out of num_logs, or compressed): resume with the oldest file written since the checkpoint.
    tailMetrics.checkpointLoadFailures.inc({ reason: 'file-gone' });
    const since = Date.parse(cp.savedAt) - 1000;
    let at = chain.findIndex((f) => f.mtimeMs >= since);
    if (at < 0) at = chain.length - 1;
    this.log.error(
      { ino: p.ino, offset: p.offset, savedAt: cp.savedAt, from: chain[at]!.name },
      'the checkpointed file is gone (rotated away while stopped?): records between it and the oldest remaining file may be lost',
    );
    return { at, start: 0 };
  }

  private async placeFromStartAt(chain: ChainFile[]): Promise<{ at: number; start: number; skip?: boolean }> {
    const at = chain.length - 1;
    const live = chain[at]!;
    if ((this.opts.startAt ?? 'end') === 'start' || live.size === 0) return { at, start: 0 };
    // Start after the last complete line: a line being written now is read whole once it is complete.
    const n = Math.min(live.size, MAX_LINE + 1);
    const tail = Buffer.alloc(n);
    const { bytesRead } = await live.fh.read(tail, 0, n, live.size - n);
    const nl = tail.subarray(0, bytesRead).lastIndexOf(10);
    if (nl >= 0) return { at, start: live.size - n + nl + 1 };
    if (n === live.size) return { at, start: 0 };
    return { at, start: live.size, skip: true };
  }

  private cursor(file: ChainFile, start: number): Cursor {
    setBounded(this.heads, key(file), file.head.toString('hex'));
    const splitter = new OffsetLineSplitter(MAX_LINE, (bytes, end) => this.overlong(file, bytes, end), start);
    return { file, splitter, knownSize: Math.max(file.size, start), verify: false };
  }

  private startWatch(): void {
    try {
      this.watcher = watch(path.dirname(this.opts.path), { persistent: true }, () => {
        this.changeSeq++;
        this.wake?.();
      });
      this.watcher.on('error', (e) => {
        this.log.warn({ err: e.message }, 'directory watch failed: polling only');
        this.watcher?.close();
        this.watcher = null;
      });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot watch the log directory: polling only');
    }
  }

  // -------------------------------------------------------------------------------------------------
  // reading

  protected async nextInner(): Promise<IteratorResult<TailBatch>> {
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      if (this.pendingIdx < this.pending.length) return { done: false, value: this.takeBatch() };
      const r = await this.fill();
      if (r.kind === 'end') return { done: true, value: undefined };
      if (r.kind === 'idle') await this.idle(r.seq);
    }
  }

  private takeBatch(): TailBatch {
    const n = Math.min(this.batchLines, this.pending.length - this.pendingIdx);
    const lines = new Array<string>(n);
    for (let i = 0; i < n; i++) lines[i] = this.pending[this.pendingIdx + i]!.text;
    const last = this.pending[this.pendingIdx + n - 1]!;
    this.pendingIdx += n;
    if (this.pendingIdx >= this.pending.length) {
      this.pending = [];
      this.pendingIdx = 0;
    }
    const from = this.pendingFrom!;
    const position: TailPosition = { path: from.path, dev: from.dev, ino: from.ino, offset: last.end };
    this.handedOut = position;
    this.counts.linesRead += n;
    tailMetrics.linesRead.inc(n);
    return { lines, position };
  }

  /** Wait for a change in the directory (or the poll interval), unless one came since `seq`. */
  private idle(seq: number | undefined): Promise<void> {
    if (this.closed || (seq !== undefined && seq !== this.changeSeq)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
      const t = setTimeout(done, this.pollMs);
      this.wake = done;
    });
  }

  private async fill(): Promise<Fill> {
    const cur = this.cur;
    if (!cur || this.ended) return { kind: 'end' };
    if (cur.verify) {
      cur.verify = false;
      try {
        const size = (await cur.file.fh.stat()).size;
        if (size < cur.splitter.received || (await this.rewritten(cur, size))) return this.truncated(cur, size);
      } catch (e) {
        return this.readError(`checking ${cur.file.name}`, e);
      }
    }
    let n: number;
    try {
      n = (await cur.file.fh.read(this.buf, 0, CHUNK, cur.splitter.received)).bytesRead;
    } catch (e) {
      return this.readError(`reading ${cur.file.name}`, e);
    }
    if (n > 0) {
      this.pending = [];
      this.pendingIdx = 0;
      this.pendingFrom = this.identityOf(cur.file);
      cur.splitter.push(this.buf.subarray(0, n), this.pending);
      // A short read reached the end as it was: what is there on the next read may be a rewrite.
      if (n < CHUNK) cur.verify = true;
      if (cur.splitter.received > cur.knownSize) cur.knownSize = cur.splitter.received;
      this.counts.bytesRead += n;
      tailMetrics.bytesRead.inc(n);
      return PROGRESS;
    }
    return this.atEof(cur);
  }

  private readError(what: string, e: unknown): Fill {
    this.counts.readErrors++;
    tailMetrics.readErrors.inc();
    if (worthLogging(this.counts.readErrors)) {
      this.log.error({ err: (e as Error).message, count: this.counts.readErrors }, `${what} failed; retrying`);
    }
    return { kind: 'idle' };
  }

  private async atEof(cur: Cursor): Promise<Fill> {
    const next = this.queue.shift();
    if (next) {
      await this.switchTo(cur, next);
      return PROGRESS;
    }
    if (!this.follow) {
      // One-shot: the file as it is now is the whole input, a last line without newline included.
      this.beginPending(cur);
      cur.splitter.end(this.pending);
      this.ended = true;
      return PROGRESS;
    }
    const seq = this.changeSeq;
    let st: import('node:fs').Stats | null;
    try {
      st = await fsp.stat(this.opts.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return this.readError(`stat ${this.opts.path}`, e);
      st = null;
    }
    const received = cur.splitter.received;
    if (st && st.dev === cur.file.dev && st.ino === cur.file.ino) {
      this.missingWarned = false;
      if (st.size < received) return this.truncated(cur, st.size);
      try {
        if (await this.rewritten(cur, st.size)) return this.truncated(cur, st.size);
      } catch (e) {
        return this.readError(`reading the head of ${cur.file.name}`, e);
      }
      if (st.size > received) return PROGRESS;
      cur.verify = true;
      return { kind: 'idle', seq };
    }
    // Renamed away, deleted, or replaced: first everything still in our descriptor.
    let own: import('node:fs').Stats;
    try {
      own = await cur.file.fh.stat();
    } catch (e) {
      return this.readError(`fstat ${cur.file.name}`, e);
    }
    if (own.size > received) return PROGRESS;
    if (!st) {
      if (!this.missingWarned) {
        this.missingWarned = true;
        this.log.warn({ file: cur.file.name }, `${this.opts.path} is gone: waiting for it to reappear`);
      }
      return { kind: 'idle', seq };
    }
    // The writer may still finish the old file until the new one gets its first bytes (rsyslog before HUP).
    if (st.size === 0) return { kind: 'idle', seq };
    return this.rotated(cur, own.mtimeMs, seq);
  }

  /** Whether the file's first bytes differ from those we saw: truncated and rewritten past our offset. */
  private async rewritten(cur: Cursor, size: number): Promise<boolean> {
    const known = cur.file.head;
    const now = await readHead(cur.file.fh, size);
    if (!now.subarray(0, known.length).equals(known)) return true;
    if (now.length > known.length) {
      cur.file.head = now;
      setBounded(this.heads, key(cur.file), now.toString('hex'));
    }
    return false;
  }

  private async rotated(cur: Cursor, ownMtimeMs: number, seq: number): Promise<Fill> {
    let chain: ChainFile[];
    try {
      chain = await openChain(this.opts.path);
    } catch (e) {
      return this.readError(`listing the rotated files of ${this.opts.path}`, e);
    }
    const i = chain.findIndex((f) => f.dev === cur.file.dev && f.ino === cur.file.ino);
    let newer: ChainFile[];
    let kind: 'rename' | 'delete';
    if (i >= 0) {
      newer = chain.slice(i + 1);
      kind = 'rename';
    } else {
      // Ours was deleted: the files written since it stopped growing come next.
      newer = chain.filter((f, k) => f.mtimeMs >= ownMtimeMs || k === chain.length - 1);
      kind = 'delete';
    }
    const keep = new Set(newer);
    await closeAll(chain.filter((f) => !keep.has(f)));
    if (newer.length === 0) return { kind: 'idle', seq };
    this.countRotation(kind);
    this.log.info({ from: cur.file.name, ino: cur.file.ino, next: newer.map((f) => f.name), kind }, 'log rotated');
    this.queue = newer.slice(1).map((file) => ({ file, start: 0 }));
    await this.switchTo(cur, { file: newer[0]!, start: 0 });
    return PROGRESS;
  }

  private async truncated(cur: Cursor, size: number): Promise<Fill> {
    let chain: ChainFile[] = [];
    try {
      chain = await openChain(this.opts.path);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot list rotated files to look for a copytruncate copy');
    }
    const committed = cur.splitter.committed;
    const head = cur.file.head;
    let copy: ChainFile | undefined;
    if (head.length > 0) {
      for (let j = chain.length - 1; j >= 0 && !copy; j--) {
        const f = chain[j]!;
        if ((f.dev !== cur.file.dev || f.ino !== cur.file.ino) && f.size >= committed && f.head.subarray(0, head.length).equals(head)) copy = f;
      }
    }
    const live = chain.length && chain[chain.length - 1]!.name === this.opts.path ? chain[chain.length - 1]! : undefined;
    if (copy) {
      // copytruncate: the rest of what we had not read yet is in the copy; then the live file from 0.
      await closeAll(chain.filter((f) => f !== copy && f !== live));
      this.countRotation('copytruncate');
      this.log.info({ copy: copy.name, offset: committed }, 'log copied and truncated: reading the rest from the copy');
      this.queue = live ? [{ file: live, start: 0 }] : [];
      const to = this.cursor(copy, committed);
      this.link(this.positionOf(cur.file, committed), this.positionOf(copy, committed));
      await cur.file.fh.close().catch(() => undefined);
      this.cur = to;
      return PROGRESS;
    }
    await closeAll(chain);
    this.countTruncation();
    this.log.warn(
      { file: cur.file.name, offset: cur.splitter.received, size, partialLineBytes: cur.splitter.partialBytes },
      'log truncated: reading it again from the start (lines written between our last read and the truncation are lost)',
    );
    const k = key(cur.file);
    setBounded(this.base, k, (this.base.get(k) ?? 0) + committed);
    try {
      cur.file.head = await readHead(cur.file.fh, size);
    } catch {
      cur.file.head = Buffer.alloc(0);
    }
    this.cur = this.cursor(cur.file, 0);
    return PROGRESS;
  }

  /** `cur` is complete: its last line (even without newline) goes out, then reading continues in `next`. */
  private async switchTo(cur: Cursor, next: Queued): Promise<void> {
    this.beginPending(cur);
    cur.splitter.end(this.pending);
    const from = this.positionOf(cur.file, cur.splitter.committed);
    const to = this.positionOf(next.file, next.start);
    this.link(from, to);
    await cur.file.fh.close().catch(() => undefined);
    this.cur = this.cursor(next.file, next.start);
  }

  private beginPending(cur: Cursor): void {
    this.pending = [];
    this.pendingIdx = 0;
    this.pendingFrom = this.identityOf(cur.file);
  }

  /** Reading went on from `from` (a file's end) at `to`: both are the same point of the stream. */
  private link(from: TailPosition, to: TailPosition): void {
    setBounded(this.finished, posKey(from), to);
    const b = this.base.get(key(from));
    if (b !== undefined) setBounded(this.base, key(to), b + from.offset - to.offset);
    if (this.acked && posKey(this.acked) === posKey(from)) {
      this.acked = to;
      this.checkpoint?.touch();
    }
  }

  private setBase(id: FileIdentity, base: number): void {
    setBounded(this.base, key(id), base);
  }

  private identityOf(f: ChainFile): { path: string; dev: number; ino: number } {
    return { path: f.name, dev: f.dev, ino: f.ino };
  }

  private positionOf(f: ChainFile, offset: number): TailPosition {
    return { path: f.name, dev: f.dev, ino: f.ino, offset };
  }

  private overlong(file: ChainFile, bytes: number, end: number): void {
    this.counts.overlongLines++;
    tailMetrics.overlongLines.inc();
    if (worthLogging(this.counts.overlongLines)) {
      this.log.warn({ file: file.name, endOffset: end, bytes, limit: MAX_LINE, count: this.counts.overlongLines }, 'over-long line dropped');
    }
  }

  private countRotation(kind: 'rename' | 'delete' | 'copytruncate'): void {
    this.counts.rotations++;
    tailMetrics.rotations.inc({ kind });
  }

  private countTruncation(): void {
    this.counts.truncations++;
    tailMetrics.truncations.inc();
  }

  // -------------------------------------------------------------------------------------------------
  // acks and the checkpoint

  ack(pos: TailPosition, lastStamp?: string | null): void {
    let p = pos;
    // A finished file's end is the next file's start: checkpoint that, so the old file may go away.
    for (let hops = 0; hops < KEEP_FILES; hops++) {
      const n = this.finished.get(posKey(p));
      if (!n) break;
      p = n;
    }
    this.acked = { path: p.path, dev: p.dev, ino: p.ino, offset: p.offset };
    if (lastStamp) this.lastStamp = lastStamp;
    if (!this.closed) this.checkpoint?.touch();
  }

  private snapshot(): Checkpoint | null {
    const acked = this.acked;
    if (!acked) return null;
    const head = this.heads.get(key(acked));
    return makeCheckpoint(this.opts.path, acked, this.lastStamp, head !== undefined ? { head } : {});
  }

  /** The lag with the current size of the file being read (it grows while the consumer does not pull). */
  async currentLag(): Promise<number> {
    const cur = this.cur;
    if (cur && !this.closed) {
      try {
        const size = (await cur.file.fh.stat()).size;
        if (size > cur.knownSize) cur.knownSize = size;
      } catch {
        // switched or closed meanwhile: the sizes known so far
      }
    }
    return this.lagBytes();
  }

  private lagBytes(): number {
    const cur = this.cur;
    const acked = this.acked;
    if (!cur || !acked) return 0;
    const curBase = this.base.get(key(cur.file));
    const ackedBase = this.base.get(key(acked));
    if (curBase === undefined || ackedBase === undefined) return 0;
    let end = curBase + cur.knownSize;
    for (const q of this.queue) end += q.file.size - q.start;
    return Math.max(0, end - (ackedBase + acked.offset));
  }

  stats(): TailStats {
    return {
      bytesRead: this.counts.bytesRead,
      linesRead: this.counts.linesRead,
      overlongLines: this.counts.overlongLines,
      rotations: this.counts.rotations,
      truncations: this.counts.truncations,
      checkpointWrites: this.checkpoint?.writes ?? 0,
      checkpointFailures: this.checkpoint?.failures ?? 0,
      handedOut: this.handedOut,
      acked: this.acked,
      lagBytes: this.lagBytes(),
    };
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.watcher?.close();
    this.watcher = null;
    await this.readsDone();
    await this.checkpoint?.close();
    this.unregisterLag?.();
    const files = [...(this.cur ? [this.cur.file] : []), ...this.queue.map((q) => q.file)];
    this.cur = null;
    this.queue = [];
    await closeAll(files);
    this.log.info({ acked: this.acked, lastStamp: this.lastStamp }, 'tailer closed');
  }
}

export async function openFileTailer(opts: TailerOptions, log: Logger): Promise<FileTailer> {
  const t = new FileTailer(opts, log);
  await t.start();
  return t;
}
