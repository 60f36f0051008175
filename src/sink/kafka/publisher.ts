// Sends messages to the broker in batches, or to the spool while the broker is unreachable, and replays
// the spool in order when the broker returns. publish() resolves only when its messages are acknowledged
// (acks=all, idempotent producer) or fsync'ed in the spool.
//
// Ordering: batches go out one at a time; once anything is spooled, every later batch is spooled too until
// replay has emptied the spool, so the broker sees messages in the order they were published.
// After a failed or timed-out send the producer is replaced (a new producer id): an idempotent producer
// that gave up on a batch the broker may have written would otherwise reuse its sequence numbers, and the
// broker would take the next, different batch for a duplicate and drop it.

import { CompressionTypes, type Kafka, type Message, type Producer } from 'kafkajs';
import { MemoizedDefaultPartitioner } from '../../kafka/partitioner';
import type { Logger } from '../../log';
import { sinkMetrics } from './metrics';
import type { Spool, WireMessage } from './spool';
import { backoffMs } from '../../retry';

export interface PublisherOptions {
  lingerMs: number;
  maxBatchBytes: number;
  compression: 'gzip' | 'none';
  sendTimeoutMs: number;
}

interface Pending {
  msgs: readonly WireMessage[];
  bytes: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

class SendTimeout extends Error {}

/**
 * At most this many messages in one send: kafkajs encodes a batch synchronously, and a replay of many small
 * messages (1 MiB of 20-byte values is 50,000 of them) held the event loop, and with it every other sink, for
 * minutes.
 */
const MAX_BATCH_MESSAGES = 2000;

/** Replay of the spool while the broker is away: 250 ms doubling to 5 s. */
const REPLAY_BACKOFF = { initialMs: 250, maxMs: 5000 };

export class Publisher {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private queuedMessages = 0;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private producer: Producer | null = null;
  private connecting: Promise<Producer> | null = null;
  private spooling: boolean;
  private replaying: Promise<void> | null = null;
  private closed = false;
  private disconnecting: Promise<void> = Promise.resolve();

  constructor(
    private readonly kafka: Kafka,
    private readonly spool: Spool,
    private readonly opts: PublisherOptions,
    private readonly log: Logger,
  ) {
    this.spooling = !spool.empty;
    if (this.spooling) this.startReplay();
  }

