// SPO's metric names and label names (kubernetes-sigs/security-profiles-operator internal/pkg/daemon/metrics),
// fed from real audit records (fixtures/real): the node pipeline's security_profiles_operator_*_profile_audit_total
// with per-pod series bounded by LRU eviction, and the agent's *_profile_total / *_profile_error_total.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isRecord, parseLine } from '../../parsers';
import { spoProfileErrors, spoProfileOps } from '../../src/agent/metrics';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { registry } from '../../src/metrics';
import { observeSpoAudit, setSpoMaxSeries, spoAudit } from '../../src/run/metrics';
import { ROOT } from '../env/cli';

function events(file: string): EventV1[] {
  const out: EventV1[] = [];
  const f = path.join(ROOT, 'fixtures', 'real', file);
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    const r = line ? parseLine(line) : undefined;
    if (!r || !isRecord(r)) continue;
    out.push(eventFromRecord(r, { node: 'node-1', file: f, raw: false }));
  }
  return out;
}

const inPod = (ev: EventV1, pod = 'web-0'): EventV1 => ({
  ...ev,
  pod: { name: pod, namespace: 'team-a', uid: `uid-${pod}`, labels: {} },
  container: { id: `cid-${pod}`, name: 'web', runtime: 'containerd', image: 'busybox' } as EventV1['container'],
  enrichment: 'resolved',
});

async function series(name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const m = registry.getSingleMetric(name);
  assert.ok(m, `${name} is registered`);
  return (await m.get()).values as { labels: Record<string, string | number>; value: number }[];
}

describe("node pipeline: SPO's audit metrics", () => {
  it('seccomp: security_profiles_operator_seccomp_profile_audit_total{node,namespace,pod,container,executable,syscall}', async () => {
    const evs = events('seccomp-auditd.log').filter((e) => e.kind === 'seccomp' && e.syscall);
    assert.ok(evs.length > 3);
    for (const e of evs) observeSpoAudit(inPod(e));
    observeSpoAudit(evs[0]!); // no container: not counted, as in SPO
    const s = await series('security_profiles_operator_seccomp_profile_audit_total');
    assert.deepEqual(Object.keys(s[0]!.labels).sort(), ['container', 'executable', 'namespace', 'node', 'pod', 'syscall']);
    assert.equal(s.reduce((a, x) => a + x.value, 0), evs.length);
    assert.ok(s.some((x) => x.labels.syscall === evs[0]!.syscall && x.labels.pod === 'web-0' && x.labels.namespace === 'team-a' && x.labels.container === 'web'));
  });

  it('selinux: security_profiles_operator_selinux_profile_audit_total{...,scontext,tcontext}', async () => {
    const evs = events('avc-auditd.log').filter((e) => e.selinux);
    assert.ok(evs.length > 0);
    for (const e of evs) observeSpoAudit(inPod(e));
    const s = await series('security_profiles_operator_selinux_profile_audit_total');
    assert.deepEqual(Object.keys(s[0]!.labels).sort(), ['container', 'executable', 'namespace', 'node', 'pod', 'scontext', 'tcontext']);
    assert.ok(s.some((x) => x.labels.scontext === evs[0]!.selinux!.scontext));
  });

  it('apparmor: security_profiles_operator_apparmor_profile_audit_total{...,profile,operation,apparmor,name}', async () => {
    const evs = events('apparmor.log').filter((e) => e.apparmor);
    assert.ok(evs.length > 0);
    for (const e of evs) observeSpoAudit(inPod(e));
    const s = await series('security_profiles_operator_apparmor_profile_audit_total');
    assert.deepEqual(Object.keys(s[0]!.labels).sort(), ['apparmor', 'container', 'executable', 'name', 'namespace', 'node', 'operation', 'pod', 'profile']);
    assert.ok(s.some((x) => x.labels.apparmor === 'DENIED') && s.some((x) => x.labels.apparmor === 'ALLOWED'));
  });

  it('label values a workload chooses cannot merge two series, and counts reach a scrape', async () => {
    const ev = events('seccomp-auditd.log').find((e) => e.kind === 'seccomp' && e.syscall)!;
    const name = 'security_profiles_operator_seccomp_profile_audit_total';
    const count = async (exe: string) => (await series(name)).filter((x) => x.labels.executable === exe).reduce((a, x) => a + x.value, 0);
    // the same characters split differently between executable and pod
    observeSpoAudit({ ...inPod(ev, 'p1:'), exe: '/x2:ab' }, 2);
    observeSpoAudit({ ...inPod(ev, 'p1:/x2:'), exe: 'ab' }, 5);
    assert.equal(await count('/x2:ab'), 2);
    assert.equal(await count('ab'), 5);
    observeSpoAudit({ ...inPod(ev, 'p1:'), exe: '/x2:ab' });
    assert.equal(await count('/x2:ab'), 3, 'an increment after a scrape shows in the next one');
  });

  it('per-pod series are bounded: the least recently used label set is removed beyond the bound', async () => {
    const ev = events('seccomp-auditd.log').find((e) => e.kind === 'seccomp' && e.syscall)!;
    setSpoMaxSeries(3);
    try {
      const before = (await series('auditflow_spo_metric_series_evicted_total')).reduce((a, x) => a + x.value, 0);
      for (const pod of ['a-0', 'a-1', 'a-2']) observeSpoAudit(inPod(ev, pod));
      observeSpoAudit(inPod(ev, 'a-0')); // a-0 used again: a-1 is now the oldest
      observeSpoAudit(inPod(ev, 'a-3'));
      const pods = (await series('security_profiles_operator_seccomp_profile_audit_total')).map((x) => x.labels.pod).sort();
      assert.deepEqual(pods, ['a-0', 'a-2', 'a-3']);
      assert.equal(spoAudit.seccomp.series, 3);
      const after = (await series('auditflow_spo_metric_series_evicted_total')).reduce((a, x) => a + x.value, 0);
      assert.ok(after - before >= 1, 'evictions are counted');
    } finally {
      setSpoMaxSeries(5000);
    }
  });
});

describe("node agent: SPO's profile metrics", () => {
  it('security_profiles_operator_{seccomp,selinux,apparmor}_profile_total{operation} and *_profile_error_total', async () => {
    for (const k of ['seccomp', 'selinux', 'apparmor']) {
      assert.ok(registry.getSingleMetric(`security_profiles_operator_${k}_profile_total`), k);
      assert.ok(registry.getSingleMetric(`security_profiles_operator_${k}_profile_error_total`), k);
    }
    spoProfileOps.SeccompProfile.inc({ operation: 'update' });
    spoProfileErrors.AppArmorProfile.inc({ profile: 'p', reason: 'apparmor_parser' });
    const ops = await series('security_profiles_operator_seccomp_profile_total');
    assert.deepEqual(Object.keys(ops[0]!.labels), ['operation']);
    const err = await series('security_profiles_operator_apparmor_profile_error_total');
    assert.deepEqual(Object.keys(err[0]!.labels).sort(), ['profile', 'reason']);
  });
});
