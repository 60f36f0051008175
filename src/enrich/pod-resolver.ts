// Container id → { container, pod } through the CRI runtime, cached.
//
// - Positive results are cached for `ttlMs` (a container's name, image and pod never change; the pod's labels are
//   the sandbox's, fixed at creation), "the runtime doesn't know this id" for the shorter `negativeTtlMs`, and a
//   runtime that can't be reached for `errorTtlMs`, so a burst of records while the runtime is down costs one
//   attempt, and a runtime that comes back is seen soon.
// - At most one lookup per container id is in flight: concurrent callers share it.
// - resolve() never throws for runtime trouble: it answers `unresolved` with the reason.
// - Sandboxes are cached too (every container of a pod shares one), under the same TTLs.
import { LRUCache } from 'lru-cache';
import { readProcIdentity, type ContainerRuntime } from './cgroup';
import { CriError, type CriClient, type CriErrorReason } from './cri/client';
import { KUBELET_LABELS, type CriContainerStatus, type CriPodSandboxStatus } from './cri/types';
import type { ContainerRef, PodRef } from '../event/v1';

// One definition of the event's container and pod (the schema v1 contract), re-exported for enrich users.
export type { ContainerRef, PodRef };

export type UnresolvedReason = CriErrorReason | 'process-gone' | 'internal' | 'cri-disabled';

export type Resolution =
  | { enrichment: 'resolved'; container: ContainerRef; pod: PodRef | null }
  | { enrichment: 'unresolved'; containerId: string; reason: UnresolvedReason; error: string };

export type PidResolution =
  | Resolution
  | { enrichment: 'host' }
  | { enrichment: 'unresolved'; containerId: null; reason: 'process-gone'; error: string };

/** What PodResolver needs of a CRI client (CriClient has it). */
export type CriLookup = Pick<CriClient, 'containerStatus' | 'podSandboxStatus' | 'version'> & Partial<Pick<CriClient, 'listPodSandbox'>>;

export interface PodResolverOptions {
  client: CriLookup;
  /** TTL of resolved entries, ms; default 10 min */
  ttlMs?: number;
  /** TTL of "unknown container" entries, ms; default 10 s */
  negativeTtlMs?: number;
  /** TTL of "runtime unreachable" entries, ms; default 1 s (0: not cached) */
  errorTtlMs?: number;
  /** cache capacity, entries; default 10000 (sandboxes: a quarter of it) */
  maxEntries?: number;
  /** the runtime's name for ContainerRef.runtime when the cgroup path doesn't tell; default: asked once via Version */
  runtime?: ContainerRuntime;
  /** for resolvePid(); default /proc */
  procRoot?: string;
}

/** Counters, plain numbers (metrics are wired elsewhere). Each resolve() counts once in hits, negativeHits or misses. */
export interface PodResolverStats {
  /** answered from a cached resolved entry */
  hits: number;
  /** answered from a cached unresolved entry (unknown id, or runtime unreachable) */
  negativeHits: number;
  /** not in the cache: a lookup was started or joined */
  misses: number;
  /** misses that joined a lookup already in flight for the same id */
  coalesced: number;
  /** lookups started (each costs one ContainerStatus RPC, plus PodSandboxStatus when the sandbox isn't cached) */
  lookups: number;
  /** lookups that ended with the runtime unreachable or failing (not counting "unknown container") */
  errors: number;
  /** lookups that ended with the id unknown to the runtime */
  notFound: number;
}

const KUBELET_BOOKKEEPING = new Set<string>(Object.values(KUBELET_LABELS));

/**
 * The pod's own labels, sorted by key: the runtime gives them in its map's order (Go's, random per call), and
 * an event's bytes must not change with it (the API fallback's come sorted too, as the apiserver writes maps).
 */
function podLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) if (!KUBELET_BOOKKEEPING.has(k)) out[k] = labels[k]!;
  return out;
}

