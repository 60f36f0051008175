// Which events go where: the event stream (--events denials|all), the recorder (selected containers), Kafka
// (everything: it deduplicates and rate-limits itself).
import { isDenial } from '../event/decision';
import type { EventV1 } from '../event/v1';

export type EventsMode = 'all' | 'denials';

/** `denials`: what src/event/decision.ts calls a denial (the same events the ECS/OCSF mappings and `auditflow denials` call denied). */
export function eventFilter(mode: EventsMode): (ev: EventV1) => boolean {
  return mode === 'all' ? () => true : isDenial;
}
