// Per-container rate limit for full events (denials, unrecorded seccomp logs): a token bucket per key. What
// it holds back is not dropped silently: it is counted per key and record type and reported in a
// `auditflow.suppressed/v1` summary message once per flush interval (and in a metric).

import type { ContainerRef, EventV1, PodRef } from '../../event/v1';
import { SUPPRESSED_SCHEMA, type SuppressedMessage } from '../../kafka/messages';

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
  byType: Record<string, number>;
  since: string;
  until: string;
  container: ContainerRef | null;
  pod: PodRef | null;
}

export class EventRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly perSecond: number,
    private readonly node: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** false: suppress this event (it is counted for the next summary). */
  allow(key: string, ev: EventV1): boolean {
    if (this.take(key, ev, 1) === 1) return true;
    this.hold(key, 1, ev.type, ev.timestamp, ev.timestamp);
    return false;
  }

  /** How many of `n` events of `key` like `ev` may go out now; the rest must be hold()'s. */
  take(key: string, ev: EventV1, n: number): number {
    const t = this.now();
    const burst = this.perSecond * 2;
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: burst, at: t, suppressed: 0, byType: {}, since: '', until: '', container: ev.container, pod: ev.pod };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    const k = Math.min(n, Math.floor(b.tokens));
    b.tokens -= k;
    return k;
  }

  /** `n` events of `key` and record type `type` held back, stamped from `since` to `until` (after take()). */
  hold(key: string, n: number, type: string, since: string, until: string): void {
    const b = this.buckets.get(key)!;
    // the span of what was held back: a batch's runs go by process, not by time (RFC 3339 UTC stamps sort as text)
    if (b.suppressed === 0 || since < b.since) b.since = since;
    if (b.suppressed === 0 || until > b.until) b.until = until;
    b.suppressed += n;
    b.byType[type] = (b.byType[type] ?? 0) + n;
  }

  /** Summaries of what was suppressed since the last call; idle full buckets are forgotten. */
  takeSummaries(): Array<{ key: string; message: SuppressedMessage }> {
    const out: Array<{ key: string; message: SuppressedMessage }> = [];
    const t = this.now();
    for (const [key, b] of this.buckets) {
      if (b.suppressed > 0) {
        out.push({
          key,
          message: { schema: SUPPRESSED_SCHEMA, node: this.node, container: b.container, pod: b.pod, count: b.suppressed, byType: b.byType, since: b.since, until: b.until },
        });
        b.suppressed = 0;
        b.byType = {};
      } else if (t - b.at > 60_000) {
        this.buckets.delete(key);
      }
    }
    return out;
  }
}
