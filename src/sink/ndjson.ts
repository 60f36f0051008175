// One JSON object per line, to stdout or a file, in schema v1 or mapped to ECS / OCSF.
//
// write() resolves when the batch is durable as far as this sink can make it: for a regular file, written and
// fdatasync'ed (one sync per batch, not per event); for stdout, a character device (/dev/null) or a pipe,
// handed to the kernel (they have no durability beyond that, and fsync on them fails with EINVAL: they are
// not fsync'ed). The output is opened and checked at start-up (open()): a directory, a missing directory, a
// dangling symlink into one, a read-only filesystem is a permanent error, reported before anything runs.
// During the run, a transient write error (disk full, EIO) is retried with a capped backoff and write() does
// not resolve meanwhile, so the checkpoint does not move past it; the retry goes on from the byte where the
// failed write stopped, so the retry itself never duplicates a line. A permanent one is thrown at once
// (PermanentOutputError): the pipeline stops, exit 1, the checkpoint at what was written. abort() (shutdown
// grace over) ends a retry. A stdout whose reader has gone (EPIPE) cannot be written again: its events are
// counted as dropped and logged, and the pipeline goes on.
import { constants, promises as fsp, writeSync } from 'node:fs';
import type { EventV1 } from '../event/v1';
import { describeError } from '../io/input';
import { AbortedError, countIoError, PermanentOutputError } from '../io/errors';
import { retry } from '../retry';
import type { Logger } from '../log';
import { formatter, type EventFormat } from './format';
import { sinkMetrics } from './metrics';
import type { EventSink } from '../event/sink';

export interface NdjsonSinkOptions {
  /** a file path (appended to), or '-' for stdout */
  output: string;
  format: EventFormat;
  log: Logger;
  /** for tests: where '-' writes; default process.stdout */
  stdout?: NodeJS.WritableStream;
  /** fdatasync what is written; default true (regular files only) */
  sync?: boolean;
  /** fdatasync in sync() (group commit by the caller, EventSink.sync) instead of in every write() */
  groupCommit?: boolean;
}

export class NdjsonSink implements EventSink {
  readonly name: string;
  private readonly map: (ev: EventV1) => unknown;
  private fh: fsp.FileHandle | undefined;
  private opening: Promise<fsp.FileHandle> | undefined;
  private stdoutGone = false;
  private closed = false;
  /** false for outputs that cannot be fsync'ed (character devices, pipes, sockets) */
  private syncable = true;
  private readonly aborter = new AbortController();
  readonly sync?: () => Promise<void>;
  readonly renderFormat: EventFormat;

  constructor(private readonly opts: NdjsonSinkOptions) {
    this.name = `ndjson:${opts.format}`;
    this.map = formatter(opts.format);
    // stdout has nothing to sync: its writes are done when write() resolves
    if (opts.groupCommit && opts.output !== '-') this.sync = () => this.syncFile();
    this.renderFormat = opts.format;
  }

  /** Opens the output now (start-up check); a PermanentOutputError says why it cannot be written. */
  async open(): Promise<void> {
    if (this.opts.output === '-') return;
    try {
      await this.file();
    } catch (err) {
      countIoError('events', err);
      throw new PermanentOutputError(`cannot write events to ${this.opts.output}: ${describeError(err)}`, err);
    }
  }

  /** Ends a retry in progress (the shutdown grace period is over): write() then rejects. */
  abort(): void {
    this.aborter.abort(new AbortedError(`writing events to ${this.opts.output}`));
  }

