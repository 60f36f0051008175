// List + watch with a local cache, the way client-go's reflector does it: list once, watch from the list's
// resourceVersion, resume the watch from the last seen resourceVersion when the stream ends (apiserver
// timeouts, restarts), and relist when the apiserver answers 410 Gone (that version was compacted away).
// Connection failures back off exponentially with jitter, capped, so a down apiserver is not hammered.

import { Counter } from 'prom-client';
import type { Logger } from '../log';
import { registry } from '../metrics';
import { backoffMs } from '../retry';
import { ApiError, isGone, type KubeClient, type WatchEvent } from './client';
import { resourcePath, type ResourceType } from './resources';

const watchRestarts = new Counter({
  name: 'auditflow_k8s_watch_restarts_total',
  help: 'Watch streams restarted, by resource and reason (closed: ended by the server; error: connection failed; gone: 410, relisted)',
  labelNames: ['resource', 'reason'] as const,
  registers: [registry],
});
const relists = new Counter({
  name: 'auditflow_k8s_relists_total',
  help: 'Full lists of a watched resource (the first one and each after 410 Gone)',
  labelNames: ['resource'] as const,
  registers: [registry],
});
const handlerErrors = new Counter({
  name: 'auditflow_k8s_handler_errors_total',
  help: 'Exceptions thrown by informer event handlers (logged; the watch goes on)',
  labelNames: ['resource'] as const,
  registers: [registry],
});

export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [k: string]: unknown };
}

export type InformerEventType = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (type: InformerEventType, obj: T, old: T | undefined) => void;

export interface InformerOptions {
  namespace?: string;
  fieldSelector?: string;
  labelSelector?: string;
  log: Logger;
  /**
   * Watch from this resourceVersion first instead of listing (a process resuming where it stopped): events
   * since then arrive as adds; if the version is gone (410), the informer lists as usual.
   */
  resumeFrom?: string;
  /** First retry delay and cap, ms. */
  backoffMs?: { initial: number; max: number };
}

export const objectKey = (o: KObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);

class Gone extends ApiError {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export class Informer<T extends KObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly abort = new AbortController();
  private rv: string | undefined;
  private loop: Promise<void> | undefined;
  private syncedResolve!: () => void;
  /** Resolves after the first complete list. */
  readonly synced: Promise<void> = new Promise((r) => (this.syncedResolve = r));
  private readonly path: string;
  private readonly log: Logger;

  constructor(
    private readonly client: KubeClient,
    private readonly type: ResourceType,
    private readonly opts: InformerOptions,
  ) {
    this.path = resourcePath(type, { namespace: opts.namespace });
    this.rv = opts.resumeFrom;
    this.log = opts.log.child({ informer: type.plural });
  }

  on(h: InformerHandler<T>): void {
    this.handlers.push(h);
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Starts the list/watch loop; resolves once the cache holds a complete list (with resumeFrom: at once). */
  async start(): Promise<void> {
    this.loop ??= this.run();
    if (this.opts.resumeFrom === undefined) await this.synced;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private emit(type: InformerEventType, obj: T, old: T | undefined): void {
    for (const h of this.handlers) {
      try {
        h(type, obj, old);
      } catch (e) {
        handlerErrors.inc({ resource: this.type.plural });
        this.log.error({ err: e, object: objectKey(obj) }, 'informer handler failed');
      }
    }
  }

  private selectors() {
    return { fieldSelector: this.opts.fieldSelector, labelSelector: this.opts.labelSelector };
  }

  private async relist(): Promise<void> {
    relists.inc({ resource: this.type.plural });
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await this.client.request<{ metadata: { resourceVersion?: string; continue?: string }; items: T[] }>('GET', this.path, {
        query: { ...this.selectors(), limit: 500, continue: cont },
        signal: this.abort.signal,
      });
      for (const item of page.items ?? []) fresh.set(objectKey(item), item);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    const old = new Map(this.cache);
    this.cache.clear();
    for (const [k, v] of fresh) this.cache.set(k, v);
    for (const [k, v] of old) if (!fresh.has(k)) this.emit('delete', v, v);
    for (const [k, v] of fresh) {
      const prev = old.get(k);
      if (!prev) this.emit('add', v, undefined);
      else if (prev.metadata.resourceVersion !== v.metadata.resourceVersion) this.emit('update', v, prev);
    }
    this.rv = rv;
    this.syncedResolve();
    this.log.debug({ items: fresh.size, resourceVersion: rv }, 'listed');
  }

  private onEvent(ev: WatchEvent<T>): void {
    const obj = ev.object;
    if (ev.type === 'ERROR') {
      const st = obj as unknown as { code?: number; reason?: string; message?: string };
      if (st.code === 410) throw new Gone(410, st.reason ?? 'Expired', st.message ?? 'resourceVersion too old');
      throw new ApiError(st.code ?? 0, st.reason ?? 'Error', `watch error event: ${st.message ?? JSON.stringify(st)}`);
    }
    if (!obj?.metadata?.name && ev.type !== 'BOOKMARK') return;
    if (obj?.metadata?.resourceVersion) this.rv = obj.metadata.resourceVersion;
    if (ev.type === 'BOOKMARK') return;
    const key = objectKey(obj);
    const prev = this.cache.get(key);
    if (ev.type === 'DELETED') {
      this.cache.delete(key);
      this.emit('delete', obj, prev);
    } else {
      this.cache.set(key, obj);
      this.emit(prev ? 'update' : 'add', obj, prev);
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const { initial, max } = this.opts.backoffMs ?? { initial: 250, max: 30_000 };
    let failures = 0;
    while (!signal.aborted) {
      const began = Date.now();
      try {
        if (this.rv === undefined) await this.relist();
        await this.client.watch<T>(
          this.path,
          {
            ...this.selectors(),
            resourceVersion: this.rv,
            allowWatchBookmarks: true,
            // Spread reconnects of many agents over time.
            timeoutSeconds: 240 + Math.floor(Math.random() * 120),
          },
          (ev) => this.onEvent(ev),
          signal,
        );
        if (signal.aborted) break;
        watchRestarts.inc({ resource: this.type.plural, reason: 'closed' });
        failures = 0;
      } catch (e) {
        if (signal.aborted) break;
        if (isGone(e)) {
          watchRestarts.inc({ resource: this.type.plural, reason: 'gone' });
          this.log.info({ resourceVersion: this.rv }, 'watch expired (410 Gone): relisting');
          this.rv = undefined;
          continue;
        }
        watchRestarts.inc({ resource: this.type.plural, reason: 'error' });
        // A watch that ran a while before failing was healthy: start the backoff over.
        if (Date.now() - began > 10_000) failures = 0;
        const delay = backoffMs(failures, { initialMs: initial, maxMs: max, jitter: true });
        failures++;
        this.log.warn({ err: e, retryInMs: Math.round(delay), failures }, 'watch failed: retrying');
        await sleep(delay, signal);
      }
    }
  }
}
