// The Kafka sink's metrics, registered once per process on the shared registry (a process may hold
// several sinks, e.g. in tests; they share the series).

import { sharedCounter as counter, sharedGauge as gauge } from '../../metrics';

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
