// The Kafka sink's and the aggregator's metrics, registered once per process on the shared registry (a
// process may hold several sinks, e.g. in tests; they share the series).

import { Counter, Gauge, type Metric } from 'prom-client';
import { registry } from '../../metrics';

function once<T extends Metric>(name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

const counter = (name: string, help: string, labelNames: string[] = []) =>
  once(name, () => new Counter({ name, help, labelNames, registers: [registry] }));
const gauge = (name: string, help: string, labelNames: string[] = []) =>
  once(name, () => new Gauge({ name, help, labelNames, registers: [registry] }));

export const sinkMetrics = {
  get sent() {
    return counter('auditflow_kafka_messages_sent_total', 'Messages acknowledged by the broker, by topic', ['topic']);
  },
  get sendErrors() {
    return counter('auditflow_kafka_send_errors_total', 'Sends to the broker that failed (the messages were spooled)');
  },
  get spooled() {
    return counter('auditflow_kafka_spooled_messages_total', 'Messages written to the on-disk spool while the broker was unreachable');
  },
  get replayed() {
    return counter('auditflow_kafka_replayed_messages_total', 'Spooled messages sent once the broker returned');
  },
  get spoolBytes() {
    return gauge('auditflow_kafka_spool_bytes', 'Bytes in the on-disk spool');
  },
  get spoolFullWaits() {
    return counter('auditflow_kafka_spool_full_waits_total', 'Times a write waited because the spool was full (the tailer pauses)');
  },
  get dedupEvents() {
    return counter('auditflow_kafka_dedup_events_total', 'Recordable events folded into recording tuples');
  },
  get dedupMessages() {
    return counter('auditflow_kafka_dedup_messages_total', 'Recording tuple messages sent for them');
  },
  get suppressed() {
    return counter('auditflow_kafka_events_suppressed_total', 'Full events held back by the per-container rate limit (reported in suppressed summaries)');
  },
  get endMarkers() {
    return counter('auditflow_kafka_end_markers_total', 'Container end markers sent');
  },
};

export const aggregateMetrics = {
  get messages() {
    return counter('auditflow_aggregate_messages_total', 'Recording messages consumed, by result', ['result']);
  },
  get malformed() {
    return counter('auditflow_aggregate_malformed_messages_total', 'Messages skipped because they were not JSON or not the recording schema');
  },
  get sessions() {
    return gauge('auditflow_aggregate_sessions', 'Recording sessions held, by state', ['state']);
  },
  get profiles() {
    return counter('auditflow_aggregate_profiles_written_total', 'Profiles written, by kind and final', ['kind', 'final']);
  },
  get profileErrors() {
    return counter('auditflow_aggregate_profile_errors_total', 'Profiles that could not be built or written (bad name, I/O)');
  },
  get stateWrites() {
    return counter('auditflow_aggregate_state_writes_total', 'Session snapshots stored durably');
  },
};
