// The aggregator's metrics, registered once per process on the shared registry (a process may hold several
// aggregators, e.g. in tests; they share the series).

import { sharedCounter as counter, sharedGauge as gauge } from '../metrics';

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
