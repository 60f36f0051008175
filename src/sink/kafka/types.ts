// Contract between `auditflow run` (src/cli/run-command.ts) and the Kafka sink (src/sink/kafka).
// run-command builds these options from `--kafka-brokers` and `--kafka-config FILE` (a JSON object with
// the optional fields below) and calls `createKafkaSink(opts, log)` from src/sink/kafka/index.ts.

import type { RecordingSpec } from '../../profile/recording';

export interface KafkaSinkOptions {
  brokers: string[];
  clientId?: string;
  /** Node name: message key for host events, and a header on every message. */
  node: string;
  topics?: { events?: string; recordings?: string };
  /** Directory of the bounded on-disk spool used while the broker is unreachable. */
  spoolDir: string;
  spoolMaxBytes?: number;
  tls?: boolean | { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** Recordings known on the node (CLI --record); empty: send recording data for every container. */
  recordings?: RecordingSpec[];
  /** Node-side dedup flush interval, ms. */
  dedupIntervalMs?: number;
}

// Optional tuning (added by the Kafka sink; every field has a default).
export interface KafkaSinkOptions {
  /** Wait this long for more events before sending a batch; default 5 ms. */
  lingerMs?: number;
  /** Send once this many bytes of values are queued; default 1 MiB. */
  maxBatchBytes?: number;
  /** Message compression; default gzip (the codec kafkajs ships; snappy/lz4/zstd need extra packages). */
  compression?: 'gzip' | 'none';
  /** Full events (denials, host seccomp) per container per second before suppression; default 100 (burst 2x). */
  eventsPerSecond?: number;
  /** Give up a send to the broker after this long and spool instead; default 5000 ms. */
  sendTimeoutMs?: number;
}
