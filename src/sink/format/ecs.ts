// Schema-v1 event → Elastic Common Schema document (ECS 8.11, https://www.elastic.co/guide/en/ecs/8.11/).
//
// Only real ECS fields carry ECS names; what ECS has no field for (syscall, arch, seccomp action, SELinux
// contexts, the audit serial, …) goes under the custom `auditflow.*` namespace, which ECS reserves for
// exactly that (custom fields must not collide with ECS field sets). Pod metadata is written both as ECS
// `orchestrator.*` and as `kubernetes.*` the way Filebeat's add_kubernetes_metadata processor writes it
// (kubernetes.pod.name/uid, kubernetes.namespace, kubernetes.node.name, kubernetes.container.name,
// kubernetes.labels.* with dots replaced by `_`, its default `labels.dedot: true`), so dashboards built for
// Kubernetes logs work on these events unchanged.
//
// Categorization (ECS allowed values): an access decision is `event.category: [process, intrusion_detection]`
// (host-based enforcement is intrusion prevention, and `allowed`/`denied` are the event types ECS expects for
// intrusion_detection); a denial is `event.type: [info, denied]` with `event.outcome: failure`, a logged or
// allowed decision `[info, allowed]` with `success`. `event.kind` stays `event`: `alert` is for detection
// rules, and these are facts from the kernel, not rule hits.

import { SCHEMA_V1, type EventV1 } from '../../event/v1';
import { actionOf, decisionOf, isDenial, outcomeOf, permissionsOf, type Mechanism } from '../../event/decision';
import { compact, idOrNull } from './compact';
import { messageOf, severityOf } from './describe';

export const ECS_VERSION = '8.11.0';

const RULESET: Record<Mechanism, string> = { seccomp: 'seccomp', selinux: 'selinux', apparmor: 'apparmor' };

export function toEcs(ev: EventV1): Record<string, unknown> {
  const mech = decisionOf(ev);
  const denied = isDenial(ev);
  const action = actionOf(ev);
  const pod = ev.pod;
  const ctr = ev.container;
  const outcome = outcomeOf(ev);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(pod?.labels ?? {})) labels[k.replace(/\./g, '_')] = v;

  return compact({
    '@timestamp': ev.timestamp,
    message: messageOf(ev, mech, denied),
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'event',
      category: mech ? ['process', 'intrusion_detection'] : ['process'],
      type: mech ? ['info', denied ? 'denied' : 'allowed'] : ['info'],
      action: mech ? `${mech}-${action}` : ev.type.toLowerCase(),
      outcome,
      module: 'auditflow',
      dataset: 'auditflow.events',
      provider: ev.source.format,
      sequence: ev.serial,
      // ECS leaves the scale of event.severity to the source: OCSF's severity_id scale, so both formats rank alike
      severity: severityOf(ev, mech, denied),
      original: ev.raw,
    },
    host: { name: ev.node, hostname: ev.node },
    process: {
      pid: ev.pid,
      name: ev.comm,
      executable: ev.exe,
      title: ev.proctitle,
      working_directory: ev.cwd,
      parent: { pid: ev.ppid },
    },
    user: { id: str(ev.uid) },
    group: { id: str(ev.gid) },
    file: { path: filePathOf(ev) },
    container: ctr
      ? { id: ctr.id, name: ctr.name, runtime: ctr.runtime, image: { name: ctr.image } }
      : null,
    orchestrator: pod
      ? { type: 'kubernetes', namespace: pod.namespace, resource: { type: 'pod', name: pod.name, id: pod.uid } }
      : null,
    kubernetes: pod
      ? {
          pod: { name: pod.name, uid: pod.uid },
          namespace: pod.namespace,
          node: { name: ev.node },
          container: { name: ctr?.name },
          labels,
        }
      : null,
    labels: { audit_record_type: ev.type, audit_kind: ev.kind },
    rule: mech ? ruleOf(ev, mech) : null,
    auditflow: {
      schema: SCHEMA_V1,
      type: ev.type,
      kind: ev.kind,
      serial: ev.serial,
      source: ev.source,
      denied: mech ? denied : null,
      arch: ev.arch,
      syscall: ev.syscall,
      syscall_nr: ev.syscallNr,
      action: ev.action,
      action_data: ev.actionData,
      permissions: mech && mech !== 'seccomp' ? permissionsOf(ev) : null,
      selinux: ev.selinux,
      selinux_error: ev.selinuxError,
      apparmor: ev.apparmor,
      auid: idOrNull(ev.auid),
      ses: idOrNull(ev.ses),
      records: ev.records,
      paths: ev.paths,
      enrichment: ev.enrichment,
      enrichment_error: ev.enrichmentError,
      fields: ev.fields,
    },
  });
}

const str = (n: number | null | undefined): string | null => (n === null || n === undefined ? null : String(n));

function filePathOf(ev: EventV1): string | null {
  if (ev.apparmor?.name?.startsWith('/')) return ev.apparmor.name;
  const p = ev.fields?.['path'];
  if (p && p.startsWith('/')) return p;
  if (ev.paths?.length === 1 && ev.paths[0]!.startsWith('/')) return ev.paths[0]!;
  return null;
}

function ruleOf(ev: EventV1, mech: Mechanism): Record<string, unknown> {
  switch (mech) {
    case 'seccomp':
      return { ruleset: RULESET.seccomp, category: 'syscall filter', name: `seccomp ${ev.action}` };
    case 'selinux': {
      const s = ev.selinux;
      if (!s) {
        const e = ev.selinuxError!;
        return { ruleset: RULESET.selinux, category: 'mandatory access control', name: e.scontext, description: [e.op, e.reason].filter(Boolean).join(': ') || null };
      }
      return {
        ruleset: RULESET.selinux,
        category: 'mandatory access control',
        // the rule audit2allow would write: allow <source type> <target type>:<class> { <perms> };
        name: s.source?.type ?? s.scontext,
        description: `allow ${s.source?.type ?? '?'} ${s.target?.type ?? '?'}:${s.tclass ?? '?'} { ${s.permissions.join(' ')} }`,
      };
    }
    case 'apparmor':
      return { ruleset: RULESET.apparmor, category: 'mandatory access control', name: ev.apparmor!.profile };
  }
}
