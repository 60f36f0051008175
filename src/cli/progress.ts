// A progress bar on stderr for long runs over files, only when stderr is a terminal (never in pipes or CI).

import { terminalText } from '../io/terminal-text';

export class Progress {
  private done = 0;
  private last = 0;
  private readonly started = Date.now();
  private readonly enabled: boolean;

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = Boolean(stream.isTTY) && total > 0;
  }

  add(bytes: number): void {
    if (!this.enabled) return;
    this.done += bytes;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const frac = Math.min(1, this.done / this.total);
    const width = 30;
    const filled = Math.round(frac * width);
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? this.done / secs / 1e6 : 0;
    // only the bar's own carriage return drives the terminal; the text goes through the one escaper
    this.stream.write('\r' + terminalText(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${rate.toFixed(1)} MB/s `));
  }

  finish(): void {
    if (this.enabled) this.stream.write('\r\x1b[K');
  }
}