function toContainerRuntime(runtimeName: string): ContainerRuntime | undefined {
  const n = runtimeName.toLowerCase();
  return n === 'containerd' ? 'containerd' : n === 'cri-o' || n === 'crio' ? 'cri-o' : n === 'docker' ? 'docker' : undefined;
}

type SandboxEntry = { ok: true; status: CriPodSandboxStatus } | { ok: false; error: CriError };

export class PodResolver {
  readonly stats: PodResolverStats = { hits: 0, negativeHits: 0, misses: 0, coalesced: 0, lookups: 0, errors: 0, notFound: 0 };
  private readonly client: CriLookup;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly errorTtlMs: number;
  private readonly procRoot: string;
  private readonly cache: LRUCache<string, Resolution>;
  private readonly sandboxes: LRUCache<string, SandboxEntry>;
  private readonly inflight = new Map<string, Promise<Resolution>>();
  private runtime: Promise<ContainerRuntime | undefined> | undefined;

  constructor(options: PodResolverOptions) {
    this.client = options.client;
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 10_000;
    this.errorTtlMs = options.errorTtlMs ?? 1_000;
    this.procRoot = options.procRoot ?? '/proc';
    const max = options.maxEntries ?? 10_000;
    this.cache = new LRUCache<string, Resolution>({ max, ttl: this.ttlMs });
    this.sandboxes = new LRUCache<string, SandboxEntry>({ max: Math.max(1, Math.ceil(max / 4)), ttl: this.ttlMs });
    if (options.runtime) this.runtime = Promise.resolve(options.runtime);
  }

  /** Entries in the container cache (resolved and unresolved). */
  get size(): number {
    return this.cache.size;
  }

  /** Forgets one container id (e.g. on a container-exit event). */
  invalidate(containerId: string): void {
    this.cache.delete(containerId);
  }

  clear(): void {
    this.cache.clear();
    this.sandboxes.clear();
  }

  /**
   * Resolves a container id. `runtime` (from the cgroup path) fills ContainerRef.runtime of a new lookup; without
   * it the runtime's own name (CRI Version, asked once) is used. Never rejects for runtime trouble.
   */
  resolve(containerId: string, runtime?: ContainerRuntime): Promise<Resolution> {
    const cached = this.cache.get(containerId);
    if (cached) {
      if (cached.enrichment === 'resolved') this.stats.hits++;
      else this.stats.negativeHits++;
      return Promise.resolve(cached);
    }
    this.stats.misses++;
    const running = this.inflight.get(containerId);
    if (running) {
      this.stats.coalesced++;
      return running;
    }
    const p = this.lookup(containerId, runtime).finally(() => this.inflight.delete(containerId));
    this.inflight.set(containerId, p);
    return p;
  }

  /**
   * Resolves the process `pid`: its cgroup (read under procRoot) names the container, then resolve(). `host` when
   * it is in no container; `unresolved`/`process-gone` when it has exited (or its pid was reused meanwhile).
   */
  async resolvePid(pid: number): Promise<PidResolution> {
    const ident = await readProcIdentity(this.procRoot, pid);
    if (ident === null) return { enrichment: 'unresolved', containerId: null, reason: 'process-gone', error: `process ${pid} is gone` };
    if (ident.cgroup.host) return { enrichment: 'host' };
    return this.resolve(ident.cgroup.containerId, ident.cgroup.runtime);
  }

  private async lookup(containerId: string, hintRuntime: ContainerRuntime | undefined): Promise<Resolution> {
    this.stats.lookups++;
    let result: Resolution;
    let ttl: number;
    try {
      const f = await this.fetch(containerId, hintRuntime);
      result = f.resolution;
      // a pod known only from the container's own labels (no sandbox yet or any more) lacks the pod's labels:
      // asked again soon rather than kept for the full TTL
      ttl = f.complete ? this.ttlMs : this.negativeTtlMs;
    } catch (err) {
      const e = err instanceof CriError ? err : undefined;
      const reason: UnresolvedReason = e?.reason ?? 'internal';
      result = { enrichment: 'unresolved', containerId, reason, error: e?.message ?? String(err) };
      if (reason === 'not-found') {
        this.stats.notFound++;
        ttl = this.negativeTtlMs;
      } else {
        this.stats.errors++;
        ttl = this.errorTtlMs;
      }
    }
    if (ttl > 0) this.cache.set(containerId, result, { ttl });
    return result;
  }

