// A keyed work queue for reconcilers: a key queued several times while waiting is processed once, a key
// queued while being processed is processed again afterwards (it may have changed meanwhile), keys are
// processed one at a time, and a failed key is retried with per-key exponential backoff.

import { Counter } from 'prom-client';
import type { Logger } from '../log';
import { registry } from '../metrics';
import { backoffMs } from '../retry';

const reconciles = new Counter({
  name: 'auditflow_k8s_reconciles_total',
  help: 'Reconcile runs by controller and result (ok, error: retried with backoff)',
  labelNames: ['controller', 'result'] as const,
  registers: [registry],
});

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private active: string | undefined;
  private dirty = false;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly process: (key: string) => Promise<void>,
    private readonly log: Logger,
    private readonly backoff = { initial: 200, max: 60_000 },
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.active === key) this.dirty = true;
    if (this.queued.has(key)) return;
    const t = this.timers.get(key);
    if (t) {
      clearTimeout(t);
      this.timers.delete(key);
    }
    this.queued.add(key);
    this.queue.push(key);
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length && !this.stopped) {
        const key = this.queue.shift()!;
        this.queued.delete(key);
        this.active = key;
        this.dirty = false;
        try {
          await this.process(key);
          reconciles.inc({ controller: this.name, result: 'ok' });
          this.failures.delete(key);
          if (this.dirty) this.add(key);
        } catch (e) {
          reconciles.inc({ controller: this.name, result: 'error' });
          const n = (this.failures.get(key) ?? 0) + 1;
          this.failures.set(key, n);
          const delay = backoffMs(n - 1, { initialMs: this.backoff.initial, maxMs: this.backoff.max });
          this.log.warn({ controller: this.name, key, err: e, retryInMs: delay, failures: n }, 'reconcile failed: retrying');
          if (this.dirty) this.add(key);
          else this.addAfter(key, delay);
        } finally {
          this.active = undefined;
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  /** Queues `key` once `delay` ms have passed (client-go's AddAfter); an earlier pending timer for it stands. */
  addAfter(key: string, delay: number): void {
    if (this.stopped || this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delay);
    t.unref();
    this.timers.set(key, t);
  }

  /** Nothing queued, running or waiting for a retry. */
  idle(): boolean {
    return this.queue.length === 0 && this.active === undefined && this.timers.size === 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
    await this.running;
  }
}
