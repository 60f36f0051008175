// `--kafka-config FILE`: a JSON object with the optional fields of KafkaConfigFile (clientId, topics, tls,
// sasl, spoolMaxBytes, dedupIntervalMs, lingerMs, maxBatchBytes, compression, ...). Validated here so that a
// typo fails at startup with the field named, not later as a confusing broker error. One file serves
// `run`, `aggregate` and `denials`: each takes the fields it uses.

import * as fs from 'node:fs';
import type { ClientOptions } from './client';

/** The Kafka sink's tuning (src/sink/kafka); every field has a default. */
export interface SinkTuning {
  /** Directory of the bounded on-disk spool used while the broker is unreachable. */
  spoolDir?: string;
  spoolMaxBytes?: number;
  /** Node-side dedup flush interval, ms. */
  dedupIntervalMs?: number;
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

export interface KafkaConfigFile extends Partial<ClientOptions>, SinkTuning {
  topics?: { events?: string; recordings?: string };
}

export class KafkaConfigError extends Error {}

const KNOWN = new Set([
  'clientId', 'topics', 'tls', 'sasl', 'spoolDir', 'spoolMaxBytes', 'dedupIntervalMs', 'lingerMs', 'maxBatchBytes', 'compression',
  'eventsPerSecond', 'sendTimeoutMs', 'brokers',
]);

export function readKafkaConfig(file: string): KafkaConfigFile {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new KafkaConfigError(`--kafka-config ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new KafkaConfigError(`--kafka-config ${file}: expected a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw new KafkaConfigError(`--kafka-config ${file}: unknown field "${k}"`);
  if (o.sasl !== undefined) {
    const s = o.sasl as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || !['plain', 'scram-sha-256', 'scram-sha-512'].includes(String(s.mechanism)) || typeof s.username !== 'string' || typeof s.password !== 'string') {
      throw new KafkaConfigError(`--kafka-config ${file}: sasl must be {mechanism: plain|scram-sha-256|scram-sha-512, username, password}`);
    }
  }
  if (o.tls !== undefined && typeof o.tls !== 'boolean' && (typeof o.tls !== 'object' || o.tls === null)) {
    throw new KafkaConfigError(`--kafka-config ${file}: tls must be true or {ca, cert, key, rejectUnauthorized}`);
  }
  if (o.compression !== undefined && o.compression !== 'gzip' && o.compression !== 'none') throw new KafkaConfigError(`--kafka-config ${file}: compression must be gzip or none`);
  return o as KafkaConfigFile;
}

/** `--kafka-brokers a:9092,b:9092` → list. */
export function parseBrokers(v: string): string[] {
  const list = v.split(',').map((b) => b.trim()).filter((b) => b !== '');
  for (const b of list) if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new KafkaConfigError(`--kafka-brokers: "${b}" is not HOST:PORT`);
  if (list.length === 0) throw new KafkaConfigError('--kafka-brokers: no broker given');
  return list;
}