  publish(msgs: readonly WireMessage[]): Promise<void> {
    if (msgs.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('Kafka sink is closed'));
    let bytes = 0;
    for (const m of msgs) bytes += m.value.length + m.key.length;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ msgs, bytes, resolve, reject });
      this.queuedBytes += bytes;
      this.queuedMessages += msgs.length;
      if (this.queuedBytes >= this.opts.maxBatchBytes || this.queuedMessages >= MAX_BATCH_MESSAGES) this.kick();
      else if (!this.timer) this.timer = setTimeout(() => this.kick(), this.opts.lingerMs);
    });
  }

  /** Sends (or spools) everything queued now. */
  flush(): Promise<void> {
    this.kick();
    return this.chain;
  }

  /** true while messages go to the spool (broker unreachable or replay still running). */
  get degraded(): boolean {
    return this.spooling;
  }

  /** Resolves once the spool is empty again (for shutdown and tests). */
  async drained(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    await this.flush();
    while (this.spooling || this.replaying) {
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.queuedMessages = 0;
    this.chain = this.chain.then(() => this.deliver(batch));
  }

  private async deliver(batch: Pending[]): Promise<void> {
    const msgs = batch.flatMap((p) => p.msgs);
    try {
      if (!this.spooling) {
        try {
          await this.send(msgs);
          for (const p of batch) p.resolve();
          return;
        } catch (e) {
          sinkMetrics.sendErrors.inc();
          this.log.warn({ err: e, messages: msgs.length }, 'broker unreachable: spooling to disk until it returns');
          this.spooling = true;
          // not awaited: kafkajs's disconnect waits for the requests in flight to a broker that does not answer
          // (up to its request timeout, or longer), and every sink waits on this delivery chain
          this.resetProducer();
        }
      }
      await this.spool.append(msgs);
      for (const p of batch) p.resolve();
      this.startReplay();
    } catch (e) {
      // the spool itself failed (disk full, I/O error): the caller must not ack these lines
      this.log.error({ err: e, messages: msgs.length }, 'cannot spool messages');
      for (const p of batch) p.reject(e as Error);
    }
  }

  private async getProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    if (!this.connecting) {
      // the Java client's murmur2 partitioner: a key lands on the same partition whichever client wrote it
      // (memoized per key: src/kafka/partitioner.ts)
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true, createPartitioner: MemoizedDefaultPartitioner });
      this.connecting = p.connect().then(
        () => {
          this.producer = p;
          this.connecting = null;
          return p;
        },
        (e: unknown) => {
          this.connecting = null;
          void p.disconnect().catch(() => undefined);
          throw e;
        },
      );
    }
    return this.connecting;
  }

  /** Drops the producer; its disconnect runs in the background (close() waits for it, bounded). */
  private resetProducer(): void {
    const p = this.producer;
    this.producer = null;
    if (!p) return;
    const d = p.disconnect().catch(() => undefined);
    const all = Promise.all([this.disconnecting, d]).then(() => undefined);
    this.disconnecting = all;
    void d.finally(() => {
      if (this.disconnecting === all) this.disconnecting = Promise.resolve();
    });
  }

  private async send(msgs: readonly WireMessage[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const m of msgs) {
      let list = byTopic.get(m.topic);
      if (!list) byTopic.set(m.topic, (list = []));
      list.push({ key: m.key, value: m.value, headers: m.headers });
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SendTimeout(`no acknowledgement within ${this.opts.sendTimeoutMs} ms`)), this.opts.sendTimeoutMs);
    });
    try {
      const producer = await Promise.race([this.getProducer(), timeout]);
      await Promise.race([
        producer.sendBatch({
          acks: -1,
          compression: this.opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        }),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
    for (const [topic, list] of byTopic) sinkMetrics.sent.inc({ topic }, list.length);
  }

  private startReplay(): void {
    if (this.replaying || this.closed) return;
    this.replaying = this.replay().finally(() => {
      this.replaying = null;
    });
  }

  private async replay(): Promise<void> {
    let failures = 0;
    // how far into a segment earlier attempts got, so a retry re-sends only the chunk that failed
    const progress = { seq: -1, next: 0 };
    while (!this.closed) {
      const seg = await this.spool.oldest();
      if (!seg) {
        // decide inside the delivery chain, where no batch is between "spool empty?" and "append"
        let done = false;
        await (this.chain = this.chain.then(() => {
          if (this.spool.empty) {
            this.spooling = false;
            done = true;
          }
        }));
        if (done) {
          this.log.info('spool replayed: sending directly to the broker again');
          return;
        }
        continue;
      }
      try {
        if (progress.seq !== seg.seq) Object.assign(progress, { seq: seg.seq, next: 0 });
        for (let i = progress.next; i < seg.messages.length; ) {
          let bytes = 0;
          let j = i;
          while (j < seg.messages.length && (j === i || (bytes < this.opts.maxBatchBytes && j - i < MAX_BATCH_MESSAGES))) bytes += seg.messages[j++]!.value.length;
          await this.send(seg.messages.slice(i, j));
          sinkMetrics.replayed.inc(j - i);
          i = progress.next = j;
        }
        await this.spool.remove(seg.seq);
        failures = 0;
      } catch (e) {
        sinkMetrics.sendErrors.inc();
        this.log.debug({ err: e }, 'replay: broker still unreachable');
        this.resetProducer();
        await new Promise((r) => setTimeout(r, backoffMs(failures++, REPLAY_BACKOFF)));
      }
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.replaying) await this.replaying;
    this.resetProducer();
    // bounded: a disconnect from a broker that does not answer must not hold a shutdown
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.disconnecting, new Promise<void>((r) => (timer = setTimeout(r, this.opts.sendTimeoutMs)))]);
    clearTimeout(timer);
    this.spool.close();
  }
}
