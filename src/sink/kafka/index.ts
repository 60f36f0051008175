// The Kafka event sink: enriched events to `auditflow.events`, deduplicated recording tuples and container
// end markers to `auditflow.recordings` (formats in messages.ts). write() resolves once everything it
// produced is acknowledged by the broker (acks=all) or fsync'ed in the spool (publisher.ts); with group commit
// (`auditflow run`) sync() does, for everything written before it. Either way the tailer's checkpoint never
// passes an event a crash could lose. Messages republished after a failed commit may come after later ones
// (the aggregator takes sets and the highest counts, so order does not change a profile).

import { randomUUID } from 'node:crypto';
import type { EventV1 } from '../../event/v1';
import type { Logger } from '../../log';
import type { ContainerEnd, EventSink, SeccompRun } from '../../event/sink';
import { createKafka } from '../../kafka/client';
import { RecordingDedup } from './dedup';
import {
  DEFAULT_EVENTS_TOPIC,
  DEFAULT_RECORDINGS_TOPIC,
  eventKey,
  HEADER_NODE,
  HEADER_SCHEMA,
  RECORDING_SCHEMA,
  recordingKey,
  SUPPRESSED_SCHEMA,
  type EndMessage,
  type TuplesMessage,
} from '../../kafka/messages';
import { sinkMetrics } from './metrics';
import { Publisher } from './publisher';
import { EventRateLimiter } from './rate-limit';
import { Spool, type WireMessage } from './spool';
import type { KafkaSinkOptions } from './types';

export type { KafkaSinkOptions } from './types';

export interface KafkaSink extends EventSink {
  /** Recordable events folded into tuples, and tuple messages sent for them (the dedup ratio). */
  stats(): { dedupEvents: number; tupleMessages: number; eventMessages: number; suppressed: number; spoolBytes: number; degraded: boolean };
  /** Resolves true once the spool is empty (false on timeout). */
  drained(timeoutMs: number): Promise<boolean>;
}

/**
 * Group commit's interval: what a busy node has read reaches the broker, and its checkpoint moves, at least this
 * often. Longer than the NDJSON file's 100 ms: a commit is a broker round trip and a produce request.
 */
const COMMIT_MS = 500;

