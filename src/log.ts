// pino JSON logs on stderr, so stdout stays clean for NDJSON output. Level: AUDITFLOW_LOG_LEVEL (default info).

import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Whether the `n`th of a kind of event is logged in full: the first `first`, then every 1000th, so that hostile
 * input or a lasting fault counts every occurrence but cannot flood the log.
 */
export function worthLogging(n: number, first = 10): boolean {
  return n <= first || n % 1000 === 0;
}

export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.AUDITFLOW_LOG_LEVEL ?? 'info', base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
