// SPO's log enricher metrics under SPO's names and label names (internal/pkg/daemon/metrics in
// kubernetes-sigs/security-profiles-operator), so SPO's dashboards and alerts keep working:
//   security_profiles_operator_seccomp_profile_audit_total{node,namespace,pod,container,executable,syscall}
//   security_profiles_operator_selinux_profile_audit_total{node,namespace,pod,container,executable,scontext,tcontext}
//   security_profiles_operator_apparmor_profile_audit_total{node,namespace,pod,container,executable,profile,operation,apparmor,name}
// As SPO, only events attributed to a container are counted. Per-pod labels are unbounded (pods come and go),
// so each metric keeps at most `maxSeries` label sets: a least-recently-used one is removed (Counter.remove)
// when a new one would exceed it, and counted in auditflow_spo_metric_series_evicted_total.

import { Counter } from 'prom-client';
import type { EventV1 } from '../event/v1';
import { registry } from '../metrics';

export const DEFAULT_MAX_SERIES = 5000;

/** A counter whose label sets are bounded: LRU eviction through Counter.remove(). */
export class BoundedCounter<L extends string> {
  private readonly seen = new Map<string, Partial<Record<L, string>>>();

  constructor(
    readonly counter: Counter<L>,
    public maxSeries: number,
    private readonly evicted: Counter<'metric'>,
  ) {}

  inc(labels: Record<L, string>, n = 1): void {
    const key = JSON.stringify(labels);
    if (this.seen.has(key)) this.seen.delete(key);
    this.seen.set(key, labels);
    while (this.seen.size > this.maxSeries) {
      const [oldest, l] = this.seen.entries().next().value as [string, Record<L, string>];
      this.seen.delete(oldest);
      this.counter.remove(l);
      this.evicted.inc({ metric: (this.counter as unknown as { name: string }).name });
    }
    this.counter.inc(labels, n);
  }

  get series(): number {
    return this.seen.size;
  }
}

const evicted = new Counter({
  name: 'auditflow_spo_metric_series_evicted_total',
  help: 'Label sets of the security_profiles_operator_*_audit_total metrics removed (least recently used) to stay within their series bound',
  labelNames: ['metric'] as const,
  registers: [registry],
});

const POD = ['node', 'namespace', 'pod', 'container', 'executable'] as const;

export const spoAudit = {
  seccomp: new BoundedCounter(
    new Counter({ name: 'security_profiles_operator_seccomp_profile_audit_total', help: 'Counter about seccomp profile audits (SPO name), from the audit log enricher.', labelNames: [...POD, 'syscall'] as const, registers: [registry] }),
    DEFAULT_MAX_SERIES,
    evicted,
  ),
  selinux: new BoundedCounter(
    new Counter({ name: 'security_profiles_operator_selinux_profile_audit_total', help: 'Counter about selinux profile audits (SPO name), from the audit log enricher.', labelNames: [...POD, 'scontext', 'tcontext'] as const, registers: [registry] }),
    DEFAULT_MAX_SERIES,
    evicted,
  ),
  apparmor: new BoundedCounter(
    new Counter({
      name: 'security_profiles_operator_apparmor_profile_audit_total',
      help: 'Counter about apparmor profile audits (SPO name), from the audit log enricher.',
      labelNames: [...POD, 'profile', 'operation', 'apparmor', 'name'] as const,
      registers: [registry],
    }),
    DEFAULT_MAX_SERIES,
    evicted,
  ),
};

/** Bound each SPO audit metric to `n` label sets (AUDITFLOW_SPO_METRICS_MAX_SERIES, default 5000). */
export function setSpoMaxSeries(n: number): void {
  for (const c of Object.values(spoAudit)) c.maxSeries = n;
}
const envMax = Number(process.env.AUDITFLOW_SPO_METRICS_MAX_SERIES);
if (Number.isInteger(envMax) && envMax > 0) setSpoMaxSeries(envMax);

/** Counts one enriched event in SPO's metric of its kind (events without a container are not counted, as in SPO). */
/** Counts `ev` (`n` times: equal events counted at once) in the SPO-named audit metrics. */
export function observeSpoAudit(ev: EventV1, n = 1): void {
  if (!ev.pod || !ev.container) return;
  const base = { node: ev.node, namespace: ev.pod.namespace, pod: ev.pod.name, container: ev.container.name ?? '', executable: ev.exe ?? ev.comm ?? '' };
  if (ev.kind === 'seccomp' && ev.syscall) spoAudit.seccomp.inc({ ...base, syscall: ev.syscall }, n);
  else if (ev.selinux) spoAudit.selinux.inc({ ...base, scontext: ev.selinux.scontext ?? '', tcontext: ev.selinux.tcontext ?? '' }, n);
  else if (ev.apparmor) {
    const a = ev.apparmor;
    spoAudit.apparmor.inc({ ...base, profile: a.profile ?? '', operation: a.operation ?? '', apparmor: a.apparmor, name: a.name ?? '' }, n);
  }
}
