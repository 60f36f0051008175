// The contract of every event sink: NDJSON stdout/file, ECS/OCSF, Kafka, the in-process recorder.
//
// write() resolves only once the events are durably accepted (written and flushed, spooled to disk, or
// acknowledged by the broker): the pipeline acks the tailer after that, so the checkpoint never moves
// past an event a crash could lose. A sink that cannot accept more right now simply does not resolve yet
// (backpressure); it never drops silently.
//
// Retries: a sink that can retry a transient failure without duplicating anything does it itself (the
// NDJSON sink goes on from the byte a failed write stopped at; the recorder rewrites its state file), and
// what its write() then throws is final: PermanentOutputError or AbortedError, never retried. A sink that
// accepted nothing of a failed write (the Kafka sink, when its spool cannot be written) throws any other
// error, and the pipeline retries the whole write with backoff (src/retry.ts) until it is accepted or the
// shutdown grace is over.

import type { ContainerEnd } from './container-end';
import type { EventV1 } from './v1';

export type { ContainerEnd };

/**
 * SECCOMP records that only logged or were allowed, of one process, second, syscall and executable, read
 * without an event object each (the default run's hot path): the first record's event, enriched, stands for
 * all `n`; only their stamps differ, and the first and last are given.
 */
export interface SeccompRun {
  ev: EventV1;
  n: number;
  /** RFC 3339 stamps of the run's first and last record */
  first: string;
  last: string;
  /**
   * The first `max` records of the run (all when max >= n), each its own event as the general path would
   * write it: for a sink that sends a few of them whole (the Kafka sink, within its rate limit) without the
   * pipeline building an event for every record.
   */
  events(max: number): EventV1[];
}

export interface EventSink {
  readonly name: string;
  write(events: readonly EventV1[]): Promise<void>;
  /**
   * Takes logged/allowed SECCOMP records as runs instead of one event each (the recorder: it keeps sets and
   * counts, so a run is as good as its records). A route whose sink has this does not keep the pipeline off
   * its fast path; without it, every record is an event.
   */
  writeSeccompRuns?(runs: readonly SeccompRun[]): Promise<void>;
  /**
   * The format of the lines writeRendered() takes: `v1`, `ecs` or `ocsf` (src/sink/format). Set by sinks
   * that write NDJSON lines of one format, which then take SECCOMP events of `run --events all` rendered from
   * bytes or templates instead of an object each.
   */
  readonly renderFormat?: 'v1' | 'ecs' | 'ocsf';
  /**
   * Events some of which are already rendered as their NDJSON lines in renderFormat (a Buffer of one or more
   * whole lines, each byte for byte JSON.stringify of the event's document and a newline), in order; the
   * others as write() writes them.
   */
  writeRendered?(items: ReadonlyArray<EventV1 | Buffer>): Promise<void>;
  /** A container ended (from CRI); recorders close its session, the Kafka sink sends an end marker. */
  containerEnded?(end: ContainerEnd): Promise<void>;
  /**
   * Group commit: a sink with sync() may resolve write() before the events are durable; they are once a later
   * sync() resolves. The pipeline then acks a batch only after a sync() that followed its write, and syncs
   * at most every few ms while busy, so one fsync covers many batches.
   */
  sync?(): Promise<void>;
  /**
   * How often at most a busy pipeline calls sync(), ms (default 100). The pipeline syncs its sinks together, at
   * the longest interval any of them asks for: a commit costs the Kafka sink a broker round trip.
   */
  readonly syncIntervalMs?: number;
  flush(): Promise<void>;
  close(): Promise<void>;
}
