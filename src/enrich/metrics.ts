// Enrichment metrics (auditflow_enrich_*, auditflow_cri_*), registered once on the process registry.
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../metrics';
import type { CriLookup } from './pod-resolver';

export const enrichMetrics = {
  results: new Counter({
    name: 'auditflow_enrich_events_total',
    help: 'Events by enrichment result (resolved, host, unresolved) and, for unresolved ones, the reason (process-gone, no-pid, socket-missing, unavailable, deadline, not-found, ...)',
    labelNames: ['result', 'reason'] as const,
    registers: [registry],
  }),
  shortLived: new Counter({
    name: 'auditflow_enrich_short_lived_total',
    help: 'Events of processes already gone when enriched, attributed anyway: remembered (pid seen alive before; exact when the stamp is inside the time it was seen), parent (through its ppid or lineage), task (the pid was a container task\'s in that time, from the runtime\'s task events), task-parent (an ancestor was)',
    labelNames: ['how'] as const,
    registers: [registry],
  }),
  taskEvents: new Counter({
    name: 'auditflow_enrich_task_events_total',
    help: "Runtime events applied to the task table: containerd's task events (create, start, exec, exit, delete), or CRI GetContainerEvents where those are not served (cri-start: pid read by ContainerStatus; cri-start-missed: the container had exited first, its pid unknown; cri-stop), and exit-confirmed: a window whose process was gone, closed from CRI's finishedAt before its exit event came. Each task's pid and lifetime, kept after exit to attribute its records",
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
  cache: new Counter({
    name: 'auditflow_enrich_cache_total',
    help: 'Enrichment cache lookups: cache pid (pid → cgroup, /proc skipped) or container (container id → pod, CRI skipped); result hit, negative-hit or miss',
    labelNames: ['cache', 'result'] as const,
    registers: [registry],
  }),
  criLatency: new Histogram({
    name: 'auditflow_cri_request_duration_seconds',
    help: 'CRI runtime.v1 calls made for enrichment, by method and outcome (ok or the error reason)',
    labelNames: ['method', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
  fallback: new Counter({
    name: 'auditflow_enrich_kube_fallback_total',
    help: 'Lookups of the Kubernetes API fallback (pods on this node by uid) when the CRI runtime could not answer: resolved, not-found, error',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
};

/** A CriLookup that times every call into auditflow_cri_request_duration_seconds. */
export function timedCri(client: CriLookup): CriLookup {
  const time = <T>(method: string, p: Promise<T>): Promise<T> => {
    const end = enrichMetrics.criLatency.startTimer({ method });
    return p.then(
      (v) => {
        end({ outcome: 'ok' });
        return v;
      },
      (err: unknown) => {
        end({ outcome: (err as { reason?: string }).reason ?? 'error' });
        throw err;
      },
    );
  };
  return {
    containerStatus: (id, o) => time('ContainerStatus', client.containerStatus(id, o)),
    podSandboxStatus: (id, o) => time('PodSandboxStatus', client.podSandboxStatus(id, o)),
    version: (o) => time('Version', client.version(o)),
    ...(client.listPodSandbox ? { listPodSandbox: (f, o) => time('ListPodSandbox', client.listPodSandbox!(f, o)) } : {}),
  };
}

/** Sizes of the process's bounded maps and caches, read at scrape time (each is bounded by count, some by age). */
const cacheSizes = new Map<string, () => number>();

export const cacheEntries = new Gauge({
  name: 'auditflow_cache_entries',
  help: 'Entries held in a bounded in-memory map or cache (pid, pid-gone, lineage, container, sandbox, held-events, coalescer, tasks, task-tombstones)',
  labelNames: ['cache'] as const,
  registers: [registry],
  collect() {
    for (const [cache, f] of cacheSizes) this.set({ cache }, f());
  },
});

/** Reports a cache's size under auditflow_cache_entries{cache=name} (the latest registration of a name wins). */
export function registerCacheSize(name: string, size: () => number): void {
  cacheSizes.set(name, size);
}
