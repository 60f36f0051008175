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

import { fstatSync, statSync, watch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import { type Logger, worthLogging } from '../log';
import { MAX_LINE } from '../io/line-records';
import { closeAll, headMatches, openChain, readHead, type ChainFile } from './chain';
import { checkCheckpointPath, CheckpointWriter, loadCheckpoint, makeCheckpoint } from './checkpoint';
import { bootId } from './kmsg';
import { ByteLineSplitter } from '../io/line-splitter';
import { ByteBatch, ByteLines } from './lines';
import { registerLag, tailMetrics } from './metrics';
import { compareStamps, formatStamp, lineStamp, parseStamp, type Stamp } from './stamp';
import type { Checkpoint, FileIdentity, LostStats, TailBatch, Tailer, TailerOptions, TailPosition, TailStats } from './types';
import { SerialReader } from './serial-reader';

export const CHUNK = 256 * 1024;
const DEFAULT_BATCH = 1024;
/** Lines per batch at most while the reader is behind (a backlog). */
const CATCH_UP_BATCH = 256;
const DEFAULT_INTERVAL = 1000;
const DEFAULT_POLL = 250;
/**
 * The poll while the directory watch is up (and no interval was asked for): then it is only the fallback for a
 * change the watch missed, and each poll is a read through the thread pool. At 250 ms those reads were a fifth
 * of an idle agent's wake-ups.
 */
const WATCHED_POLL = 1000;
/**
 * After reaching the end, the next read waits at least this long, even when the directory watch says the log
 * grew at once: auditd appends record by record, and reading each few records as they come costs a read, a
 * stat and a batch through the pipeline each (the live path measured ~3x its catch-up cost per record).
 * Records then arrive in batches of up to this much time: well within the second of lag a reader is allowed.
 * 200 ms, not 50: at 10k records/s the default run spent 3.7-4.0 us a record against 5.3-5.7 (bench, warmed up,
 * alternating runs), and an agent's events reach the sinks at most 150 ms later. Never more than the poll interval.
 */
export const SETTLE_MS = 200;
/** How long open waits for the live file to (re)appear, e.g. caught between a rotation's rename and create. */
const OPEN_WAIT_MS = 2000;
/** Small maps keyed by file (stream bases, heads, finished files) keep only this many recent files. */
const KEEP_FILES = 64;

interface Cursor {
  file: ChainFile;
  splitter: ByteLineSplitter;
  /** The largest size seen for this file (for the lag). */
  knownSize: number;
  /**
   * We waited at its end: before reading what came since, make sure it is still the same content (not
   * truncated and rewritten past our offset meanwhile, as copytruncate followed by busy writes does).
   */
  verify: boolean;
  /** The last kernel stamp read from this file (what a gap to the next surviving file is measured from). */
  last: Stamp | null;
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

export class FileTailer extends SerialReader implements Tailer {
  private readonly log: Logger;
  private readonly batchLines: number;
  private readonly intervalMs: number;
  private readonly pollMs: number;
  /** the poll while the directory watch is up */
  private readonly watchedPollMs: number;
  private readonly follow: boolean;

  private cur: Cursor | null = null;
  private queue: Queued[] = [];
  /** Lines of the last chunk read, as byte ranges (of a copy of the chunk: batches outlive the read buffer). */
  private pending = new ByteLines();
  private pendingIdx = 0;
  private pendingFrom: { path: string; dev: number; ino: number } | null = null;
  /**
   * read into; with reuseBuffers, handed over as it is and read into again for the next chunk; else handed over
   * whole when a read fills most of it (then a new one), else copied out of
   */
  private buf = Buffer.allocUnsafe(CHUNK);
  private readonly reuse: boolean;
  private ended = false;
  private closed = false;
  private closing: Promise<void> | null = null;

  private changeSeq = 0;
  private wake: (() => void) | null = null;
  /** When the last read, following the live file, reached its end as it was then (0: it did not). */
  private shortReadAt = 0;
  private watcher: FSWatcher | null = null;
  /** the directory cannot be watched: polling only */
  private watchFailed = false;
  private missingWarned = false;

  private acked: TailPosition | null = null;
  private lastStamp: string | null = null;
  /** The kernel stamp of the last acked record (checkpointed as lastStamp). */
  private ackedStamp: Stamp | null = null;
  /** Batches handed out and not acked yet, with the last kernel stamp in each: an ack knows its stamp. */
  private outStamps: Array<{ pos: string; stamp: Stamp | null }> = [];
  private boot = '';
  /** The reader has more to read right now (a full chunk, queued files): checkpoints come more often. */
  private behind = false;
  private readonly lost: LostStats = { records: 0, unknownGaps: 0, last: null };
  private handedOut: TailPosition | null = null;
  private readonly checkpoint: CheckpointWriter | null;
  private unregisterLag: (() => void) | null = null;

  /** Stream coordinate of byte 0 of each recent file: offsets across rotations become comparable. */
  private readonly base = new Map<string, number>();
  /** First bytes (hex) of each recent file, stored in the checkpoint. */
  private readonly heads = new Map<string, string>();
  /** First kernel stamp of each recent file, stored in the checkpoint. */
  private readonly firsts = new Map<string, Stamp>();
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
    this.watchedPollMs = opts.pollIntervalMs === undefined ? WATCHED_POLL : this.pollMs;
    this.follow = opts.follow ?? true;
    this.reuse = opts.reuseBuffers ?? false;
    this.checkpoint = opts.checkpointPath
      ? new CheckpointWriter(opts.checkpointPath, this.intervalMs, () => this.snapshot(), this.log)
      : null;
    if (this.checkpoint) this.checkpoint.behind = () => this.behind;
  }

  // -------------------------------------------------------------------------------------------------
  // opening

  async start(): Promise<void> {
    let cp: Checkpoint | null = null;
    this.boot = await bootId().catch(() => '');
    if (this.opts.checkpointPath) {
      await checkCheckpointPath(this.opts.checkpointPath);
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
    if (cp) {
      this.lastStamp = cp.lastStamp;
      this.ackedStamp = parseStamp(cp.lastStamp);
    }
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
    this.checkpoint?.markStarted();
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
    const cpFirst = parseStamp(cp.firstStamp);
    const cpLast = parseStamp(cp.lastStamp);
    const stamped = chain.some((f) => f.first !== null);
    // The same content: the inode, the first bytes and (when both are known) the first record's stamp. A file
    // empty when checkpointed has no content to recognise it by: where the chain has stamps, it is placed by them.
    const same = (f: ChainFile) =>
      headMatches(f, cp.head) && (!cpFirst || !f.first || compareStamps(cpFirst, f.first) === 0) && (!!cp.head || !stamped || p.offset > 0);
    const exact = chain.findIndex((f) => f.dev === p.dev && f.ino === p.ino && same(f));
    if (exact >= 0 && chain[exact]!.size >= p.offset) {
      this.log.info({ file: chain[exact]!.name, offset: p.offset, lastStamp: cp.lastStamp }, 'resuming from checkpoint');
      return { at: exact, start: p.offset };
    }
    // Not there as it was. copytruncate while we were stopped: the checkpointed bytes live on in the copy.
    if (cp.head) {
      for (let j = chain.length - 1; j >= 0; j--) {
        const f = chain[j]!;
        if ((f.dev !== p.dev || f.ino !== p.ino) && same(f) && f.size >= p.offset) {
          this.countRotation('copytruncate');
          this.log.info({ file: f.name, offset: p.offset }, 'checkpointed file was copied and truncated: resuming in the copy');
          return { at: j, start: p.offset };
        }
      }
    }
    const sameIno = chain.findIndex((f) => f.dev === p.dev && f.ino === p.ino);
    const savedAt = Date.parse(cp.savedAt);
    if (!stamped || (!cpLast && !cpFirst && p.offset > 0)) {
      // No audit stamps to order files by (not an audit log): the old rules, by inode and modification time.
      if (sameIno >= 0) {
        this.countTruncation();
        this.log.warn({ file: chain[sameIno]!.name, offset: p.offset, size: chain[sameIno]!.size }, 'checkpointed file was truncated or replaced: reading it from the start');
        return { at: sameIno, start: 0 };
      }
      tailMetrics.checkpointLoadFailures.inc({ reason: 'file-gone' });
      let at = chain.findIndex((f) => f.mtimeMs >= savedAt - 1000);
      if (at < 0) at = chain.length - 1;
      this.countLostUnknown('the checkpointed file is gone and the files carry no audit stamps');
      this.log.error(
        { ino: p.ino, offset: p.offset, savedAt: cp.savedAt, from: chain[at]!.name },
        'the checkpointed file is gone (rotated away while stopped?): records between it and the oldest remaining file may be lost',
      );
      return { at, start: 0 };
    }
    // Gone (rotated out of num_logs), or replaced (truncated and rewritten, or a new file on the inode of a
    // deleted one): go on with the oldest file whose content comes after what was acked, and through the
    // chain from there. Content decides, never names or inodes.
    const ref = cpLast ?? cpFirst;
    const newer = (f: ChainFile, k: number): boolean => {
      if (f.first) return ref ? compareStamps(f.first, ref) > 0 : f.first.timeMs >= savedAt;
      // no kernel record in it yet: the live file (or a rotated file written since the checkpoint)
      return k === chain.length - 1 || f.mtimeMs >= savedAt;
    };
    let at = chain.findIndex(newer);
    if (at < 0) at = chain.length - 1;
    const next = chain[at]!;
    const replaced = next.dev === p.dev && next.ino === p.ino;
    if (replaced && !cp.head && p.offset === 0) {
      // checkpointed while still empty, and the first file written since is on its inode: that file itself
      this.log.info({ file: next.name, offset: 0, lastStamp: cp.lastStamp }, 'resuming from checkpoint');
      return { at, start: 0 };
    }
    if (replaced && !next.first) {
      // e.g. truncated in place and not written since; nothing to measure a gap against
      this.countTruncation();
      this.log.warn({ file: next.name, offset: p.offset, size: next.size }, 'checkpointed file was truncated or replaced: reading it from the start');
      return { at, start: 0 };
    }
    tailMetrics.checkpointLoadFailures.inc({ reason: replaced ? 'file-replaced' : 'file-gone' });
    // What the previous run had not acked in the vanished file, and every file rotated out after it.
    const from = cpLast ? { stamp: cpLast, inclusive: false } : cpFirst && p.offset === 0 ? { stamp: cpFirst, inclusive: true } : null;
    const sameBoot = !!cp.bootId && cp.bootId === this.boot;
    const range = this.countGap(from, next, sameBoot, 'the checkpointed file is gone');
    this.log.error(
      {
        ino: p.ino,
        offset: p.offset,
        lastStamp: cp.lastStamp,
        savedAt: cp.savedAt,
        from: next.name,
        first: next.first ? formatStamp(next.first) : null,
        queued: chain.slice(at + 1).map((f) => f.name),
        lost: range,
      },
      range === 'none'
        ? 'the checkpointed file is gone (rotated away while stopped): resuming with the next file of the chain, nothing lost'
        : 'the checkpointed file is gone (rotated away while stopped): resuming with the oldest surviving newer file; records between it and the checkpoint may be lost',
    );
    return { at, start: 0 };
  }

  /**
   * Counts the serials between `from` (the last record read or acked; inclusive: the first unread one) and
   * the first record of `next` as lost. Returns the range, 'none', or 'unknown'.
   */
  private countGap(
    from: { stamp: Stamp; inclusive: boolean } | null,
    next: ChainFile,
    sameBoot: boolean,
    why: string,
  ): { fromSerial: number; toSerial: number; records: number } | 'none' | 'unknown' {
    if (!from || !next.first || !sameBoot || next.first.serial < from.stamp.serial || compareStamps(next.first, from.stamp) < 0) {
      this.countLostUnknown(`${why}: ${!from ? 'no stamp was acked' : !next.first ? 'the next file has no audit record yet' : 'another boot (serials restarted)'}`);
      return 'unknown';
    }
    const fromSerial = from.stamp.serial + (from.inclusive ? 0 : 1);
    const toSerial = next.first.serial - 1;
    if (toSerial < fromSerial) return 'none';
    const records = toSerial - fromSerial + 1;
    this.lost.records += records;
    this.lost.last = { fromSerial, toSerial, at: new Date().toISOString() };
    tailMetrics.lostRecords.inc(records);
    tailMetrics.lastLostFirst.set(fromSerial);
    tailMetrics.lastLostLast.set(toSerial);
    // An upper bound, never less than what was lost: serials the kernel never wrote to this log (auditd
    // down, rate limit) and records a killed run delivered but had not checkpointed are in the range too.
    this.log.error(
      { fromSerial, toSerial, records, upperBound: true, next: next.name, totalLost: this.lost.records },
      `${why}: at most ${records} audit records (serials ${fromSerial}-${toSerial}) were deleted before they could be read (an upper bound: the range also holds serials never written to this log and records a killed run delivered but had not checkpointed)`,
    );
    return { fromSerial, toSerial, records };
  }

  private countLostUnknown(why: string): void {
    this.lost.unknownGaps++;
    tailMetrics.lostUnknown.inc();
    this.log.error({ unknownGaps: this.lost.unknownGaps }, `${why}: records may have been lost, how many is unknown`);
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
    if (file.first) setBounded(this.firsts, key(file), file.first);
    const splitter = new ByteLineSplitter(MAX_LINE, (bytes, end) => this.overlong(file, bytes, end), start);
    return { file, splitter, knownSize: Math.max(file.size, start), verify: false, last: null };
  }

  /**
   * Watches the log's directory while the tailer waits at the end of the log, and only then: auditd appends
   * record by record, and a watch left on while reading woke the event loop for each of them (at 10k
   * records/s that cost more CPU than reading them). The first change stops it; atEof() starts it again
   * before it looks at the file, so a change after that look is never missed.
   */
  private startWatch(): void {
    if (!this.follow || this.closed || this.watcher || this.watchFailed) return;
    try {
      const w = watch(path.dirname(this.opts.path), { persistent: true }, () => {
        this.changeSeq++;
        this.stopWatch();
        this.wake?.();
      });
      w.on('error', (e) => {
        this.watchFailed = true;
        this.log.warn({ err: e.message }, 'directory watch failed: polling only');
        if (this.watcher === w) this.stopWatch();
        else w.close();
      });
      this.watcher = w;
    } catch (e) {
      this.watchFailed = true;
      this.log.warn({ err: e }, 'cannot watch the log directory: polling only');
    }
  }

  private stopWatch(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  // -------------------------------------------------------------------------------------------------
  // reading

  protected async nextInner(): Promise<IteratorResult<TailBatch>> {
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      if (this.pendingIdx < this.pending.length) return { done: false, value: this.takeBatch() };
      if (this.shortReadAt !== 0) await this.settle();
      const r = await this.fill();
      if (r.kind === 'end') return { done: true, value: undefined };
      if (r.kind === 'idle') await this.idle(r.seq);
    }
  }

  private takeBatch(): TailBatch {
    // Small batches while catching up: the consumer acks (and the checkpoint moves) soon after a start, so a
    // process killed a second after it started still makes progress.
    const limit = this.behind ? Math.min(this.batchLines, CATCH_UP_BATCH) : this.batchLines;
    const n = Math.min(limit, this.pending.length - this.pendingIdx);
    const lines = this.pending.slice(this.pendingIdx, this.pendingIdx + n);
    const end = this.pending.offsets[this.pendingIdx + n - 1]!;
    // the newest stamp: a line or two from the end, decoded alone
    let stamp: Stamp | null = null;
    for (let i = n - 1; i >= 0 && !stamp; i--) stamp = lineStamp(lines.text(i));
    this.pendingIdx += n;
    if (this.pendingIdx >= this.pending.length) this.emptyPending();
    const from = this.pendingFrom!;
    const position: TailPosition = { path: from.path, dev: from.dev, ino: from.ino, offset: end };
    this.handedOut = position;
    this.outStamps.push({ pos: posKey(position), stamp });
    // bounded: a consumer that never acks must not grow this (its stamps are then only approximate)
    if (this.outStamps.length > 4096) this.outStamps.splice(0, this.outStamps.length - 4096);
    this.counts.linesRead += n;
    tailMetrics.linesRead.inc(n);
    return new ByteBatch(lines, position);
  }

  /**
   * The last read took all there was: the next one waits until SETTLE_MS after it. Without this, a read that
   * found a few records was followed, as soon as they were processed, by another that found the few auditd had
   * appended meanwhile: at 10k records/s the reader made ~120 reads a second, each a trip through the thread
   * pool and a batch through the pipeline, and spent more CPU per record than auditd. A read that ends at EOF
   * waits the same way (idle()), and closing ends either wait at once.
   */
  private settle(): Promise<void> {
    const left = this.shortReadAt + Math.min(SETTLE_MS, this.pollMs) - Date.now();
    this.shortReadAt = 0;
    if (left <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, left);
      // only closing cuts it short (a directory change left watched from an idle wait must not)
      this.wake = () => {
        if (!this.closed) return;
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  /** Wait for a change in the directory (or the poll interval), unless one came since `seq`. */
  private idle(seq: number | undefined): Promise<void> {
    if (this.closed) return Promise.resolve();
    const settle = Math.min(SETTLE_MS, this.pollMs);
    if (seq !== undefined && seq !== this.changeSeq) return new Promise((resolve) => setTimeout(resolve, settle));
    const since = Date.now();
    return new Promise((resolve) => {
      let t: NodeJS.Timeout;
      const done = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
      t = setTimeout(done, this.watcher ? this.watchedPollMs : this.pollMs);
      // a change: read after the settle time (closing wakes at once)
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        if (this.closed) resolve();
        else t = setTimeout(resolve, Math.max(0, since + settle - Date.now()));
      };
    });
  }

  private async fill(): Promise<Fill> {
    const cur = this.cur;
    if (!cur || this.ended) return { kind: 'end' };
    if (cur.verify) {
      cur.verify = false;
      try {
        // (synchronous, as the head read in rewritten() and the path's stat at the end: made around every short
        // read of a live log, where the thread pool's hand-off cost more than the call; the read below stays
        // async, so the loop still yields to timers and the HTTP server on every fill)
        const size = fstatSync(cur.file.fh.fd).size;
        if (size < cur.splitter.received || this.rewritten(cur, size)) return this.truncated(cur, size);
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
      this.beginPending(cur);
      // The lines handed out refer to the chunk, and this.buf is read into again. With reuseBuffers the
      // consumer is done with them by now (it asked for more). Else a read that filled most of it (catching
      // up: the hot case) hands the buffer itself over and the next read gets a new one; a short read
      // (following a live log) is copied, so that a few bytes do not pin a whole chunk.
      let chunk: Buffer;
      if (this.reuse) chunk = this.buf.subarray(0, n);
      else if (n >= CHUNK / 2) {
        chunk = this.buf.subarray(0, n);
        this.buf = Buffer.allocUnsafe(CHUNK);
      } else chunk = Buffer.from(this.buf.subarray(0, n));
      cur.splitter.push(chunk, this.pending.add);
      this.noteStamps(cur, 0);
      // A short read reached the end as it was: what is there on the next read may be a rewrite, and while
      // following a live log it is read after the settle time.
      if (n < CHUNK) {
        cur.verify = true;
        if (this.follow && this.queue.length === 0) this.shortReadAt = Date.now();
      }
      this.behind = n === CHUNK || this.queue.length > 0;
      if (cur.splitter.received > cur.knownSize) cur.knownSize = cur.splitter.received;
      this.counts.bytesRead += n;
      tailMetrics.bytesRead.inc(n);
      return PROGRESS;
    }
    return this.atEof(cur);
  }

  /** The first and last kernel stamps of what was just read from `cur` (pending from index `from`). */
  private noteStamps(cur: Cursor, from: number): void {
    const lines = this.pending;
    if (lines.length <= from) return;
    let last: Stamp | null = null;
    for (let i = lines.length - 1; i >= from && !last; i--) last = lineStamp(lines.text(i));
    if (last) cur.last = last;
    if (!cur.file.first && last) {
      for (let i = from; i < lines.length; i++) {
        const s = lineStamp(lines.text(i));
        if (s) {
          cur.file.first = s;
          setBounded(this.firsts, key(cur.file), s);
          break;
        }
      }
    }
  }

  private readError(what: string, e: unknown): Fill {
    this.counts.readErrors++;
    tailMetrics.readErrors.inc();
    if (worthLogging(this.counts.readErrors)) {
      this.log.error({ err: e, count: this.counts.readErrors }, `${what} failed; retrying`);
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
      cur.splitter.end(this.pending.add);
      this.ended = true;
      return PROGRESS;
    }
    // watch before looking: a change after the stat below ends the wait at once
    this.startWatch();
    const seq = this.changeSeq;
    let st: import('node:fs').Stats | null;
    try {
      st = statSync(this.opts.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return this.readError(`stat ${this.opts.path}`, e);
      st = null;
    }
    const received = cur.splitter.received;
    if (st && st.dev === cur.file.dev && st.ino === cur.file.ino) {
      this.missingWarned = false;
      if (st.size < received) return this.truncated(cur, st.size);
      try {
        if (this.rewritten(cur, st.size)) return this.truncated(cur, st.size);
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
  private rewritten(cur: Cursor, size: number): boolean {
    const known = cur.file.head;
    const now = readHead(cur.file.fh, size);
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
      // Ours was deleted: the files whose content comes after ours come next (by their first records' stamps;
      // by modification time for files without any).
      const last = cur.last;
      newer = chain.filter((f, k) =>
        k === chain.length - 1 || (f.first && last ? compareStamps(f.first, last) > 0 : f.mtimeMs >= ownMtimeMs),
      );
      kind = 'delete';
    }
    const keep = new Set(newer);
    await closeAll(chain.filter((f) => !keep.has(f)));
    if (newer.length === 0) return { kind: 'idle', seq };
    this.countRotation(kind);
    this.log.info({ from: cur.file.name, ino: cur.file.ino, next: newer.map((f) => f.name), kind }, 'log rotated');
    this.queue = newer.slice(1).map((file) => ({ file, start: 0 }));
    await this.switchTo(cur, { file: newer[0]!, start: 0 });
    this.noteStamps(cur, 0); // its last line, if it had no newline
    // Deleted while we read it: files rotated out between it and the next survivor were never opened.
    if (kind === 'delete' && cur.last) {
      this.countGap({ stamp: cur.last, inclusive: false }, newer[0]!, true, `${cur.file.name} was deleted while being read`);
    }
    return PROGRESS;
  }

  private async truncated(cur: Cursor, size: number): Promise<Fill> {
    let chain: ChainFile[] = [];
    try {
      chain = await openChain(this.opts.path);
    } catch (e) {
      this.log.warn({ err: e }, 'cannot list rotated files to look for a copytruncate copy');
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
      cur.file.head = readHead(cur.file.fh, size);
    } catch {
      cur.file.head = Buffer.alloc(0);
    }
    this.cur = this.cursor(cur.file, 0);
    return PROGRESS;
  }

  /** `cur` is complete: its last line (even without newline) goes out, then reading continues in `next`. */
  private async switchTo(cur: Cursor, next: Queued): Promise<void> {
    this.beginPending(cur);
    cur.splitter.end(this.pending.add);
    const from = this.positionOf(cur.file, cur.splitter.committed);
    const to = this.positionOf(next.file, next.start);
    this.link(from, to);
    await cur.file.fh.close().catch(() => undefined);
    this.cur = this.cursor(next.file, next.start);
  }

  /** Lines of a new chunk (or a file's last line) go into pending: every line before has been handed out. */
  private beginPending(cur: Cursor): void {
    this.emptyPending();
    this.pendingFrom = this.identityOf(cur.file);
  }

  /**
   * Every pending line has been handed out. Reused arrays are only emptied (the batches sliced from them are
   * views, overwritten by the next read); else new ones, so that the batches handed out alone keep the chunk.
   */
  private emptyPending(): void {
    if (this.reuse) this.pending.reset();
    else this.pending = new ByteLines();
    this.pendingIdx = 0;
  }

  /** Reading went on from `from` (a file's end) at `to`: both are the same point of the stream. */
  private link(from: TailPosition, to: TailPosition): void {
    setBounded(this.finished, posKey(from), to);
    const b = this.base.get(key(from));
    if (b !== undefined) setBounded(this.base, key(to), b + from.offset - to.offset);
    if (this.acked && posKey(this.acked) === posKey(from)) {
      this.acked = to;
      this.checkpoint?.urgent();
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
    const crossed = this.acked !== null && key(this.acked) !== key(p);
    this.acked = { path: p.path, dev: p.dev, ino: p.ino, offset: p.offset };
    // the newest kernel stamp among the batches this ack covers (the tailer's own: the consumer's may be
    // auditd's DAEMON_* counter)
    const k = posKey(pos);
    const idx = this.outStamps.findIndex((o) => o.pos === k);
    let mine: Stamp | null = null;
    if (idx >= 0) {
      for (let i = idx; i >= 0 && !mine; i--) mine = this.outStamps[i]!.stamp;
      this.outStamps.splice(0, idx + 1);
    }
    if (mine) {
      this.ackedStamp = mine;
      this.lastStamp = formatStamp(mine);
    } else if (lastStamp && !this.ackedStamp) this.lastStamp = lastStamp;
    if (this.closed) return;
    if (crossed) this.checkpoint?.urgent();
    else this.checkpoint?.touch();
  }

  private snapshot(): Checkpoint | null {
    const acked = this.acked;
    if (!acked) return null;
    const head = this.heads.get(key(acked));
    const first = this.firsts.get(key(acked));
    const extra: { head?: string; bootId?: string; firstStamp?: string } = {};
    if (head !== undefined) extra.head = head;
    if (first) extra.firstStamp = formatStamp(first);
    if (this.boot) extra.bootId = this.boot;
    return makeCheckpoint(this.opts.path, acked, this.lastStamp, extra);
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
      lost: { ...this.lost, last: this.lost.last && { ...this.lost.last } },
    };
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.stopWatch();
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
