// Which containers ended, from the CRI runtime: polls ListContainers and reports a container once when it
// is seen exited, or when it disappears from the list (removed before we looked). Recorders close their
// session on it; the Kafka sink sends an end marker.
//
// Only containers the pipeline has met (track()) or seen running are reported, so a node full of old exited
// containers does not flood the sinks at start. A runtime that cannot be reached ends nothing (an outage is
// not an exit); `reachable` says how the last poll went, for /readyz.
import type { ContainerEnd } from '../event/sink';
import type { Logger } from '../log';
import type { CriClient } from './cri/client';
import type { ContainerState } from './cri/types';
import type { PodResolver } from './pod-resolver';

export interface ContainerWatchOptions {
  client: Pick<CriClient, 'listContainers'>;
  /** for the ended container's name, image and pod (cached lookups) */
  resolver: PodResolver;
  onEnded: (end: ContainerEnd) => Promise<void> | void;
  log: Logger;
  /** default 2000 ms */
  intervalMs?: number;
}

interface Known {
  state: ContainerState;
  tracked: boolean;
}

export class ContainerWatch {
  /** true after a successful poll, false after a failed one, null before the first */
  reachable: boolean | null = null;
  lastError: string | null = null;
  private readonly known = new Map<string, Known>();
  private readonly ended = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly intervalMs: number;

  constructor(private readonly opts: ContainerWatchOptions) {
    this.intervalMs = opts.intervalMs ?? 2000;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** The pipeline met this container in an event: report its end even if it never showed up running. */
  track(containerId: string): void {
    if (this.ended.has(containerId)) return;
    const k = this.known.get(containerId);
    if (k) k.tracked = true;
    else this.known.set(containerId, { state: 'CONTAINER_UNKNOWN', tracked: true });
  }

  /**
   * The runtime said this container's task started (containerd task events): it ran, so its end is reported even
   * when no poll ever saw it running (a Job or init container that lived 50 ms). Not for sandbox ids: ListContainers
   * never lists them, and they would be taken for removed containers.
   */
  started(containerId: string): void {
    if (this.ended.has(containerId)) return;
    const k = this.known.get(containerId);
    if (!k) this.known.set(containerId, { state: 'CONTAINER_RUNNING', tracked: false });
    else if (k.state === 'CONTAINER_UNKNOWN') k.state = 'CONTAINER_RUNNING';
  }

  /** One poll (also called by tests). */
  async poll(): Promise<void> {
    let list;
    try {
      list = await this.opts.client.listContainers();
    } catch (err) {
      if (this.reachable !== false) this.opts.log.warn({ err }, 'CRI ListContainers failed: container exits are not seen until it answers again');
      this.reachable = false;
      this.lastError = (err as Error).message;
      return;
    }
    if (this.reachable === false) this.opts.log.info('CRI runtime reachable again');
    this.reachable = true;
    this.lastError = null;
    const seen = new Set<string>();
    const ends: Array<{ id: string; reason: ContainerEnd['reason'] }> = [];
    for (const c of list) {
      seen.add(c.id);
      if (this.ended.has(c.id)) continue;
      const k = this.known.get(c.id);
      if (c.state === 'CONTAINER_EXITED') {
        if (k) ends.push({ id: c.id, reason: 'exited' });
        else this.ended.add(c.id); // exited before we started: never reported
        continue;
      }
      if (k) k.state = c.state;
      else this.known.set(c.id, { state: c.state, tracked: false });
    }
    for (const [id, k] of this.known) {
      // gone from the list: removed (kubelet removes exited containers, pods deleted); a tracked id the runtime
      // never listed is not ended on the first poll after track() — it may be a sandbox id, which ListContainers
      // does not list, so only ids once seen by the runtime are ended this way
      if (!seen.has(id) && k.state !== 'CONTAINER_UNKNOWN') ends.push({ id, reason: 'pod-removed' });
    }
    for (const { id, reason } of ends) {
      this.known.delete(id);
      this.ended.add(id);
      await this.report(id, reason);
    }
    // bounded memory: forget old ended ids not listed any more
    if (this.ended.size > 10_000) for (const id of this.ended) if (!seen.has(id)) this.ended.delete(id);
  }

  private async report(id: string, reason: ContainerEnd['reason']): Promise<void> {
    const r = await this.opts.resolver.resolve(id);
    const end: ContainerEnd =
      r.enrichment === 'resolved'
        ? { container: r.container, pod: r.pod, at: new Date().toISOString(), reason }
        : { container: { id, name: null, runtime: null, image: null }, pod: null, at: new Date().toISOString(), reason };
    try {
      await this.opts.onEnded(end);
    } catch (err) {
      this.opts.log.error({ container: id, err }, 'handling a container end failed');
    }
  }
}