  /** The runtime's name from CRI Version, asked once (again after a failure). */
  private runtimeName(): Promise<ContainerRuntime | undefined> {
    this.runtime ??= this.client.version().then(
      (v) => toContainerRuntime(v.runtimeName),
      (err: unknown) => {
        this.runtime = undefined;
        throw err;
      },
    );
    return this.runtime;
  }

  private async sandbox(id: string): Promise<SandboxEntry> {
    const cached = this.sandboxes.get(id);
    if (cached) return cached;
    let entry: SandboxEntry;
    try {
      entry = { ok: true, status: await this.client.podSandboxStatus(id, { verbose: false }) };
    } catch (err) {
      if (!(err instanceof CriError) || err.reason !== 'not-found') throw err;
      entry = { ok: false, error: err };
    }
    this.sandboxes.set(id, entry, { ttl: entry.ok ? this.ttlMs : this.negativeTtlMs });
    return entry;
  }

  private async fetch(containerId: string, hintRuntime: ContainerRuntime | undefined): Promise<{ resolution: Resolution; complete: boolean }> {
    let status: CriContainerStatus;
    try {
      status = await this.client.containerStatus(containerId, { verbose: true });
    } catch (err) {
      if (!(err instanceof CriError) || err.reason !== 'not-found') throw err;
      // A process in a sandbox's own cgroup (the pause/infra process): the id is a sandbox id.
      const sb = await this.sandbox(containerId);
      if (!sb.ok) throw err;
      const s = sb.status;
      return {
        complete: true,
        resolution: {
          enrichment: 'resolved',
          container: { id: containerId, name: 'POD', runtime: hintRuntime ?? (await this.runtimeName()) ?? null, image: null, sandbox: true },
          pod: { name: s.name, namespace: s.namespace, uid: s.uid, labels: podLabels(s.labels) },
        },
      };
    }
    const container: ContainerRef = {
      id: status.id || containerId,
      name: status.name,
      runtime: hintRuntime ?? (await this.runtimeName()) ?? null,
      image: status.imageName || null,
      attempt: status.attempt,
    };
    let pod: PodRef | null = null;
    let complete = true;
    let sandboxId = status.podSandboxId;
    if (!sandboxId && status.podUid && this.client.listPodSandbox) {
      // the runtime's info did not name the sandbox (a container still being created): find it by the pod uid
      const found = await this.client.listPodSandbox({ labelSelector: { [KUBELET_LABELS.podUid]: status.podUid } });
      sandboxId = found[0]?.id;
    }
    let sb = sandboxId ? await this.sandbox(sandboxId) : undefined;
    if (sandboxId && sb && !sb.ok) {
      // "not found" may have been cached while the sandbox was still being created (its pause process makes
      // records before the runtime lists it); a container that names it proves it exists now: ask again
      this.sandboxes.delete(sandboxId);
      sb = await this.sandbox(sandboxId);
    }
    if (sb?.ok) {
      pod = { name: sb.status.name, namespace: sb.status.namespace, uid: sb.status.uid, labels: podLabels(sb.status.labels) };
    } else if (status.podName !== undefined && status.podNamespace !== undefined) {
      // sandbox gone already (pod being torn down): what the container's own labels say, without pod labels
      pod = { name: status.podName, namespace: status.podNamespace, uid: status.podUid ?? '', labels: {} };
      complete = false;
    }
    return { complete, resolution: { enrichment: 'resolved', container, pod } };
  }
}
