// The events topic as a query source: read every partition from the start of the time window to the end
// it had when the query began, then stop. Nothing is committed: the consumer group is a throwaway (unique
// id, autoCommit off, deleted afterwards), so a query never moves anyone's offsets and two queries never
// share partitions. kafkajs has no manual partition assignment; a private group plus seek() gives the
// same result.
//
// The window start is found with the broker's time index (ListOffsets by timestamp). Message timestamps
// are when the node agent produced the event, which is at or after the audit time; a node's spool may
// hold events back, and node clocks drift, so the lookup starts SKEW_MS earlier and the exact window is
// applied to the events' own `timestamp` afterwards.

import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { EventV1 } from '../event/v1';
import { createKafka, type ClientRole } from '../kafka/client';
import type { Logger } from '../log';
import { SUPPRESSED_SCHEMA, type SuppressedMessage } from '../kafka/messages';
import { countEvent, countGarbage, countUnparsedEvent, decodeEvent, type ReadCounts } from './event-input';
import { KafkaSourceError, SKEW_MS, type KafkaSourceOptions } from './kafka-options';

/** A query has a deadline of its own; a few quick retries are enough to ride out a leader move. */
const QUERY_ROLE: ClientRole = { clientId: 'auditflow-denials', retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 } };

interface Range {
  partition: number;
  start: bigint;
  /** Exclusive: the high watermark when the query began. */
  end: bigint;
}

export async function readEventsTopic(
  opts: KafkaSourceOptions,
  onEvent: (ev: EventV1, timeMs: number) => void,
  counts: ReadCounts,
  log: Logger,
  onSuppressed?: (s: SuppressedMessage) => void,
  /** messages the caller does not want, told from their bytes (logged-seccomp.ts): counted as events, not parsed */
  unwanted?: (buf: Buffer, start: number, end: number) => boolean,
): Promise<void> {
  const kafka = createKafka(opts, log, QUERY_ROLE);
  const deadline = Date.now() + opts.timeoutMs;
  const admin = kafka.admin();
  const groupId = `auditflow-denials-${process.pid}-${randomBytes(6).toString('hex')}`;
  let consumer: Consumer | undefined;
  const where = `topic ${opts.topic} on ${opts.brokers.join(',')}`;
  try {
    await withDeadline(admin.connect(), deadline, `connecting to ${opts.brokers.join(',')}`);
    const ranges = await withDeadline(partitionRanges(admin, opts), deadline, `reading the offsets of ${where}`);
    const pending = ranges.filter((r) => r.start < r.end);
    log.debug({ topic: opts.topic, ranges: ranges.map((r) => ({ ...r, start: String(r.start), end: String(r.end) })) }, 'kafka ranges');
    if (pending.length === 0) return;

    consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500 });
    await withDeadline(consumer.connect(), deadline, `connecting the consumer to ${where}`);
    await consumer.subscribe({ topics: [opts.topic], fromBeginning: true });

    const open = new Map(pending.map((r) => [r.partition, r]));
    let finish!: () => void;
    let fail!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      finish = res;
      fail = rej;
    });
    const close = (partition: number) => {
      if (open.delete(partition) && open.size === 0) finish();
    };

    // Closing happens here rather than in eachBatch: kafkajs emits this after every batch, including those
    // holding only transaction markers or aborted records, which never reach eachBatch but take offsets.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      const r = open.get(e.payload.partition);
      if (r && e.payload.topic === opts.topic && BigInt(e.payload.lastOffset) + 1n >= r.end) close(r.partition);
    });
    consumer.on(consumer.events.CRASH, (e) => fail(new KafkaSourceError(`consumer of ${where} crashed: ${(e.payload.error as Error).message}`, { cause: e.payload.error })));
    // one message of the window, parsed: an event, a node's count of events it held back, or garbage
    const take = (value: Buffer | null, partition: number, offset: string) => {
      const text = value ? value.toString('utf8') : '';
      const d = decodeEvent(text);
      const sup = 'garbage' in d && d.garbage === 'other-schema' ? suppressedOf(text) : undefined;
      if (sup) onSuppressed?.(sup);
      else if ('garbage' in d) {
        // other producers' records on the topic (other schemas) are expected; say so only at debug
        countGarbage(counts, 'kafka', d.garbage, { topic: opts.topic, partition, offset, ...(d.field ? { field: d.field } : {}) }, text, log, d.garbage === 'other-schema' ? 0 : 5);
      } else {
        countEvent(counts, 'kafka');
        onEvent(d.ev, d.timeMs);
      }
    };
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const r = open.get(batch.partition);
        if (!r) return;
        for (const m of batch.messages) {
          const off = BigInt(m.offset);
          if (off < r.start) continue;
          if (off >= r.end) break;
          counts.inputs++;
          if (m.value && unwanted !== undefined && unwanted(m.value, 0, m.value.length)) countUnparsedEvent(counts, 'kafka');
          else take(m.value, r.partition, m.offset);
          if (off + 1n >= r.end) break;
        }
      },
    });
    for (const r of pending) consumer.seek({ topic: opts.topic, partition: r.partition, offset: String(r.start) });
    await withDeadline(done, deadline, `reading ${where} (partitions not finished: ${[...open.keys()].join(',')})`);
  } finally {
    await consumer?.disconnect().catch(() => undefined);
    if (consumer) await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

async function partitionRanges(admin: ReturnType<Kafka['admin']>, opts: KafkaSourceOptions): Promise<Range[]> {
  const topics = await admin.listTopics();
  if (!topics.includes(opts.topic)) throw new KafkaSourceError(`topic ${opts.topic} does not exist on ${opts.brokers.join(',')}`);
  const ends = await admin.fetchTopicOffsets(opts.topic);
  const starts =
    opts.since !== undefined ? await admin.fetchTopicOffsetsByTimestamp(opts.topic, Math.max(0, opts.since - SKEW_MS)) : undefined;
  return ends.map((e) => {
    const low = BigInt(e.low);
    const s = starts?.find((x) => x.partition === e.partition);
    const start = s ? BigInt(s.offset) : low;
    return { partition: e.partition, start: start < low ? low : start, end: BigInt(e.high) };
  });
}

async function withDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  const left = deadline - Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new KafkaSourceError(`timed out ${what}`)), Math.max(0, left));
  });
  try {
    return await Promise.race([p, timeout]);
  } catch (e) {
    if (e instanceof KafkaSourceError) throw e;
    throw new KafkaSourceError(`${what}: ${(e as Error).message}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

/** The node sink's summary of events its rate limit held back (see src/kafka/messages.ts). */
function suppressedOf(text: string): SuppressedMessage | undefined {
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (o['schema'] !== SUPPRESSED_SCHEMA || typeof o['count'] !== 'number' || typeof o['node'] !== 'string') return undefined;
    return o as unknown as SuppressedMessage;
  } catch {
    return undefined;
  }
}