  private file(): Promise<fsp.FileHandle> {
    this.opening ??= (async () => {
      const out = this.opts.output;
      const st = await fsp.stat(out).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (st?.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${out}'`), { code: 'EISDIR', syscall: 'open' });
      if (st && !st.isFile()) {
        // a character device or a FIFO/socket: write-only (never a reader of our own pipe), never fsync'ed
        this.syncable = false;
        return (this.fh = await fsp.open(out, constants.O_WRONLY | constants.O_APPEND));
      }
      const fh = await fsp.open(out, 'a+', 0o640);
      // a previous run killed mid-write may have left half a line: end it, so the next event starts a line
      // of its own (that half line's events were not acked, and come again)
      const { size } = await fh.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) await fh.write('\n');
      }
      return (this.fh = fh);
    })();
    this.opening.catch(() => (this.opening = undefined));
    return this.opening;
  }

  write(events: readonly EventV1[]): Promise<void> {
    return this.writeRendered(events);
  }

  /** EventSink.writeRendered: rendered lines as they are, the other events as write() writes them. */
  async writeRendered(items: ReadonlyArray<EventV1 | Buffer>): Promise<void> {
    const parts: Buffer[] = [];
    let events = 0;
    let text = '';
    for (const it of items) {
      if (Buffer.isBuffer(it)) {
        if (text !== '') parts.push(Buffer.from(text, 'utf8'));
        text = '';
        parts.push(it);
        events += countLines(it);
      } else {
        text += JSON.stringify(this.map(it)) + '\n';
        events++;
      }
    }
    if (text !== '') parts.push(Buffer.from(text, 'utf8'));
    if (events === 0) return;
    await this.writeOut(parts.length === 1 ? parts[0]! : Buffer.concat(parts), events);
  }

  private async writeOut(buf: Buffer, events: number): Promise<void> {
    const end = sinkMetrics.writeSeconds.startTimer({ sink: this.name });
    if (this.opts.output === '-') await this.writeStdout(buf, events);
    else await this.writeFile(buf);
    end();
    sinkMetrics.eventsOut.inc({ sink: this.name }, events);
  }

  private writeStdout(text: Buffer, n: number): Promise<void> {
    const out = this.opts.stdout ?? process.stdout;
    if (this.stdoutGone) {
      sinkMetrics.dropped.inc({ sink: this.name, reason: 'stdout-closed' }, n);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      out.write(text, (err) => {
        if (err) {
          this.stdoutGone = true;
          sinkMetrics.dropped.inc({ sink: this.name, reason: 'stdout-closed' }, n);
          this.opts.log.error({ err, events: n }, 'stdout cannot be written (reader gone?): events of this sink are dropped from now on, and counted');
        }
        resolve();
      });
    });
  }

  private async writeFile(buf: Buffer): Promise<void> {
    // how far this batch got: a retry goes on from there (append mode: each write lands at the end)
    let off = 0;
    let synced = false;
    await retry(
      async () => {
        const fh = await this.file();
        // A regular file is written synchronously: an async write costs 60-130 us of CPU in the thread-pool
        // hand-off on the 2-core VM (issue 14), against a few us of copying into the page cache, which
        // never waits on a reader. A device or FIFO (syncable false) could block the event loop: async.
        if (this.syncable) while (off < buf.length) off += writeSync(fh.fd, buf, off, buf.length - off);
        else while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
        if (!synced && !this.sync && this.opts.sync !== false && this.syncable) await this.datasync(fh);
        synced = true;
      },
      // the handle stays: a reopen could not tell how much of the batch is already in the file
      (err, attempt) => this.failed('writing', err, attempt, { written: off, of: buf.length }),
      { signal: this.aborter.signal },
    );
  }

  /** One failed attempt to write or sync: counted, and final when permanent or when the sink closed meanwhile. */
  private failed(doing: 'writing' | 'syncing', err: unknown, attempt: number, context: Record<string, unknown> = {}): void {
    sinkMetrics.writeErrors.inc({ sink: this.name });
    if (countIoError('events', err) === 'permanent') {
      this.opts.log.error({ file: this.opts.output, err }, `${doing} events failed permanently`);
      throw new PermanentOutputError(`cannot ${doing === 'writing' ? 'write' : 'sync'} events to ${this.opts.output}: ${describeError(err)}`, err);
    }
    // closed (shutdown) while retrying: final, so that the pipeline does not write into a closed sink
    if (this.closed) throw new AbortedError(`${doing} events to ${this.opts.output}`);
    if (attempt % 20 === 0) this.opts.log.error({ file: this.opts.output, err, attempt, ...context }, `${doing} events failed; retrying`);
  }

  /** fdatasync; EINVAL/ENOTSUP means this file cannot be synced at all (a special file behind a name). */
  private async datasync(fh: fsp.FileHandle): Promise<void> {
    try {
      await fh.datasync();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      this.syncable = false;
      this.opts.log.warn({ file: this.opts.output, err }, 'this output cannot be fsync\'ed: written without fsync from now on');
    }
  }

  /** The group commit: what write() wrote since the last sync is on disk once this resolves. */
  private async syncFile(): Promise<void> {
    await retry(() => this.flush(), (err, attempt) => this.failed('syncing', err, attempt), { signal: this.aborter.signal });
  }

  async flush(): Promise<void> {
    if (this.fh && this.opts.sync !== false && this.syncable) await this.datasync(this.fh);
  }

  async close(): Promise<void> {
    this.closed = true;
    const fh = this.fh;
    this.fh = undefined;
    if (fh) {
      if (this.syncable) await fh.datasync().catch(() => undefined);
      await fh.close().catch(() => undefined);
    }
  }
}

/** Lines in NDJSON bytes (each ends with a newline; JSON escapes every newline inside a value). */
function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}
