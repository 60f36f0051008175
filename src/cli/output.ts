// Batched line output that honours backpressure: lines are joined per input chunk and written once;
// when the stream's buffer is full, flush() waits for 'drain' so memory stays bounded on slow consumers.

import { once } from 'node:events';

export class OutputWriter {
  private buf: string[] = [];
  private closed = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    // A reader that went away (`| head`) is not an error of ours: stop writing quietly.
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  line(s: string): void {
    this.buf.push(s);
  }

  async flush(): Promise<void> {
    if (this.buf.length === 0 || this.closed) {
      this.buf = [];
      return;
    }
    const text = this.buf.join('\n') + '\n';
    this.buf = [];
    if (!this.stream.write(text)) {
      await Promise.race([once(this.stream, 'drain'), once(this.stream, 'close')]);
    }
  }
}
