// Metrics of the node pipeline (tail → parse → enrich → sinks). Tailer, enrichment and sink metrics live
// with their modules; these are the parse and flow ones.
import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics';

let ackedTimeMs: (() => number) | null = null;

export const runMetrics = {
  heldEvents: new Counter({
    name: 'auditflow_events_held_total',
    help: 'Events of exited processes held back one delivery for their lineage record (exit_group/execve) to arrive',
    registers: [registry],
  }),
  lines: new Counter({
    name: 'auditflow_lines_total',
    help: 'Lines read by the pipeline, by result: record (parsed, possibly several per line), not-audit (other syslog/kmsg traffic), error (see auditflow_records_failed_total)',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  records: new Counter({
    name: 'auditflow_records_parsed_total',
    help: 'Audit records parsed, by record type',
    labelNames: ['type'] as const,
    registers: [registry],
  }),
  failed: new Counter({
    name: 'auditflow_records_failed_total',
    help: 'Lines that looked like audit records but could not be parsed, by reason (empty, line-too-long, nul-byte, no-audit-header, bad-type, bad-timestamp, truncated, bad-field)',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  eventOverflows: new Counter({
    name: 'auditflow_event_overflows_total',
    help: 'Audit events cut at the per-event cap (records or bytes) of the coalescer: one audit(ts:serial) with more records than any kernel event writes; the rest of its records start a new event marked truncated',
    labelNames: ['limit'] as const,
    registers: [registry],
  }),
  events: new Counter({
    name: 'auditflow_events_total',
    help: 'Events built from coalesced records, by kind (seccomp, selinux, apparmor, other) and whether they are denials',
    labelNames: ['kind', 'denial'] as const,
    registers: [registry],
  }),
  ackedLagSeconds: new Gauge({
    name: 'auditflow_checkpoint_lag_seconds',
    help: 'Age of the newest audit record whose position is acked (checkpointed): how far behind the durable position is',
    registers: [registry],
    // its age at scrape time, so that it grows while nothing is acked, with no timer keeping it up to date
    collect() {
      const t = ackedTimeMs?.() ?? 0;
      if (t > 0) this.set(Math.max(0, (Date.now() - t) / 1000));
    },
  }),
  processedLagSeconds: new Gauge({
    name: 'auditflow_pipeline_lag_seconds',
    help: 'Age of the newest audit record processed, when it was processed',
    registers: [registry],
  }),
  pendingRecords: new Gauge({
    name: 'auditflow_coalescer_pending_events',
    help: 'Multi-record audit events waiting for their remaining records',
    registers: [registry],
  }),
  sinkRetries: new Counter({
    name: 'auditflow_pipeline_sink_retries_total',
    help: 'Sink writes that threw and were retried by the pipeline (nothing is acked until they succeed)',
    labelNames: ['sink'] as const,
    registers: [registry],
  }),
  containerEnds: new Counter({
    name: 'auditflow_container_ends_total',
    help: 'Container ends seen through CRI and passed to the sinks, by reason (exited, pod-removed, stop)',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
};

// SPO's audit metric names (security_profiles_operator_*_profile_audit_total), bounded per-pod series.
export { observeSpoAudit, spoAudit, setSpoMaxSeries } from './spo-metrics';

/** The running pipeline reports the audit time (ms) of the newest record it acked; 0: none yet. The latest wins. */
export function registerAckedTime(f: () => number): void {
  ackedTimeMs = f;
}
