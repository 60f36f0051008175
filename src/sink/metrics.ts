// Metrics every sink shares: events out, failed writes, time to durability.
import { Counter, Histogram } from 'prom-client';
import { registry } from '../metrics';

export const sinkMetrics = {
  eventsOut: new Counter({
    name: 'auditflow_events_out_total',
    help: 'Events durably written by a sink (ndjson file/stdout, recorder, kafka), by sink name',
    labelNames: ['sink'] as const,
    registers: [registry],
  }),
  writeErrors: new Counter({
    name: 'auditflow_sink_write_errors_total',
    help: 'Sink writes that failed and are retried (the pipeline waits: the checkpoint does not move past them)',
    labelNames: ['sink'] as const,
    registers: [registry],
  }),
  dropped: new Counter({
    name: 'auditflow_sink_dropped_total',
    help: 'Events a sink could not deliver and gave up on, by reason (stdout reader gone: EPIPE)',
    labelNames: ['sink', 'reason'] as const,
    registers: [registry],
  }),
  writeSeconds: new Histogram({
    name: 'auditflow_sink_write_seconds',
    help: 'Time from a sink write() to the events being durable, by sink',
    labelNames: ['sink'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  }),
};
