// A one-line status on stderr while `auditflow run` follows a log, only when stderr is a terminal (never
// in pipes, files or under a DaemonSet): lines, events, rate, lag. Same manner as src/cli/progress.ts.

import { terminalText } from '../io/terminal-text';

export class StatusLine {
  private readonly enabled: boolean;
  private timer: NodeJS.Timeout | undefined;
  private lastLines = 0;
  private lastAt = Date.now();

  constructor(
    private readonly read: () => { lines: number; events: number; lagSeconds: number | null },
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = Boolean(stream.isTTY);
  }

  start(): void {
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(() => this.draw(), 1000).unref();
  }

  private draw(): void {
    const s = this.read();
    const now = Date.now();
    const rate = ((s.lines - this.lastLines) * 1000) / Math.max(1, now - this.lastAt);
    this.lastLines = s.lines;
    this.lastAt = now;
    const lag = s.lagSeconds === null ? '-' : `${s.lagSeconds.toFixed(1)} s`;
    // only the line's own "\r, erase line" drives the terminal; the text goes through the one escaper
    this.stream.write('\r\x1b[K' + terminalText(`lines ${s.lines}  events ${s.events}  ${rate.toFixed(0)} lines/s  lag ${lag}`));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled) this.stream.write('\r\x1b[K');
  }
}
