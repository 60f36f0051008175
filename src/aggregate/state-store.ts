// Durable session state. The aggregator commits a partition's offsets only after the sessions those
// messages fed are stored here, so a crash or a rebalance never loses recorded content: the next owner of
// the partition loads the stored sessions and re-reads only messages after the commit (applying one twice
// is harmless: sessions are set unions).
//
// Default: a compacted Kafka topic (`auditflow.aggregator-state.<group>`), one message per session keyed by its
// id, the latest snapshot winning. It is the store that every instance can read: when an instance dies,
// the survivor that takes its partitions finds their sessions there, which a local file on the dead
// instance's disk could not offer. The file store (`--state-dir`) is for a single instance (or instances
// sharing a volume), e.g. without permission to create topics.

import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Partitioners, type Admin, type Consumer, type Kafka, type Producer } from 'kafkajs';
import { syncDir, writeFileAtomic } from '../io/atomic';
import type { Logger } from '../log';
import { parseSession, type SessionState } from '../recording/session';

export interface StateStore {
  readonly description: string;
  start(): Promise<void>;
  /** The stored sessions of these partitions, including every save made (by any instance) before the call. */
  load(partitions: readonly number[]): Promise<SessionState[]>;
  /** Resolves once the snapshots are durable. */
  save(states: readonly SessionState[]): Promise<void>;
  close(): Promise<void>;
}

/** The state topic of a consumer group: `auditflow.aggregator-state.<group>` (groups never share sessions). */
export function defaultStateTopic(group: string): string {
  return `auditflow.aggregator-state.${group}`;
}

/**
 * Creates the topic unless it exists and waits until its partitions have a leader. (kafkajs's own
 * waitForLeaders gives up with UNKNOWN_TOPIC_OR_PARTITION on a freshly started broker.)
 */
export async function ensureTopic(admin: Admin, topic: string, configEntries: Array<{ name: string; value: string }>, numPartitions?: number): Promise<void> {
  if (!(await admin.listTopics()).includes(topic)) {
    // (-1: the broker's num.partitions.) A failure here is not final: another instance may have created the
    // topic meanwhile, or we may lack the right to create one that an operator provisions; the wait decides.
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: numPartitions ?? -1, configEntries }] }).catch(() => undefined);
  }
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      if (md.topics[0]?.partitions.length && md.topics[0].partitions.every((p) => p.leader >= 0)) return;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
    if (Date.now() > end) throw new Error(`topic ${topic} has no leader after 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class KafkaStateStore implements StateStore {
  readonly description: string;
  private admin: Admin | null = null;
  private producer: Producer | null = null;
  private reader: Consumer | null = null;
  private readonly latest = new Map<string, SessionState>();
  /** Next offset to read, per partition of the state topic. */
  private readonly position = new Map<number, number>();
  private corrupt = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly group: string,
    private readonly log: Logger,
  ) {
    this.description = `compacted Kafka topic ${topic}`;
  }

  async start(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await ensureTopic(this.admin, this.topic, [{ name: 'cleanup.policy', value: 'compact' }], 1);
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await this.producer.connect();
    // A reader of the whole topic, in its own throwaway group (it never commits): it keeps the latest
    // snapshot of every session so that load() after a rebalance needs no extra round trips.
    this.reader = this.kafka.consumer({ groupId: `${this.group}.state-reader.${randomUUID()}`, maxWaitTimeInMs: 500 });
    await this.reader.connect();
    await this.reader.subscribe({ topic: this.topic, fromBeginning: true });
    await this.reader.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const key = m.key?.toString('utf8');
          if (key !== undefined) {
            if (m.value === null) this.latest.delete(key);
            else {
              const s = parseSession(m.value.toString('utf8'));
              if (s) this.latest.set(key, s);
              else if (this.corrupt++ < 5) this.log.warn({ key }, 'state topic: skipping a snapshot that is not a session');
            }
          }
          this.position.set(batch.partition, Number(m.offset) + 1);
        }
      },
    });
  }

  async load(partitions: readonly number[]): Promise<SessionState[]> {
    const end = Date.now() + 120_000;
    const highs = await this.admin!.fetchTopicOffsets(this.topic);
    for (;;) {
      const behind = highs.filter((h) => (this.position.get(h.partition) ?? 0) < Number(h.high));
      if (behind.length === 0) break;
      if (Date.now() > end) throw new Error(`state topic ${this.topic}: reader did not catch up within 120 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const want = new Set(partitions);
    return [...this.latest.values()].filter((s) => want.has(s.partition)).map((s) => structuredClone(s));
  }

  async save(states: readonly SessionState[]): Promise<void> {
    if (states.length === 0) return;
    await this.producer!.send({
      topic: this.topic,
      acks: -1,
      messages: states.map((s) => ({ key: s.id, value: JSON.stringify(s) })),
    });
  }

  async close(): Promise<void> {
    await this.reader?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}

export class FileStateStore implements StateStore {
  readonly description: string;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    this.description = `state files in ${dir}`;
  }

  async start(): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true });
  }

  private file(id: string): string {
    // session ids hold container ids and recording names: hash them rather than trust them as paths
    return path.join(this.dir, `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.session.json`);
  }

  async load(partitions: readonly number[]): Promise<SessionState[]> {
    const want = new Set(partitions);
    const out: SessionState[] = [];
    for (const f of await fs.promises.readdir(this.dir)) {
      if (!f.endsWith('.session.json')) continue;
      const s = parseSession(await fs.promises.readFile(path.join(this.dir, f), 'utf8').catch(() => ''));
      if (!s) {
        this.log.warn({ file: f }, 'state dir: skipping a file that is not a session');
        continue;
      }
      if (want.has(s.partition)) out.push(s);
    }
    return out;
  }

  async save(states: readonly SessionState[]): Promise<void> {
    // each file atomically (src/io/atomic.ts), the directory synced once for all of them
    for (const s of states) await writeFileAtomic(this.file(s.id), JSON.stringify(s), { syncDir: false });
    if (states.length) await syncDir(this.dir);
  }

  async close(): Promise<void> {}
}
