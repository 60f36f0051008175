// Output formats of events: schema v1 as is, or mapped to a SIEM's schema. The NDJSON sinks and
// `auditflow denials` pick one by name (`--format v1|ecs|ocsf`).

import type { EventV1 } from '../../event/v1';
import { toEcs } from './ecs';
import { toOcsf } from './ocsf';

export { toEcs, ECS_VERSION } from './ecs';
export { toOcsf, OCSF_VERSION } from './ocsf';

export const EVENT_FORMATS = ['v1', 'ecs', 'ocsf'] as const;
export type EventFormat = (typeof EVENT_FORMATS)[number];

export function isEventFormat(s: string): s is EventFormat {
  return (EVENT_FORMATS as readonly string[]).includes(s);
}

export function formatter(format: EventFormat): (ev: EventV1) => unknown {
  switch (format) {
    case 'v1':
      return (ev) => ev;
    case 'ecs':
      return toEcs;
    case 'ocsf':
      return toOcsf;
  }
}
