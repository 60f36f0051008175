// What every tailer (file, kmsg, stream) shares: an async iterator whose next() calls run one at a time, in
// order, so a caller that asks again before the last read finished never gets two reads interleaved, and
// close() can wait for the read in flight.
import type { TailBatch } from './types';

export abstract class SerialReader {
  private busy: Promise<unknown> = Promise.resolve();

  [Symbol.asyncIterator](): AsyncIterator<TailBatch> {
    return { next: () => this.next() };
  }

  next(): Promise<IteratorResult<TailBatch>> {
    const p = this.busy.then(() => this.nextInner());
    this.busy = p.catch(() => undefined);
    return p;
  }

  /** Resolves once the read in flight, if any, has finished (never rejects). */
  protected readsDone(): Promise<unknown> {
    return this.busy;
  }

  /** One read: the next batch, or done. */
  protected abstract nextInner(): Promise<IteratorResult<TailBatch>>;
}
