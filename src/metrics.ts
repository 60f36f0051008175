// One prom-client registry for the process; every component registers its own metrics here (all named
// auditflow_*), and the HTTP server serves it on /metrics.

import { collectDefaultMetrics, Registry } from 'prom-client';

export const registry = new Registry();

let defaults = false;
/** Process metrics (CPU, memory, event loop lag); only for long-running commands, not for tests. */
export function enableDefaultMetrics(): void {
  if (defaults) return;
  defaults = true;
  collectDefaultMetrics({ register: registry, prefix: 'auditflow_' });
}
