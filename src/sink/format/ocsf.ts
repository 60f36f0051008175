// Schema-v1 event → OCSF event (Open Cybersecurity Schema Framework 1.3.0, https://schema.ocsf.io/1.3.0/).
//
// Class choice. A seccomp, SELinux or AppArmor decision is an atomic fact reported by the enforcing
// control itself (the kernel), not the output of an analytic: OCSF's guidance for such events ("How to Model
// Alerts with OCSF", ocsf-docs) is the activity class of what was attempted, carrying the Security Control
// profile (`action_id` Allowed/Denied, `disposition_id`, `policy`), rather than a Detection Finding (2004),
// whose findings are mutable records with a lifecycle (Create/Update/Close, status New → Resolved) that a
// kernel decision never has. What was attempted is a system call, so decisions map to
// **Kernel Activity** (class_uid 1003, System Activity category 1) with activity **Invoke** (4) and the
// kernel resource `{type_id: 2 System Call, name, system_call}`. An AVC/AppArmor record that was not coalesced
// with its SYSCALL record names no syscall: its kernel resource is the object acted on (type: the SELinux
// class or AppArmor operation, type_id 99 Other) and the activity is Other (99) named after the operation.
// Every other audit record (SYSCALL, USER_*, ANOM_ABEND, …) is a **Base Event** (class_uid 0, category 0,
// activity Other) keeping its audit type as activity_name. type_uid = class_uid × 100 + activity_id.
//
// Outcome. Denial → action_id 2 Denied, disposition_id 2 Blocked, status_id 2 Failure, severity_id 3 Medium
// (4 High for seccomp kills). seccomp `log`, SELinux `granted` and AppArmor `AUDIT` → Allowed / 17 Logged;
// seccomp `allow` → Allowed / 1 Allowed; AppArmor `ALLOWED` (complain mode: the policy would have refused)
// → Allowed / 15 Detected. Everything OCSF has no attribute for is kept under `unmapped`.

import type { EventV1 } from '../../event/v1';
import { actionOf, decisionOf, isDenial, outcomeOf, permissionsOf, syscallLabel, type Outcome, type Mechanism } from '../../event/decision';
import { basename, compact, idOrNull } from './compact';
import { messageOf, severityOf } from './describe';

export const OCSF_VERSION = '1.3.0';

const KERNEL_ACTIVITY = 1003;
const SYSTEM_CATEGORY = 1;
const BASE_EVENT = 0;
const ACTIVITY_INVOKE = 4;
const ACTIVITY_OTHER = 99;
const KERNEL_SYSTEM_CALL = 2;
const OTHER = 99;

const SEVERITY: Record<number, string> = { 1: 'Informational', 2: 'Low', 3: 'Medium', 4: 'High' };

interface Disposition {
  action_id: 1 | 2;
  disposition_id: number;
  disposition: string;
}

const DENIED: Disposition = { action_id: 2, disposition_id: 2, disposition: 'Blocked' };
const LOGGED: Disposition = { action_id: 1, disposition_id: 17, disposition: 'Logged' };
const ALLOWED: Disposition = { action_id: 1, disposition_id: 1, disposition: 'Allowed' };
const DETECTED: Disposition = { action_id: 1, disposition_id: 15, disposition: 'Detected' };

let productVersion: string | undefined;
function version(): string {
  if (productVersion === undefined) {
    try {
      // dist/src/sink/format → the package root
      productVersion = String(require('../../../../package.json').version);
    } catch {
      productVersion = 'unknown';
    }
  }
  return productVersion;
}

