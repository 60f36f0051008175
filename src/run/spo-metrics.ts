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

interface SeriesEntry<L extends string> {
  key: string;
  labels: Record<L, string>;
  pending: number;
}

/**
 * A counter whose label sets are bounded: LRU eviction through Counter.remove(). Increments are summed here
 * per label set and handed to prom-client when the registry collects (a scrape): prom-client's own inc()
 * checks and hashes the labels on every call, which cost about a tenth of `run --events all`'s CPU per event.
 */
export class BoundedCounter<L extends string> {
  /** key → the labels and the count not yet handed to prom-client; Map order is least recently used first */
  private readonly seen = new Map<string, SeriesEntry<L>>();

  constructor(
    readonly counter: Counter<L>,
    public maxSeries: number,
    private readonly evicted: Counter<'metric'>,
    /** the label names, in the order `inc` keys them */
    private readonly names: readonly L[],
  ) {}

  /** Counts `n` into `labels`' set; returns a token for incAgain(). */
  inc(labels: Record<L, string>, n = 1): object {
    // length-prefixed, so no label value (which a workload may choose) can make two label sets one key
    let key = '';
    for (const name of this.names) {
      const v = labels[name];
      key += `${v.length}:${v}`;
    }
    const s = this.seen.get(key);
    if (s) {
      this.seen.delete(key);
      s.pending += n;
      this.seen.set(key, s);
      return s;
    }
    const e: SeriesEntry<L> = { key, labels, pending: n };
    this.seen.set(key, e);
    while (this.seen.size > this.maxSeries) {
      const [oldest, o] = this.seen.entries().next().value as [string, { labels: Record<L, string> }];
      this.seen.delete(oldest);
      this.counter.remove(o.labels);
      this.evicted.inc({ metric: (this.counter as unknown as { name: string }).name });
    }
    return e;
  }

  /**
   * Counts `n` more into the label set whose inc() returned `token`, without building its key; false when
   * that set was evicted since (then call inc()).
   */
  incAgain(token: object, n = 1): boolean {
    const e = token as SeriesEntry<L>;
    if (this.seen.get(e.key) !== e) return false;
    this.seen.delete(e.key);
    e.pending += n;
    this.seen.set(e.key, e);
    return true;
  }

  /** Hands the pending counts to prom-client (its collect hook: runs on every scrape). */
  flush(): void {
    for (const s of this.seen.values()) {
      if (s.pending === 0) continue;
      this.counter.inc(s.labels, s.pending);
      s.pending = 0;
    }
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

function bounded<L extends string>(kind: string, labelNames: readonly L[]): BoundedCounter<L> {
  let self: BoundedCounter<L> | undefined;
  const counter = new Counter<L>({
    name: `security_profiles_operator_${kind}_profile_audit_total`,
    help: `Counter about ${kind} profile audits (SPO name), from the audit log enricher.`,
    labelNames,
    registers: [registry],
    collect: () => self?.flush(),
  });
  self = new BoundedCounter(counter, DEFAULT_MAX_SERIES, evicted, labelNames);
  return self;
}

export const spoAudit = {
  seccomp: bounded('seccomp', [...POD, 'syscall'] as const),
  selinux: bounded('selinux', [...POD, 'scontext', 'tcontext'] as const),
  apparmor: bounded('apparmor', [...POD, 'profile', 'operation', 'apparmor', 'name'] as const),
};

/** Bound each SPO audit metric to `n` label sets (AUDITFLOW_SPO_METRICS_MAX_SERIES, default 5000). */
export function setSpoMaxSeries(n: number): void {
  for (const c of Object.values(spoAudit)) c.maxSeries = n;
}
const envMax = Number(process.env.AUDITFLOW_SPO_METRICS_MAX_SERIES);
if (Number.isInteger(envMax) && envMax > 0) setSpoMaxSeries(envMax);

/**
 * The seccomp series of recent (container, pod, syscall, node, executable) keys, so that an event counts without
 * its labels being built again; cleared when full. The container id (hex) and the syscall (a table name)
 * hold no NUL, so the workload-chosen executable, last, cannot make two keys one.
 */
const seccompSeries = new Map<string, object>();
const SECCOMP_SERIES_MEMO = 4096;

/** Counts `ev` (`n` times: equal events counted at once) in the SPO-named audit metrics. */
export function observeSpoAudit(ev: EventV1, n = 1): void {
  if (!ev.pod || !ev.container) return;
  const executable = ev.exe ?? ev.comm ?? '';
  if (ev.kind === 'seccomp' && ev.syscall) {
    const key = `${ev.container.id}\0${ev.pod.uid}\0${ev.syscall}\0${ev.node}\0${executable}`;
    const token = seccompSeries.get(key);
    if (token !== undefined && spoAudit.seccomp.incAgain(token, n)) return;
    if (seccompSeries.size >= SECCOMP_SERIES_MEMO) seccompSeries.clear();
    seccompSeries.set(key, spoAudit.seccomp.inc({ node: ev.node, namespace: ev.pod.namespace, pod: ev.pod.name, container: ev.container.name ?? '', executable, syscall: ev.syscall }, n));
    return;
  }
  const base = { node: ev.node, namespace: ev.pod.namespace, pod: ev.pod.name, container: ev.container.name ?? '', executable };
  if (ev.selinux) spoAudit.selinux.inc({ ...base, scontext: ev.selinux.scontext ?? '', tcontext: ev.selinux.tcontext ?? '' }, n);
  else if (ev.apparmor) {
    const a = ev.apparmor;
    spoAudit.apparmor.inc({ ...base, profile: a.profile ?? '', operation: a.operation ?? '', apparmor: a.apparmor, name: a.name ?? '' }, n);
  }
}
