// One prom-client registry for the process; every component registers its own metrics here (all named
// auditflow_*), and the HTTP server serves it on /metrics.

import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';

export const registry = new Registry();

/** How often the event-loop lag monitors (prom-client's, /healthz's) sample, ms. */
export const LOOP_SAMPLE_MS = 1000;

let defaults = false;
/** Process metrics (CPU, memory, event loop lag); only for long-running commands, not for tests. */
export function enableDefaultMetrics(): void {
  if (defaults) return;
  defaults = true;
  // The event-loop lag histogram samples with a timer: prom-client's default of every 10 ms woke an idle
  // node agent 100 times a second, which with the /healthz monitor was ~2% of a core on the 2-core VM doing
  // nothing (issue 14: at 10k records/s that was ~2 µs a record). Lag worth alerting on is far longer, and a
  // block shows whole in the sample it falls in: once a second (at 250 ms the two monitors were still 8 of an
  // idle agent's ~27 wake-ups a second, each ~0.1 ms of CPU on this VM).
  collectDefaultMetrics({ register: registry, prefix: 'auditflow_', eventLoopMonitoringPrecision: LOOP_SAMPLE_MS });
}

function once<T extends Metric>(name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/**
 * A counter registered on first use and shared after that: a process may hold several instances of a
 * component (several sinks or aggregators in a test); they share the series.
 */
export const sharedCounter = (name: string, help: string, labelNames: string[] = []): Counter =>
  once(name, () => new Counter({ name, help, labelNames, registers: [registry] }));

/** A gauge registered on first use and shared after that (see sharedCounter). */
export const sharedGauge = (name: string, help: string, labelNames: string[] = []): Gauge =>
  once(name, () => new Gauge({ name, help, labelNames, registers: [registry] }));