export function toOcsf(ev: EventV1): Record<string, unknown> {
  const mech = decisionOf(ev);
  const denied = isDenial(ev);
  const severity = severityOf(ev, mech, denied);
  const time = Date.parse(ev.timestamp);
  const common = {
    time: Number.isNaN(time) ? null : time,
    message: messageOf(ev, mech, denied),
    severity_id: severity,
    severity: SEVERITY[severity],
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'auditflow', vendor_name: 'auditflow', version: version() },
      log_provider: ev.source.format,
      log_name: ev.source.file,
      original_time: ev.timestamp,
      sequence: ev.serial,
    },
    device: { hostname: ev.node, type_id: 0, type: 'Unknown' },
    actor: {
      process: {
        pid: ev.pid,
        name: ev.comm,
        cmd_line: ev.proctitle,
        file: ev.exe ? { path: ev.exe, name: basename(ev.exe), type_id: 1, type: 'Regular File' } : null,
        user: ev.uid !== null ? { uid: String(ev.uid), groups: ev.gid !== null ? [{ uid: String(ev.gid) }] : null } : null,
        parent_process: ev.ppid !== null && ev.ppid !== undefined ? { pid: ev.ppid } : null,
      },
      // the login user behind the process (auid), when the process descends from a login
      user: idOrNull(ev.auid) !== null ? { uid: String(ev.auid) } : null,
    },
    container: ev.container
      ? {
          uid: ev.container.id,
          name: ev.container.name,
          runtime: ev.container.runtime,
          image: ev.container.image ? { name: ev.container.image } : null,
          orchestrator: ev.pod ? 'Kubernetes' : null,
          pod_uuid: ev.pod?.uid,
        }
      : null,
    raw_data: ev.raw,
    unmapped: unmappedOf(ev),
  };

  if (!mech) {
    return compact({
      class_uid: BASE_EVENT,
      class_name: 'Base Event',
      category_uid: 0,
      category_name: 'Uncategorized',
      activity_id: ACTIVITY_OTHER,
      activity_name: ev.type,
      type_uid: BASE_EVENT * 100 + ACTIVITY_OTHER,
      ...STATUS[outcomeOf(ev)],
      ...common,
    });
  }

  const disp = dispositionOf(ev, mech, denied);
  const sys = syscallLabel(ev);
  const activity = sys !== undefined ? ACTIVITY_INVOKE : ACTIVITY_OTHER;
  return compact({
    class_uid: KERNEL_ACTIVITY,
    class_name: 'Kernel Activity',
    category_uid: SYSTEM_CATEGORY,
    category_name: 'System Activity',
    activity_id: activity,
    activity_name: activity === ACTIVITY_INVOKE ? 'Invoke' : (ev.apparmor?.operation ?? 'Access'),
    type_uid: KERNEL_ACTIVITY * 100 + activity,
    kernel:
      sys !== undefined
        ? { name: sys, type_id: KERNEL_SYSTEM_CALL, type: 'System Call', system_call: ev.syscall }
        : objectOf(ev, mech),
    ...STATUS[outcomeOf(ev)],
    // the kernel's SECCOMP record usually carries the action without its errno (code=0x50000): say which
    // errno only when it is there
    status_detail: mech === 'seccomp' && denied ? `seccomp ${ev.action}${ev.action === 'errno' && ev.actionData ? ` ${ev.actionData}` : ''}` : null,
    action_id: disp.action_id,
    action: disp.action_id === 2 ? 'Denied' : 'Allowed',
    disposition_id: disp.disposition_id,
    disposition: disp.disposition,
    policy: policyOf(ev, mech),
    ...common,
  });
}

function dispositionOf(ev: EventV1, mech: Mechanism, denied: boolean): Disposition {
  if (denied) return DENIED;
  const a = actionOf(ev);
  if (mech === 'seccomp') return a === 'allow' ? ALLOWED : LOGGED;
  if (mech === 'apparmor' && a === 'allowed') return DETECTED;
  return LOGGED;
}

/** The kernel object of an AVC/AppArmor decision that names no syscall. */
function objectOf(ev: EventV1, mech: Mechanism): Record<string, unknown> {
  if (mech === 'apparmor') {
    const a = ev.apparmor!;
    return { name: a.name ?? a.operation ?? 'unknown', type: a.operation ?? 'apparmor', type_id: OTHER };
  }
  const s = ev.selinux ?? ev.selinuxError!; // an AVC, or a SELINUX_ERR
  const name = ev.fields?.['path'] ?? ev.fields?.['name'] ?? s.tcontext ?? 'unknown';
  return { name, type: s.tclass ?? 'selinux', type_id: OTHER };
}

function policyOf(ev: EventV1, mech: Mechanism): Record<string, unknown> {
  switch (mech) {
    case 'seccomp':
      return { name: 'seccomp', desc: `seccomp filter action ${ev.action}` };
    case 'selinux': {
      const s = ev.selinux;
      if (!s) {
        const e = ev.selinuxError!;
        return { name: 'SELinux', desc: `${e.op ?? 'error'}${e.reason ? `: ${e.reason}` : ''} (${e.scontext ?? '?'} → ${e.tcontext ?? '?'}:${e.tclass ?? '?'})` };
      }
      return {
        name: 'SELinux',
        desc: `${s.source?.type ?? s.scontext ?? '?'} → ${s.target?.type ?? s.tcontext ?? '?'}:${s.tclass ?? '?'} { ${permissionsOf(ev).join(' ')} }`,
      };
    }
    case 'apparmor':
      return { name: ev.apparmor!.profile ?? 'AppArmor', desc: 'AppArmor profile' };
  }
}

const STATUS: Record<Outcome, { status_id: number; status: string }> = {
  success: { status_id: 1, status: 'Success' },
  failure: { status_id: 2, status: 'Failure' },
  unknown: { status_id: 0, status: 'Unknown' },
};

function unmappedOf(ev: EventV1): Record<string, unknown> {
  return {
    auditflow: {
      schema: ev.schema,
      type: ev.type,
      kind: ev.kind,
      serial: ev.serial,
      source: ev.source,
      arch: ev.arch,
      syscall_nr: ev.syscallNr,
      action: ev.action,
      action_data: ev.actionData,
      selinux: ev.selinux,
      selinux_error: ev.selinuxError,
      apparmor: ev.apparmor,
      ses: idOrNull(ev.ses),
      records: ev.records,
      cwd: ev.cwd,
      paths: ev.paths,
      enrichment: ev.enrichment,
      enrichment_error: ev.enrichmentError,
      fields: ev.fields,
    },
    // OCSF 1.3 has no Kubernetes pod object; container.pod_uuid carries the uid, the rest is here
    kubernetes: ev.pod ? { namespace: ev.pod.namespace, pod: ev.pod.name, pod_uid: ev.pod.uid, labels: ev.pod.labels, node: ev.node } : null,
  };
}
