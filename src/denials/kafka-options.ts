// Options of the Kafka source, apart from the source itself so that loading the CLI does not load kafkajs
// (a quarter second of startup) unless a query reads Kafka.

import type { ClientOptions } from '../kafka/client';

export const SKEW_MS = 5 * 60_000;

export interface KafkaSourceOptions extends ClientOptions {
  topic: string;
  /** Epoch ms: window start (inclusive); undefined reads from the earliest retained message. */
  since?: number;
  /**
   * Epoch ms: window end. It cannot end the read early: a node that was cut off from the broker sends its
   * spooled (older) events late, so any message up to the end offset may hold an event inside the window.
   */
  until?: number;
  /** Bound on the whole read, ms. */
  timeoutMs: number;
}

export class KafkaSourceError extends Error {}
