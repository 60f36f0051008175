// pino JSON logs on stderr, so stdout stays clean for NDJSON output. Level: AUDITFLOW_LOG_LEVEL (default info).

import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.AUDITFLOW_LOG_LEVEL ?? 'info', base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
