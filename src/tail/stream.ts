// A tailer over a byte stream (stdin): not seekable, so not checkpointed. Pulled like the file tailer: the
// next chunk is taken from the stream only when the consumer asks for a batch, so a slow consumer leaves
// the data in the pipe (the writer blocks) instead of in our memory.

import type { Readable } from 'node:stream';
import { type Logger, worthLogging } from '../log';
import { MAX_LINE } from '../io/line-records';
import { ByteLineSplitter } from '../io/line-splitter';
import { ByteBatch, ByteLines } from './lines';
import { tailMetrics } from './metrics';
import type { TailBatch, Tailer, TailPosition, TailStats } from './types';
import { SerialReader } from './serial-reader';

export interface StreamTailerOptions {
  /** Shown in positions and logs, e.g. "-" for stdin. */
  name: string;
  maxBatchLines?: number;
}

export class StreamTailer extends SerialReader implements Tailer {
  private readonly it: AsyncIterator<Buffer | string>;
  private readonly splitter: ByteLineSplitter;
  private pending = new ByteLines();
  private pendingIdx = 0;
  private ended = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly closedSignal: Promise<'closed'>;
  private signalClosed!: () => void;
  private readonly batchLines: number;
  private readonly log: Logger;
  private handedOut: TailPosition | null = null;
  private acked: TailPosition | null = null;
  private bytesRead = 0;
  private linesRead = 0;
  private overlongLines = 0;

  constructor(
    private readonly stream: Readable,
    private readonly opts: StreamTailerOptions,
    log: Logger,
  ) {
    super();
    this.log = log.child({ component: 'tail', source: opts.name });
    this.it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
    this.batchLines = Math.max(1, opts.maxBatchLines ?? 1024);
    this.splitter = new ByteLineSplitter(MAX_LINE, (bytes, end) => {
      this.overlongLines++;
      tailMetrics.overlongLines.inc();
      if (worthLogging(this.overlongLines)) {
        this.log.warn({ endOffset: end, bytes, limit: MAX_LINE, count: this.overlongLines }, 'over-long line dropped');
      }
    });
    this.closedSignal = new Promise((resolve) => (this.signalClosed = () => resolve('closed')));
  }

  protected async nextInner(): Promise<IteratorResult<TailBatch>> {
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      if (this.pendingIdx < this.pending.length) return { done: false, value: this.takeBatch() };
      if (this.ended) return { done: true, value: undefined };
      let r: IteratorResult<Buffer | string> | 'closed';
      try {
        r = await Promise.race([this.it.next(), this.closedSignal]);
      } catch (e) {
        tailMetrics.readErrors.inc();
        this.log.error({ err: e }, 'reading the input stream failed: ending it');
        r = { done: true, value: undefined };
      }
      if (r === 'closed') return { done: true, value: undefined };
      this.pending = new ByteLines();
      this.pendingIdx = 0;
      if (r.done) {
        this.splitter.end(this.pending.add);
        this.ended = true;
        continue;
      }
      const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      this.bytesRead += chunk.length;
      tailMetrics.bytesRead.inc(chunk.length);
      this.splitter.push(chunk, this.pending.add);
    }
  }

  private takeBatch(): TailBatch {
    const n = Math.min(this.batchLines, this.pending.length - this.pendingIdx);
    const lines = this.pending.slice(this.pendingIdx, this.pendingIdx + n);
    const end = this.pending.offsets[this.pendingIdx + n - 1]!;
    this.pendingIdx += n;
    this.linesRead += n;
    tailMetrics.linesRead.inc(n);
    const position: TailPosition = { path: this.opts.name, dev: 0, ino: 0, offset: end };
    this.handedOut = position;
    return new ByteBatch(lines, position);
  }

  /** Nothing to persist: a stream cannot be resumed. Kept for the stats. */
  ack(pos: TailPosition): void {
    this.acked = pos;
  }

  stats(): TailStats {
    return {
      bytesRead: this.bytesRead,
      linesRead: this.linesRead,
      overlongLines: this.overlongLines,
      rotations: 0,
      truncations: 0,
      checkpointWrites: 0,
      checkpointFailures: 0,
      handedOut: this.handedOut,
      acked: this.acked,
      lagBytes: Math.max(0, this.splitter.received - (this.acked?.offset ?? 0)),
    };
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.signalClosed();
      this.closing = (async () => {
        await this.readsDone();
        // Stop reading stdin so the process can exit; other streams are the caller's to end.
        if (this.stream === process.stdin) process.stdin.pause();
      })();
    }
    return this.closing;
  }
}
