// Bound profiles cannot be deleted while in use, as in SPO: a SeccompProfile that a pod references
// (`localhostProfile: operator/<name>.json`) carries the finalizer in-use-by-active-pods and lists the pods
// in status.activeWorkloads; a ProfileBinding (and a ClusterProfileBinding) that was applied to a pod carries
// active-workload-lock and lists them too. Deleting such an object only marks it: it goes once the last pod
// is gone. Computed from a pod informer rather than inside admission, so admission has no side effects
// (dry-run safe) and pods created before auditflow, or by hand, count as well.

import type { Logger } from '../log';
import { podIsDone, seccompProfilesOf, type PodLike as AgentPod } from '../agent/pods';
import type { ProfileBinding, SeccompProfile } from '../k8s/api';
import { isNotFound, type KubeClient } from '../k8s/client';
import { Informer, type KObject } from '../k8s/informer';
import { PODS, PROFILE_BINDINGS, resourcePath, SECCOMP_PROFILES, type ResourceType } from '../k8s/resources';
import { WorkQueue } from '../k8s/workqueue';
import { ANNOTATION_CLUSTER_PROFILE_BINDINGS, ANNOTATION_PROFILE_BINDINGS, CLUSTER_PROFILE_BINDINGS, FINALIZER_BINDING, FINALIZER_IN_USE, type ClusterProfileBinding } from './api';
import { inUseUpdates } from './metrics';

type Pod = AgentPod & KObject;
type Guarded = KObject & { metadata: { finalizers?: string[]; deletionTimestamp?: string }; status?: { activeWorkloads?: string[] } };

export interface InUseOptions {
  client: KubeClient;
  log: Logger;
  /** Shared with the webhook server when given (already started by it). */
  seccompProfiles?: Informer<SeccompProfile & KObject>;
  bindings?: Informer<ProfileBinding & KObject>;
  clusterBindings?: Informer<ClusterProfileBinding & KObject>;
  /** Only pods of these namespaces count (default: all); the shared test rig's other tenants stay untouched. */
  namespaces?: string[];
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

export class InUseController {
  private readonly pods: Informer<Pod>;
  private readonly profiles: Informer<SeccompProfile & KObject>;
  private readonly bindings: Informer<ProfileBinding & KObject>;
  private readonly clusterBindings: Informer<ClusterProfileBinding & KObject>;
  private readonly own: Informer<KObject>[] = [];
  private readonly queue: WorkQueue;

  constructor(private readonly opts: InUseOptions) {
    const io = { log: opts.log };
    this.pods = new Informer(opts.client, PODS, io);
    this.own.push(this.pods as Informer<KObject>);
    const mk = <T extends KObject>(given: Informer<T> | undefined, t: ResourceType): Informer<T> => {
      if (given) return given;
      const i = new Informer<T>(opts.client, t, io);
      this.own.push(i as unknown as Informer<KObject>);
      return i;
    };
    this.profiles = mk(opts.seccompProfiles, SECCOMP_PROFILES);
    this.bindings = mk(opts.bindings, PROFILE_BINDINGS);
    this.clusterBindings = mk(opts.clusterBindings, CLUSTER_PROFILE_BINDINGS);
    this.queue = new WorkQueue('in-use', (k) => this.reconcile(k), opts.log);
    this.pods.on((_t, pod, old) => {
      for (const p of [pod, old]) {
        if (!p || (opts.namespaces && !opts.namespaces.includes(p.metadata.namespace ?? ''))) continue;
        for (const n of seccompProfilesOf(p)) this.queue.add(`sp/${n}`);
        for (const n of list(p.metadata.annotations?.[ANNOTATION_PROFILE_BINDINGS])) this.queue.add(`pb/${p.metadata.namespace}/${n}`);
        for (const n of list(p.metadata.annotations?.[ANNOTATION_CLUSTER_PROFILE_BINDINGS])) this.queue.add(`cpb/${n}`);
      }
    });
    this.profiles.on((_t, p) => this.queue.add(`sp/${p.metadata.name}`));
    this.bindings.on((_t, b) => this.queue.add(`pb/${b.metadata.namespace}/${b.metadata.name}`));
    this.clusterBindings.on((_t, b) => this.queue.add(`cpb/${b.metadata.name}`));
  }

