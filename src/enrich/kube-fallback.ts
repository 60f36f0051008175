// The Kubernetes API as the enricher's fallback (PodFallback) when the CRI runtime cannot answer: the pods
// bound to this node, listed with `fieldSelector=spec.nodeName=<node>` and kept as an index by pod uid and
// container id (status.*ContainerStatuses[].containerID, `<runtime>://<id>`).
//
// Cost bound: at most one list per `minRefreshMs`, whatever the lookup rate. Concurrent lookups share one
// list (single flight); a miss lists again only when the index is older than `minRefreshMs` (a pod or a
// container newer than the list), so a storm of unknown ids costs one request per interval. A failed list is
// remembered for the same interval: an unreachable apiserver is not asked again by every lookup.
import type { ContainerRef, PodRef } from '../event/v1';
import type { KubeClient } from '../k8s/client';
import type { Logger } from '../log';
import type { PodFallback } from './enricher';

/** What this module needs of KubeClient (a counting wrapper in tests). */
export type PodListClient = Pick<KubeClient, 'request'>;

export interface KubePodFallbackOptions {
  client: PodListClient;
  /** this node's name, as in the pods' spec.nodeName */
  nodeName: string;
  /** the shortest time between two lists (default 5000 ms) */
  minRefreshMs?: number;
  /** a hit in an index older than this lists again first: labels change (default 60000 ms) */
  maxAgeMs?: number;
  /** per list request (default 5000 ms): the pipeline waits on it */
  timeoutMs?: number;
  log?: Logger;
}

interface ContainerStatusLike {
  name?: string;
  containerID?: string;
  image?: string;
  lastState?: { terminated?: { containerID?: string } };
}

interface ApiPod {
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string> };
  spec?: { containers?: { name?: string; image?: string }[]; initContainers?: { name?: string; image?: string }[]; ephemeralContainers?: { name?: string; image?: string }[] };
  status?: {
    containerStatuses?: ContainerStatusLike[];
    initContainerStatuses?: ContainerStatusLike[];
    ephemeralContainerStatuses?: ContainerStatusLike[];
  };
}

interface PodList {
  items?: ApiPod[];
  metadata?: { continue?: string };
}

interface IndexedPod {
  pod: PodRef;
  /** container id (lower-case hex) → container */
  containers: Map<string, ContainerRef>;
}

interface Snapshot {
  /** when the list that made it was started (ms, Date.now) */
  at: number;
  pods: Map<string, IndexedPod>;
}

const RUNTIMES: Record<string, string> = { containerd: 'containerd', 'cri-o': 'cri-o', docker: 'docker' };

/** `containerd://<id>` → runtime and id; undefined when not of that shape. */
export function parseContainerId(s: string | undefined): { runtime: string | null; id: string } | undefined {
  const m = /^([a-z0-9.+-]+):\/\/([0-9A-Za-z]+)$/.exec(s ?? '');
  if (!m) return undefined;
  // other schemes (a runtime the event schema does not name) keep the runtime the cgroup path told
  return { runtime: RUNTIMES[m[1]!] ?? null, id: m[2]!.toLowerCase() };
}

/** The index entry of one pod; undefined for an object without name, namespace or uid. */
export function indexPod(p: ApiPod): IndexedPod | undefined {
  const md = p.metadata;
  if (!md?.name || !md.namespace || !md.uid) return undefined;
  const pod: PodRef = { name: md.name, namespace: md.namespace, uid: md.uid, labels: { ...(md.labels ?? {}) } };
  const specImage = new Map<string, string>();
  for (const c of [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? []), ...(p.spec?.ephemeralContainers ?? [])]) {
    if (c.name && c.image) specImage.set(c.name, c.image);
  }
  const containers = new Map<string, ContainerRef>();
  const st = p.status ?? {};
  for (const cs of [...(st.containerStatuses ?? []), ...(st.initContainerStatuses ?? []), ...(st.ephemeralContainerStatuses ?? [])]) {
    const name = cs.name ?? null;
    const image = cs.image || (cs.name ? specImage.get(cs.name) : undefined) || null;
    // the previous instance of a restarted container: its last records may still be on their way
    for (const [raw, current] of [[cs.lastState?.terminated?.containerID, false], [cs.containerID, true]] as const) {
      const parsed = parseContainerId(raw);
      if (!parsed) continue;
      if (!current && containers.has(parsed.id)) continue;
      containers.set(parsed.id, { id: parsed.id, name, runtime: parsed.runtime, image });
    }
  }
  return { pod, containers };
}

