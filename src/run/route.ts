// Which events go where: the event stream (--events denials|all), the recorder (selected containers), Kafka
// (everything: it deduplicates and rate-limits itself).
import type { EventV1 } from '../event/v1';

export type EventsMode = 'all' | 'denials';

/**
 * A denial: seccomp actions other than log/allow (errno, kill, trap, user_notif, trace), AVC/USER_AVC
 * denied, SELINUX_ERR, AppArmor DENIED. These are always in the event stream.
 */
export function isDenial(ev: EventV1): boolean {
  if (ev.action !== undefined) return ev.action !== 'log' && ev.action !== 'allow';
  if (ev.selinux) return ev.selinux.decision === 'denied';
  if (ev.selinuxError) return true;
  if (ev.apparmor) return ev.apparmor.apparmor === 'DENIED';
  return false;
}

export function eventFilter(mode: EventsMode): (ev: EventV1) => boolean {
  return mode === 'all' ? () => true : isDenial;
}