  async start(): Promise<void> {
    await Promise.all(this.own.map((i) => i.start()));
    // Informers started by someone else replayed their adds before our handlers: look at everything once.
    for (const p of this.profiles.list()) this.queue.add(`sp/${p.metadata.name}`);
    for (const b of this.bindings.list()) this.queue.add(`pb/${b.metadata.namespace}/${b.metadata.name}`);
    for (const b of this.clusterBindings.list()) this.queue.add(`cpb/${b.metadata.name}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.own.map((i) => i.stop()));
    await this.queue.stop();
  }

  private users(pred: (p: Pod) => boolean): string[] {
    const out: string[] = [];
    const only = this.opts.namespaces;
    for (const p of this.pods.list()) if (!podIsDone(p) && (!only || only.includes(p.metadata.namespace ?? '')) && pred(p)) out.push(`${p.metadata.namespace}/${p.metadata.name}`);
    return out.sort();
  }

  private async reconcile(key: string): Promise<void> {
    const [kind, a, b] = key.split('/') as [string, string, string | undefined];
    if (kind === 'sp') {
      const users = this.users((p) => seccompProfilesOf(p).has(a));
      return this.sync(SECCOMP_PROFILES, this.profiles.get(a), FINALIZER_IN_USE, users, { name: a });
    }
    if (kind === 'pb') {
      const users = this.users((p) => p.metadata.namespace === a && list(p.metadata.annotations?.[ANNOTATION_PROFILE_BINDINGS]).includes(b!));
      return this.sync(PROFILE_BINDINGS, this.bindings.get(`${a}/${b}`), FINALIZER_BINDING, users, { namespace: a, name: b! });
    }
    const users = this.users((p) => list(p.metadata.annotations?.[ANNOTATION_CLUSTER_PROFILE_BINDINGS]).includes(a));
    return this.sync(CLUSTER_PROFILE_BINDINGS, this.clusterBindings.get(a), FINALIZER_BINDING, users, { name: a });
  }

  /** Finalizer present iff `users`, status.activeWorkloads = users; compare-and-swap on resourceVersion. */
  private async sync(t: ResourceType, obj: Guarded | undefined, finalizer: string, users: string[], at: { namespace?: string; name: string }): Promise<void> {
    if (!obj) return;
    const path = resourcePath(t, at);
    let meta: { resourceVersion?: string; finalizers?: string[]; deletionTimestamp?: string } = obj.metadata;
    try {
      const cur = obj.status?.activeWorkloads ?? [];
      if (cur.length !== users.length || cur.some((u, i) => u !== users[i])) {
        const upd = await this.opts.client.mergePatch<Guarded>(resourcePath(t, { ...at, subresource: 'status' }), { status: { activeWorkloads: users.length ? users : null } });
        inUseUpdates.inc({ kind: t.kind, what: 'workloads' });
        // The finalizer change below is a compare-and-swap on what this write returned.
        if (upd?.metadata) meta = upd.metadata;
      }
      const fins = meta.finalizers ?? [];
      const has = fins.includes(finalizer);
      if (users.length && !has && !meta.deletionTimestamp) {
        await this.opts.client.mergePatch(path, { metadata: { resourceVersion: meta.resourceVersion, finalizers: [...fins, finalizer] } });
        inUseUpdates.inc({ kind: t.kind, what: 'finalizer-added' });
        this.opts.log.info({ kind: t.kind, name: at.name, namespace: at.namespace, users: users.slice(0, 5) }, 'in use: finalizer added');
      } else if (!users.length && has) {
        await this.opts.client.mergePatch(path, { metadata: { resourceVersion: meta.resourceVersion, finalizers: fins.filter((f) => f !== finalizer) } });
        inUseUpdates.inc({ kind: t.kind, what: 'finalizer-removed' });
        this.opts.log.info({ kind: t.kind, name: at.name, namespace: at.namespace }, 'no longer in use: finalizer removed');
      }
    } catch (e) {
      // Gone: nothing to guard. A conflict (stale resourceVersion) is retried by the queue with the
      // informer's newer object.
      if (isNotFound(e)) return;
      throw e;
    }
  }
}