export class KubePodFallback implements PodFallback {
  private readonly client: PodListClient;
  private readonly nodeName: string;
  private readonly minRefreshMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;
  private snapshot: Snapshot | null = null;
  private inflight: Promise<Snapshot> | null = null;
  private lastFailure: { at: number; error: Error } | null = null;
  /** lists made (for logs and tests) */
  lists = 0;

  constructor(opts: KubePodFallbackOptions) {
    this.client = opts.client;
    this.nodeName = opts.nodeName;
    this.minRefreshMs = opts.minRefreshMs ?? 5000;
    this.maxAgeMs = Math.max(opts.maxAgeMs ?? 60_000, this.minRefreshMs);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.log = opts.log;
  }

  async lookup(podUid: string, containerId: string): Promise<{ container: ContainerRef; pod: PodRef } | null> {
    const id = containerId.toLowerCase();
    const startedAt = Date.now();
    let snap = this.snapshot;
    if (!snap || startedAt - snap.at >= this.maxAgeMs) snap = await this.refresh();
    const found = find(snap, podUid, id);
    if (found) return found;
    // a miss: list again unless the index was listed recently enough (or just now, for this very lookup)
    if (Date.now() - snap.at < this.minRefreshMs) return null;
    return find(await this.refresh(), podUid, id);
  }

  /** A list as fresh as the rate limit allows: the one in flight, else a new one unless the last was too recent. */
  private refresh(): Promise<Snapshot> {
    if (this.inflight) return this.inflight;
    const now = Date.now();
    if (this.lastFailure && now - this.lastFailure.at < this.minRefreshMs) return Promise.reject(this.lastFailure.error);
    if (this.snapshot && now - this.snapshot.at < this.minRefreshMs) return Promise.resolve(this.snapshot);
    const p = this.list(now).then(
      (snap) => {
        this.snapshot = snap;
        this.lastFailure = null;
        return snap;
      },
      (err: Error) => {
        this.lastFailure = { at: now, error: err };
        this.log?.warn({ node: this.nodeName, err: err.message }, 'listing the pods of this node failed');
        throw err;
      },
    );
    this.inflight = p;
    void p.finally(() => (this.inflight = null)).catch(() => undefined);
    return p;
  }

  private async list(at: number): Promise<Snapshot> {
    this.lists++;
    const pods = new Map<string, IndexedPod>();
    let cont: string | undefined;
    do {
      const page = await this.client.request<PodList>('GET', '/api/v1/pods', {
        query: { fieldSelector: `spec.nodeName=${this.nodeName}`, limit: 500, continue: cont },
        timeoutMs: this.timeoutMs,
      });
      for (const item of page?.items ?? []) {
        const ix = indexPod(item);
        if (ix) pods.set(ix.pod.uid, ix);
      }
      cont = page?.metadata?.continue || undefined;
    } while (cont);
    this.log?.debug({ node: this.nodeName, pods: pods.size }, 'listed the pods of this node');
    return { at, pods };
  }
}

function find(snap: Snapshot, podUid: string, id: string): { container: ContainerRef; pod: PodRef } | null {
  const p = snap.pods.get(podUid);
  const c = p?.containers.get(id);
  // copies: the enricher hands them to events, which sinks may keep
  return p && c ? { container: { ...c }, pod: { ...p.pod, labels: { ...p.pod.labels } } } : null;
}
