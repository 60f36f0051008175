// What counts as a denial, and how one reads in a row: shared by `auditflow denials` and the ECS/OCSF
// mappings, so that "denied" means the same thing on the events topic, in a SIEM and on the command line.
//
// A denial is a security decision that refused something:
//   - seccomp: any action but `log` and `allow` (errno, kill_process, kill_thread, trap, user_notif, trace);
//   - SELinux: an AVC or USER_AVC with decision `denied` (also in permissive mode: the policy said no);
//   - AppArmor: `apparmor="DENIED"`.

import type { EventV1 } from '../event/v1';

export type Mechanism = 'seccomp' | 'selinux' | 'apparmor';

const SECCOMP_PERMITTED = new Set(['log', 'allow']);
// AppArmor's access decisions; STATUS (profile loads), HINT and ERROR records decide nothing.
const APPARMOR_DECISIONS = new Set(['DENIED', 'ALLOWED', 'AUDIT']);

/** The mechanism that took the access decision the event records, if it records one. */
export function decisionOf(ev: EventV1): Mechanism | undefined {
  if (ev.kind === 'seccomp' && typeof ev.action === 'string') return 'seccomp';
  if (ev.selinux && (ev.type === 'AVC' || ev.type === 'USER_AVC')) return 'selinux';
  if (ev.apparmor && APPARMOR_DECISIONS.has(ev.apparmor.apparmor)) return 'apparmor';
  return undefined;
}

export function isDenial(ev: EventV1): boolean {
  switch (decisionOf(ev)) {
    case 'seccomp':
      return !SECCOMP_PERMITTED.has(ev.action!);
    case 'selinux':
      return ev.selinux!.decision === 'denied';
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
 * `denied`/`granted`, AppArmor's `denied`/`allowed`/`audit`/….
 */
export function actionOf(ev: EventV1): string | undefined {
  switch (decisionOf(ev)) {
    case 'seccomp':
      return ev.action;
    case 'selinux':
      return ev.selinux!.decision.toLowerCase();
    case 'apparmor':
      return ev.apparmor!.apparmor.toLowerCase();
    default:
      return undefined;
  }
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

/** What was refused, for one table cell: `mkdir`, `read,write dir`, `open r /etc/shadow`. */
export function whatOf(ev: EventV1): string {
  switch (decisionOf(ev)) {
    case 'seccomp':
      return syscallLabel(ev) ?? '?';
    case 'selinux': {
      const s = ev.selinux!;
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
