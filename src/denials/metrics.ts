// Counters of what a denials query read: every input line or message is an event or counted garbage.

import { Counter } from 'prom-client';
import { registry } from '../metrics';

export const eventsRead = new Counter({
  name: 'auditflow_denials_events_read_total',
  help: 'Schema-v1 events read by auditflow denials, by source (file, kafka)',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const garbageRead = new Counter({
  name: 'auditflow_denials_garbage_total',
  help: 'Input lines or messages auditflow denials skipped because they are not schema-v1 events, by source and reason',
  labelNames: ['source', 'reason'] as const,
  registers: [registry],
});
