// One JSON object per line, to stdout or a file, in schema v1 or mapped to ECS / OCSF.
//
// write() resolves when the batch is durable as far as this sink can make it: for a file, written and
// fdatasync'ed (one sync per batch, not per event); for stdout, handed to the kernel (a pipe or terminal has
// no durability beyond that). A file write that fails (disk full) is retried with a backoff and write() does
// not resolve meanwhile, so the checkpoint does not move past it. A stdout whose reader has gone (EPIPE)
// cannot be written again: its events are counted as dropped and logged, and the pipeline goes on.
import { promises as fsp } from 'node:fs';
import type { EventV1 } from '../event/v1';
import type { Logger } from '../log';
import { formatter, type EventFormat } from './format';
import { sinkMetrics } from './metrics';
import type { EventSink } from './types';

export interface NdjsonSinkOptions {
  /** a file path (appended to), or '-' for stdout */
  output: string;
  format: EventFormat;
  log: Logger;
  /** for tests: where '-' writes; default process.stdout */
  stdout?: NodeJS.WritableStream;
  /** fdatasync each batch; default true (files only) */
  sync?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NdjsonSink implements EventSink {
  readonly name: string;
  private readonly map: (ev: EventV1) => unknown;
  private fh: fsp.FileHandle | undefined;
  private opening: Promise<fsp.FileHandle> | undefined;
  private stdoutGone = false;
  private closed = false;

  constructor(private readonly opts: NdjsonSinkOptions) {
    this.name = `ndjson:${opts.format}`;
    this.map = formatter(opts.format);
  }

  private file(): Promise<fsp.FileHandle> {
    this.opening ??= fsp.open(this.opts.output, 'a+', 0o640).then(async (fh) => {
      // a previous run killed mid-write may have left half a line: end it, so the next event starts a line
      // of its own (that half line's events were not acked, and come again)
      const { size } = await fh.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) await fh.write('\n');
      }
      return (this.fh = fh);
    });
    this.opening.catch(() => (this.opening = undefined));
    return this.opening;
  }

  async write(events: readonly EventV1[]): Promise<void> {
    if (events.length === 0) return;
    const end = sinkMetrics.writeSeconds.startTimer({ sink: this.name });
    let text = '';
    for (const ev of events) text += JSON.stringify(this.map(ev)) + '\n';
    if (this.opts.output === '-') await this.writeStdout(text, events.length);
    else await this.writeFile(text);
    end();
    sinkMetrics.eventsOut.inc({ sink: this.name }, events.length);
  }

  private writeStdout(text: string, n: number): Promise<void> {
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
          this.opts.log.error({ err: err.message, events: n }, 'stdout cannot be written (reader gone?): events of this sink are dropped from now on, and counted');
        }
        resolve();
      });
    });
  }

  private async writeFile(text: string): Promise<void> {
    const buf = Buffer.from(text, 'utf8');
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await this.file();
        // append mode: every write lands at the end; a partial write after a failure is redone whole, which may
        // duplicate a line (at-least-once) but never loses one
        let off = 0;
        while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
        if (this.opts.sync !== false) await fh.datasync();
        return;
      } catch (err) {
        sinkMetrics.writeErrors.inc({ sink: this.name });
        if (this.closed) throw err;
        if (attempt % 20 === 0) this.opts.log.error({ file: this.opts.output, err: (err as Error).message, attempt }, 'writing events failed; retrying');
        const fh = this.fh;
        this.fh = undefined;
        this.opening = undefined;
        await fh?.close().catch(() => undefined);
        await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  async flush(): Promise<void> {
    if (this.fh && this.opts.sync !== false) await this.fh.datasync();
  }

  async close(): Promise<void> {
    this.closed = true;
    const fh = this.fh;
    this.fh = undefined;
    if (fh) {
      await fh.datasync().catch(() => undefined);
      await fh.close();
    }
  }
}