export async function createKafkaSink(opts: KafkaSinkOptions, log: Logger): Promise<KafkaSink> {
  if (opts.brokers.length === 0) throw new Error('Kafka sink: no brokers given');
  const slog = log.child({ component: 'kafka-sink' });
  const eventsTopic = opts.topics?.events ?? DEFAULT_EVENTS_TOPIC;
  const recordingsTopic = opts.topics?.recordings ?? DEFAULT_RECORDINGS_TOPIC;
  const spool = await Spool.open(opts.spoolDir, opts.spoolMaxBytes ?? 256 << 20, slog);
  const kafka = createKafka(opts, slog);
  const publisher = new Publisher(
    kafka,
    spool,
    {
      // with group commit the pipeline's sync() sends what is queued at least every COMMIT_MS while busy: a
      // request per batch of the pipeline (20 a second at 10k records/s, with a few rate-limited events each)
      // cost more than its content, and kafkajs spends ~2 ms of CPU on a request however small
      lingerMs: opts.lingerMs ?? (opts.groupCommit ? COMMIT_MS : 5),
      maxBatchBytes: opts.maxBatchBytes ?? 1 << 20,
      compression: opts.compression ?? 'gzip',
      sendTimeoutMs: opts.sendTimeoutMs ?? 5000,
    },
    slog,
  );
  const dedup = new RecordingDedup(opts.node, randomUUID(), opts.recordings ?? []);
  const limiter = new EventRateLimiter(opts.eventsPerSecond ?? 100, opts.node);
  const counts = { tupleMessages: 0, eventMessages: 0, suppressed: 0 };

  // one headers object per schema, shared by its messages (kafkajs and the spool only read them): not one per event
  const headerSets = new Map<string, Record<string, string>>();
  const headers = (schema: string): Record<string, string> => {
    let h = headerSets.get(schema);
    if (!h) headerSets.set(schema, (h = { [HEADER_SCHEMA]: schema, [HEADER_NODE]: opts.node }));
    return h;
  };
  const recordingWire = (m: TuplesMessage | EndMessage): WireMessage => ({
    topic: recordingsTopic,
    key: recordingKey(m.pod, m.container),
    headers: headers(RECORDING_SCHEMA),
    value: JSON.stringify(m),
  });
  const tupleWires = (ms: TuplesMessage[]): WireMessage[] => {
    counts.tupleMessages += ms.length;
    sinkMetrics.dedupMessages.inc(ms.length);
    return ms.map(recordingWire);
  };

  // Count updates and suppression summaries are metadata: sent in the background, once per interval.
  const periodic = (): Promise<void> => {
    const msgs = tupleWires(dedup.takeChanged());
    for (const { key, message } of limiter.takeSummaries()) {
      msgs.push({ topic: eventsTopic, key, headers: headers(SUPPRESSED_SCHEMA), value: JSON.stringify(message) });
    }
    return publisher.publish(msgs);
  };
  const timer = setInterval(() => {
    periodic().catch((e: unknown) => slog.error({ err: e }, 'cannot send recording count updates'));
  }, opts.dedupIntervalMs ?? 5000);
  timer.unref();

  const eventWire = (ev: EventV1, key: string): WireMessage => ({ topic: eventsTopic, key, headers: headers(ev.schema), value: JSON.stringify(ev) });
  const suppressed = (n: number): void => {
    counts.suppressed += n;
    sinkMetrics.suppressed.inc(n);
  };
  // Group commit: the writes since the last sync(), and those whose messages could be neither sent nor spooled
  // (kept to be published again by the next sync, which fails until they are taken: their batches stay unacked).
  let unsynced: Array<Promise<void>> = [];
  let failed: WireMessage[][] = [];
  const queue = (msgs: WireMessage[]): void => {
    if (msgs.length === 0) return;
    const p = publisher.publish(msgs).catch((e: unknown) => {
      failed.push(msgs);
      throw e;
    });
    p.catch(() => undefined); // observed by sync(), maybe after it settles: not an unhandled rejection meanwhile
    unsynced.push(p);
  };
  const sync = async (): Promise<void> => {
    const retry = failed;
    failed = [];
    for (const msgs of retry) queue(msgs);
    const waiting = unsynced;
    unsynced = [];
    await publisher.flush();
    const results = await Promise.allSettled(waiting);
    const bad = results.find((r) => r.status === 'rejected');
    if (bad) throw (bad as PromiseRejectedResult).reason;
  };
  /** The events' messages, and the tuples seen for the first time, to the broker: resolves once acked or spooled (queued, with group commit). */
  const publish = async (msgs: WireMessage[], folded: number): Promise<void> => {
    counts.eventMessages += msgs.length;
    if (folded) sinkMetrics.dedupEvents.inc(folded);
    msgs.push(...tupleWires(dedup.takeFresh()));
    if (opts.groupCommit) queue(msgs);
    else await publisher.publish(msgs);
  };

  return {
    name: 'kafka',
    async write(events: readonly EventV1[]): Promise<void> {
      const msgs: WireMessage[] = [];
      let folded = 0;
      for (const ev of events) {
        if (dedup.add(ev)) {
          folded++;
          continue;
        }
        const key = eventKey(ev.pod, ev.container, ev.node);
        // Only security records are rate limited; `other` records come from the user's own audit rules.
        if (ev.kind !== 'other' && !limiter.allow(key, ev)) {
          suppressed(1);
          continue;
        }
        msgs.push(eventWire(ev, key));
      }
      await publish(msgs, folded);
    },
    // Logged or allowed SECCOMP records (the pipeline's quiet path): a recorded container's fold into tuples
    // whole, as write() folds them one by one; the others are full events under the rate limit, and only those
    // it lets through are built (a host process logging 50k records/s costs no event object per record).
    async writeSeccompRuns(runs: readonly SeccompRun[]): Promise<void> {
      const msgs: WireMessage[] = [];
      let folded = 0;
      for (const run of runs) {
        const { ev, n } = run;
        if (dedup.addRun(ev, n, run.first, run.last)) {
          folded += n;
          continue;
        }
        const key = eventKey(ev.pod, ev.container, ev.node);
        const k = limiter.take(key, ev, n);
        // the first record held back is the one after those let through: its own stamp opens the run's part of the span
        const evs = k === 0 ? [] : run.events(k < n ? k + 1 : k);
        for (let i = 0; i < k && i < evs.length; i++) msgs.push(eventWire(evs[i]!, key));
        if (k < n) {
          limiter.hold(key, n - k, ev.type, evs[k]?.timestamp ?? run.first, run.last);
          suppressed(n - k);
        }
      }
      await publish(msgs, folded);
    },
    async containerEnded(end: ContainerEnd): Promise<void> {
      const msgs = tupleWires(dedup.takeContainer(end.container.id));
      const marker: EndMessage = { schema: RECORDING_SCHEMA, type: 'end', node: opts.node, container: end.container, pod: end.pod, at: end.at, reason: end.reason };
      msgs.push(recordingWire(marker));
      sinkMetrics.endMarkers.inc();
      await publisher.publish(msgs);
    },
    ...(opts.groupCommit ? { sync, syncIntervalMs: COMMIT_MS } : {}),
    async flush(): Promise<void> {
      await periodic();
      await publisher.flush();
    },
    async close(): Promise<void> {
      clearInterval(timer);
      await periodic().catch(() => undefined);
      await publisher.close();
    },
    stats() {
      return { dedupEvents: dedup.events, ...counts, spoolBytes: spool.bytes, degraded: publisher.degraded };
    },
    drained(timeoutMs: number) {
      return publisher.drained(timeoutMs);
    },
  };
}
