// What both SIEM formats say alike about an event: a one-line human message and a severity.

import type { EventV1 } from '../../event/v1';
import { actionOf, whatOf, type Mechanism } from '../../event/decision';

/**
 * OCSF severity_id scale (1 Informational, 3 Medium, 4 High), used by both formats so they rank alike: a
 * denial is Medium (the workload hit its profile), a seccomp kill High (the workload died of it).
 */
export function severityOf(ev: EventV1, mech: Mechanism | undefined, denied: boolean): number {
  if (!mech || !denied) return 1;
  if (mech === 'seccomp' && (ev.action === 'kill_process' || ev.action === 'kill_thread')) return 4;
  return 3;
}

export function messageOf(ev: EventV1, mech: Mechanism | undefined, denied: boolean): string {
  const who = [ev.exe ?? ev.comm ?? 'unknown process', ev.pid !== null ? `(pid ${ev.pid})` : null].filter(Boolean).join(' ');
  const where = ev.pod ? ` in pod ${ev.pod.namespace}/${ev.pod.name}${ev.container?.name ? ` container ${ev.container.name}` : ''}` : '';
  if (!mech) return `${ev.type} by ${who}${where}`;
  const verb = denied ? 'denied' : actionOf(ev) === 'log' ? 'logged' : actionOf(ev);
  return `${mech} ${verb}${mech === 'seccomp' ? ` (${ev.action})` : ''}: ${whatOf(ev)} by ${who}${where}`;
}

