// core/v1 Events about the objects the webhooks act for (recordings, bindings), as SPO's event recorder writes
// them. Best effort: a failed write is counted and logged, never fails an admission.

import * as os from 'node:os';
import type { Logger } from '../log';
import type { KubeClient } from '../k8s/client';
import { resourcePath } from '../k8s/resources';
import { EVENTS } from './api';
import { eventsWritten } from './metrics';
import type { EventNote } from './mutate';

export const EVENT_COMPONENT = 'auditflow-webhook';

export class EventWriter {
  private readonly instance = os.hostname();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
  ) {}

  async write(e: EventNote): Promise<void> {
    // Events about cluster-scoped objects live in "default", as kubectl describe looks for them there.
    const namespace = e.regarding.namespace ?? 'default';
    const now = new Date().toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${e.regarding.name.slice(0, 200)}.`, namespace },
      involvedObject: e.regarding,
      type: e.type,
      reason: e.reason,
      message: e.message.slice(0, 1024),
      source: { component: EVENT_COMPONENT },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.client.create(resourcePath(EVENTS, { namespace }), body);
      eventsWritten.inc({ reason: e.reason, result: 'written' });
    } catch (err) {
      eventsWritten.inc({ reason: e.reason, result: 'error' });
      this.log.warn({ reason: e.reason, regarding: e.regarding, err }, 'could not write event');
    }
  }
}
