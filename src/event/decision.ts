// The access decision an event records, once for every consumer: the event stream's `--events denials`
// filter, the ECS/OCSF mappings, `auditflow denials` and the Kafka sink's per-kind counts all ask here, so
// "denied" means the same thing on stdout, on the events topic, in a SIEM and on the command line.
//
// A denial is a security decision that refused something:
//   - seccomp: any action but `log` and `allow` (errno, kill_process, kill_thread, trap, user_notif, trace);
//   - SELinux: an AVC or USER_AVC with decision `denied` (also in permissive mode: the policy said no), and
//     SELINUX_ERR (the security server refused a context: an invalid transition, a bounds violation);
//   - AppArmor: `apparmor="DENIED"`.
// The outcome of any event (decision or not) is normalised here too, the way go-libaudit's aucoalesce does.

import { tokenize } from '../../parsers';
import type { EventV1 } from './v1';

export type Mechanism = 'seccomp' | 'selinux' | 'apparmor';

const SECCOMP_PERMITTED = new Set(['log', 'allow']);
// AppArmor's access decisions; STATUS (profile loads), HINT and ERROR records decide nothing.
const APPARMOR_DECISIONS = new Set(['DENIED', 'ALLOWED', 'AUDIT']);

/** The mechanism that took the access decision the event records, if it records one. */
export function decisionOf(ev: EventV1): Mechanism | undefined {
  if (ev.kind === 'seccomp' && typeof ev.action === 'string') return 'seccomp';
  // an `avc: denied|granted {…}` message, whichever record carried it (AVC, USER_AVC, a user-space
  // object manager's USER_SELINUX_ERR), or the kernel's SELINUX_ERR
  if (ev.selinux || ev.selinuxError) return 'selinux';
  if (ev.apparmor && APPARMOR_DECISIONS.has(ev.apparmor.apparmor)) return 'apparmor';
  return undefined;
}

export function isDenial(ev: EventV1): boolean {
  switch (decisionOf(ev)) {
    case 'seccomp':
      return !SECCOMP_PERMITTED.has(ev.action!);
    case 'selinux':
      return ev.selinux ? ev.selinux.decision === 'denied' : true; // SELINUX_ERR is always a refusal
    case 'apparmor':
      return ev.apparmor!.apparmor === 'DENIED';
    default:
      return false;
  }
}

/** seccomp kill actions end the process: the loudest kind of denial. */
export function isKill(ev: EventV1): boolean {
  return decisionOf(ev) === 'seccomp' && (ev.action === 'kill_process' || ev.action === 'kill_thread');
}

/**
 * The decision as one lower-case word: the seccomp action (`errno`, `kill_process`, `log`, …), SELinux's
 * `denied`/`granted` (`denied` for SELINUX_ERR), AppArmor's `denied`/`allowed`/`audit`/….
 */
export function actionOf(ev: EventV1): string | undefined {
  switch (decisionOf(ev)) {
    case 'seccomp':
      return ev.action;
    case 'selinux':
      return ev.selinux ? ev.selinux.decision.toLowerCase() : 'denied';
    case 'apparmor':
      return ev.apparmor!.apparmor.toLowerCase();
    default:
      return undefined;
  }
}

export type Outcome = 'success' | 'failure' | 'unknown';

/**
 * How the operation went. A decision: `failure` when denied, else `success`. Any other record: as
 * go-libaudit's aucoalesce normalises it, from `success=` (SYSCALL) or else `res=` (user-space records,
 * also inside their `msg='…'`), case-insensitively: `yes`, `1` or a word starting with `suc` is success, any other value failure, neither
 * field unknown.
 */
export function outcomeOf(ev: EventV1): Outcome {
  if (decisionOf(ev)) return isDenial(ev) ? 'failure' : 'success';
  const f = ev.fields ?? {};
  let v: string | null | undefined = f['success'] ?? f['res'];
  // user-space records (USER_LOGIN, USER_CMD, …) carry it inside their msg='…'
  if ((v === undefined || v === null) && typeof f['msg'] === 'string') v = tokenize(f['msg'], 0, f['msg'].length).get('res');
  if (v === undefined || v === null) return 'unknown';
  const r = v.toLowerCase();
  return r === 'yes' || r === '1' || r.startsWith('suc') ? 'success' : 'failure';
}

/** Permissions the decision was about: SELinux's `{ read write }`, AppArmor's denied (else requested) mask. */
export function permissionsOf(ev: EventV1): string[] {
  if (ev.selinux) return ev.selinux.permissions;
  if (ev.apparmor) {
    const mask = ev.apparmor.deniedMask ?? ev.apparmor.requestedMask;
    return mask ? mask.split(/\s+/).filter((p) => p !== '') : [];
  }
  return [];
}

/** The syscall by name, or `#NR` when the table has no name for it. */
export function syscallLabel(ev: EventV1): string | undefined {
  if (ev.syscall) return ev.syscall;
  if (typeof ev.syscallNr === 'number') return `#${ev.syscallNr}`;
  return undefined;
}

/** What was refused, for one table cell: `mkdir`, `read,write dir`, `open r /etc/shadow`, `invalid_context process`. */
export function whatOf(ev: EventV1): string {
  switch (decisionOf(ev)) {
    case 'seccomp':
      return syscallLabel(ev) ?? '?';
    case 'selinux': {
      const s = ev.selinux;
      if (!s) {
        const e = ev.selinuxError!;
        return [e.reason ?? e.op, e.tclass].filter(Boolean).join(' ') || '?';
      }
      return [s.permissions.join(','), s.tclass].filter(Boolean).join(' ') || '?';
    }
    case 'apparmor': {
      const a = ev.apparmor!;
      return [a.operation, permissionsOf(ev).join(','), a.name].filter(Boolean).join(' ') || '?';
    }
    default:
      return syscallLabel(ev) ?? ev.type;
  }
}
