// The node agent: installs SeccompProfiles (stacked on their bases) as files kubelet reads, SelinuxProfiles
// as CIL modules where the node has SELinux, and reports per-node and profile-wide status.
//
// Per profile: a finalizer `<node>-delete` is added before anything is written, so a deleted profile's
// file is removed by this node's agent, and only once no pod on the node still references it.
// Everything is driven by informers (list + watch, relist on 410) into one keyed work queue, so a burst
// of events costs one reconcile per profile and failures retry with backoff.

import * as path from 'node:path';
import type { Logger } from '../log';
import { API_VERSION, FINALIZER_NODE, GROUP, LABEL_PROFILE_ID, NODE_STATUS_VERSION, type ProfileState, type SeccompProfile, type SecurityProfileNodeStatus, type SelinuxProfile } from '../k8s/api';
import { isNotFound, type KubeClient } from '../k8s/client';
import { sameConditions, setCondition } from '../k8s/conditions';
import { Informer, type KObject } from '../k8s/informer';
import { NODE_STATUSES, PODS, resourcePath, SECCOMP_PROFILES, SELINUX_PROFILES, type ResourceType } from '../k8s/resources';
import { WorkQueue } from '../k8s/workqueue';
import { fileOps, nodeStates, profileErrors } from './metrics';
import { podKey, seccompProfilesOf, selinuxProfilesOf, type PodLike } from './pods';
import { invalidInstallName, ProfileDir, SECCOMP_OPERATOR_SUBDIR } from './profile-files';
import { CilError, detectSelinux, selinuxProfileCil, semodule, type SelinuxSupport } from './selinux';
import { resolveStack, MAX_STACK_DEPTH } from './stack';
import { resolveStackWithOci, syscallsAnnotationPatch, type OciBases } from './oci-base';
import { aggregateState, labelValue, nodeStatusName } from './status';

export const LABEL_NODE_NAME = 'spo.x-k8s.io/node-name';
export const LABEL_PROFILE_STATE = 'spo.x-k8s.io/profile-state';

type Kind = 'SeccompProfile' | 'SelinuxProfile';
type Profile = SeccompProfile | SelinuxProfile;

export interface AgentOptions {
  client: KubeClient;
  nodeName: string;
  /** kubelet's root directory; seccomp files go to <kubeletDir>/seccomp/operator. */
  kubeletDir: string;
  /** Namespace of the SecurityProfileNodeStatus objects (the agent's own). */
  namespace: string;
  log: Logger;
  /** Where CIL modules are kept before semodule installs them. */
  selinuxDir?: string;
  /** Detected from /sys/fs/selinux and semodule when not given. */
  selinux?: SelinuxSupport;
  maxStackDepth?: number;
  /**
   * Add SECCOMP_FILTER_FLAG_LOG to installed profiles that deny (default action not allow/log), so the kernel
   * audits their denials and `auditflow denials` can show them. Needs a runc that supports seccomp flags
   * (≥ 1.2; Debian 12's 1.1.5 refuses any profile with flags), hence off by default.
   */
  logDenials?: boolean;
  /** `oci://` base profiles: pulled, verified and cached by this (policy and cache, src/agent/oci-base.ts); without it they are an error. */
  ociBases?: OciBases;
}

const NON_DENYING = new Set(['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG']);

export interface Agent {
  readonly seccompDir: ProfileDir;
  stop(): Promise<void>;
}

const TYPES: Record<Kind, ResourceType> = { SeccompProfile: SECCOMP_PROFILES, SelinuxProfile: SELINUX_PROFILES };

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const a = new NodeAgent(opts);
  await a.start();
  return a;
}

class NodeAgent implements Agent {
  readonly seccompDir: ProfileDir;
  private readonly cilDir: ProfileDir;
  private readonly selinux: SelinuxSupport;
  private readonly log: Logger;
  private readonly finalizer: string;
  private readonly seccomp: Informer<SeccompProfile & KObject>;
  private readonly selinuxProfiles: Informer<SelinuxProfile & KObject>;
  private readonly pods: Informer<PodLike & KObject>;
  private readonly statuses: Informer<SecurityProfileNodeStatus & KObject>;
  private readonly queue: WorkQueue;
  /** Per seccomp profile, the names its last stack resolution looked at: re-resolve when one changes. */
  private readonly chains = new Map<string, string[]>();
  /** Node status objects this process wrote (the informer may not have seen them yet when deleting). */
  private readonly written = new Set<string>();
  /** This node's state per `kind/name`, for the gauge. */
  private readonly states = new Map<string, ProfileState>();
  /** SELinux modules semodule installed since start (semodule -i is slow: not repeated per event). */
  private readonly modules = new Set<string>();

  constructor(private readonly opts: AgentOptions) {
    const { client, nodeName, namespace } = opts;
    this.log = opts.log.child({ node: nodeName });
    this.finalizer = FINALIZER_NODE(nodeName);
    this.seccompDir = new ProfileDir(path.join(opts.kubeletDir, SECCOMP_OPERATOR_SUBDIR));
    this.cilDir = new ProfileDir(opts.selinuxDir ?? '/etc/selinux.d', '.cil');
    this.selinux = opts.selinux ?? detectSelinux();
    this.seccomp = new Informer(client, SECCOMP_PROFILES, { log: this.log });
    this.selinuxProfiles = new Informer(client, SELINUX_PROFILES, { log: this.log });
    this.pods = new Informer(client, PODS, { log: this.log, fieldSelector: `spec.nodeName=${nodeName}` });
    this.statuses = new Informer(client, NODE_STATUSES, { log: this.log, namespace });
    this.queue = new WorkQueue('agent', (k) => this.reconcile(k), this.log);

    this.seccomp.on((_t, p) => {
      const n = p.metadata.name;
      this.queue.add(`SeccompProfile/${n}`);
      this.queue.add(`status/SeccompProfile/${n}`);
      for (const [dep, chain] of this.chains) if (dep !== n && chain.includes(n)) this.queue.add(`SeccompProfile/${dep}`);
    });
    this.selinuxProfiles.on((_t, p) => {
      this.queue.add(`SelinuxProfile/${p.metadata.name}`);
      this.queue.add(`status/SelinuxProfile/${p.metadata.name}`);
    });
    this.pods.on((_t, pod, old) => {
      // Only profiles waiting on their users care about pods.
      for (const p of [pod, old]) {
        if (!p) continue;
        for (const n of seccompProfilesOf(p)) this.queue.add(`SeccompProfile/${n}`);
        for (const n of selinuxProfilesOf(p)) this.queue.add(`SelinuxProfile/${n}`);
      }
    });
    this.statuses.on((_t, s) => {
      if (s.securityProfileKind && s.securityProfileName) this.queue.add(`status/${s.securityProfileKind}/${s.securityProfileName}`);
    });
  }

  async start(): Promise<void> {
    // Pods and node statuses first: a profile's first reconcile must know who uses it.
    await Promise.all([this.pods.start(), this.statuses.start()]);
    await Promise.all([this.seccomp.start(), this.selinuxProfiles.start()]);
    this.log.info(
      { seccompDir: this.seccompDir.root, selinux: this.selinux.ok ? 'supported' : this.selinux.reason, namespace: this.opts.namespace },
      'node agent started',
    );
  }

  async stop(): Promise<void> {
    await Promise.all([this.seccomp.stop(), this.selinuxProfiles.stop(), this.pods.stop(), this.statuses.stop()]);
    await this.queue.stop();
  }

  private reconcile(key: string): Promise<void> {
    const [a, b, c] = key.split('/') as [string, string, string | undefined];
    if (a === 'status') return this.reconcileProfileStatus(b as Kind, c!);
    return a === 'SeccompProfile' ? this.reconcileSeccomp(b) : this.reconcileSelinux(b);
  }

  // ---------------------------------------------------------------------------------------------
  // seccomp

  private async reconcileSeccomp(name: string): Promise<void> {
    const kind: Kind = 'SeccompProfile';
    const p = this.seccomp.get(name);
    if (!p) {
      this.chains.delete(name);
      // Gone without our finalizer being honoured (e.g. removed by hand): still clean up, unless in use.
      if (!invalidInstallName(name) && !this.usersOf(kind, name).length && (await this.seccompDir.remove(name))) fileOps.inc({ kind, op: 'removed' });
      await this.deleteNodeStatus(kind, name);
      return;
    }
    const bad = invalidInstallName(name);
    if (bad) {
      // Nothing was installed, so no finalizer to honour: report and stop.
      profileErrors.inc({ kind, reason: 'invalid-name' });
      if (p.metadata.deletionTimestamp) return this.deleteNodeStatus(kind, name);
      return this.setNodeStatus(p, 'Error', `invalid profile name: ${bad}; nothing written`);
    }
    if (p.metadata.deletionTimestamp) return this.finishDeletion(p, () => this.seccompDir.remove(name));
    await this.ensureFinalizer(p);
    if (p.spec.disabled) {
      if (!this.usersOf(kind, name).length && (await this.seccompDir.remove(name))) fileOps.inc({ kind, op: 'removed' });
      return this.setNodeStatus(p, 'Pending', 'profile is disabled: not installed');
    }
    const depth = this.opts.maxStackDepth ?? MAX_STACK_DEPTH;
    const r = this.opts.ociBases ? await resolveStackWithOci(name, (n) => this.seccomp.get(n), this.opts.ociBases, depth) : resolveStack(name, (n) => this.seccomp.get(n), depth);
    this.chains.set(name, r.chain);
    if (!r.ok) {
      // A file installed before stays: pods using it keep working; the status says what is wrong.
      profileErrors.inc({ kind, reason: 'stack' });
      return this.setNodeStatus(p, 'Error', r.reason);
    }
    const oci = r.profile;
    if (this.opts.logDenials && !NON_DENYING.has(oci.defaultAction) && !(oci.flags ?? []).includes('SECCOMP_FILTER_FLAG_LOG')) {
      oci.flags = [...(oci.flags ?? []), 'SECCOMP_FILTER_FLAG_LOG'].sort();
    }
    const changed = await this.seccompDir.write(name, JSON.stringify(oci, null, 2) + '\n');
    fileOps.inc({ kind, op: changed ? 'written' : 'unchanged' });
    if (changed) this.log.info({ profile: name, path: this.seccompDir.pathFor(name), stack: r.chain }, 'seccomp profile installed');
    // SPO's `syscalls` annotation: the resolved rules of a stack with an OCI base
    const patch = 'oci' in r && r.oci ? syscallsAnnotationPatch(p, oci.syscalls) : undefined;
    if (patch) await this.opts.client.mergePatch(resourcePath(SECCOMP_PROFILES, { name }), patch);
    await this.setNodeStatus(p, 'Installed', undefined);
  }

  // ---------------------------------------------------------------------------------------------
  // SELinux

  private async reconcileSelinux(name: string): Promise<void> {
    const kind: Kind = 'SelinuxProfile';
    const p = this.selinuxProfiles.get(name);
    if (!p) {
      await this.deleteNodeStatus(kind, name);
      return;
    }
    if (!this.selinux.ok) {
      // Nothing is ever installed here, so no finalizer: the node status goes with the profile.
      if (p.metadata.deletionTimestamp) return this.deleteNodeStatus(kind, name);
      return this.setNodeStatus(p, 'Unsupported', this.selinux.reason);
    }
    const bin = this.selinux.semodule;
    const bad = invalidInstallName(name, '.cil');
    if (bad) {
      profileErrors.inc({ kind, reason: 'invalid-name' });
      if (p.metadata.deletionTimestamp) return this.deleteNodeStatus(kind, name);
      return this.setNodeStatus(p, 'Error', `invalid profile name: ${bad}; nothing written`);
    }
    if (p.metadata.deletionTimestamp) {
      return this.finishDeletion(p, async () => {
        if (this.modules.has(name) || (await this.cilDir.read(name)) !== undefined) await semodule(bin, ['-r', name]).catch((e: Error) => this.log.warn({ profile: name, err: e.message }, 'semodule -r failed'));
        this.modules.delete(name);
        return this.cilDir.remove(name);
      });
    }
    let cil: string;
    try {
      cil = selinuxProfileCil(p);
    } catch (e) {
      if (!(e instanceof CilError)) throw e;
      profileErrors.inc({ kind, reason: 'cil' });
      return this.setNodeStatus(p, 'Error', e.message);
    }
    await this.ensureFinalizer(p);
    const changed = await this.cilDir.write(name, cil);
    if (changed || !this.modules.has(name)) {
      try {
        await semodule(bin, ['-i', this.cilDir.pathFor(name)]);
      } catch (e) {
        profileErrors.inc({ kind, reason: 'semodule' });
        return this.setNodeStatus(p, 'Error', (e as Error).message);
      }
      this.modules.add(name);
      fileOps.inc({ kind, op: 'written' });
    }
    await this.setNodeStatus(p, 'Installed', undefined);
  }

  // ---------------------------------------------------------------------------------------------
  // shared steps

  private usersOf(kind: Kind, name: string): string[] {
    const out: string[] = [];
    for (const pod of this.pods.list()) {
      const used = kind === 'SeccompProfile' ? seccompProfilesOf(pod) : selinuxProfilesOf(pod);
      if (used.has(name)) out.push(podKey(pod));
    }
    return out.sort();
  }

  private async finishDeletion(p: Profile, removeFile: () => Promise<boolean>): Promise<void> {
    const kind = p.kind;
    const name = p.metadata.name;
    if (!(p.metadata.finalizers ?? []).includes(this.finalizer)) return this.deleteNodeStatus(kind, name);
    const users = this.usersOf(kind, name);
    if (users.length) {
      fileOps.inc({ kind, op: 'kept' });
      const shown = users.slice(0, 5).join(', ') + (users.length > 5 ? ` and ${users.length - 5} more` : '');
      return this.setNodeStatus(p, 'Terminating', `still used by pod${users.length > 1 ? 's' : ''} ${shown} on this node`);
    }
    if (await removeFile()) fileOps.inc({ kind, op: 'removed' });
    await this.deleteNodeStatus(kind, name);
    const finalizers = (p.metadata.finalizers ?? []).filter((f) => f !== this.finalizer);
    try {
      await this.opts.client.mergePatch(resourcePath(TYPES[kind], { name }), { metadata: { resourceVersion: p.metadata.resourceVersion, finalizers } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.log.info({ kind, profile: name }, 'profile removed from this node');
  }

  private async ensureFinalizer(p: Profile): Promise<void> {
    const f = p.metadata.finalizers ?? [];
    if (f.includes(this.finalizer)) return;
    // resourceVersion makes this a compare-and-swap: a concurrent change (another node's finalizer) is a
    // 409 and a retry from the fresh object, never a lost finalizer.
    await this.opts.client.mergePatch(resourcePath(TYPES[p.kind], { name: p.metadata.name }), {
      metadata: { resourceVersion: p.metadata.resourceVersion, finalizers: [...f, this.finalizer] },
    });
  }

  private statusKey(kind: Kind, name: string): string {
    return `${this.opts.namespace}/${nodeStatusName(name, this.opts.nodeName)}#${kind}`;
  }

  private track(kind: Kind, name: string, state: ProfileState | undefined): void {
    const k = `${kind}/${name}`;
    if (state) this.states.set(k, state);
    else this.states.delete(k);
    nodeStates.reset();
    for (const [key, s] of this.states) nodeStates.inc({ kind: key.slice(0, key.indexOf('/')), state: s });
  }

  private async setNodeStatus(p: Profile, state: ProfileState, reason: string | undefined): Promise<void> {
    const kind = p.kind;
    const name = nodeStatusName(p.metadata.name, this.opts.nodeName);
    this.track(kind, p.metadata.name, state);
    const cur = this.statuses.get(`${this.opts.namespace}/${name}`);
    if (cur && cur.status === state && (cur.reason ?? undefined) === reason && cur.securityProfileKind === kind && this.written.has(this.statusKey(kind, p.metadata.name))) return;
    if (state === 'Error') this.log.warn({ kind, profile: p.metadata.name, reason }, 'profile not installed on this node');
    const body: SecurityProfileNodeStatus = {
      apiVersion: `${GROUP}/${NODE_STATUS_VERSION}`,
      kind: 'SecurityProfileNodeStatus',
      metadata: {
        name,
        namespace: this.opts.namespace,
        labels: {
          [LABEL_NODE_NAME]: labelValue(this.opts.nodeName),
          [LABEL_PROFILE_ID]: labelValue(`${kind}-${p.metadata.name}`),
          [LABEL_PROFILE_STATE]: state,
        },
        // A namespaced dependent may have a cluster-scoped owner: the garbage collector removes node
        // statuses of a deleted profile even when this agent is gone.
        ownerReferences: p.metadata.uid ? [{ apiVersion: API_VERSION, kind, name: p.metadata.name, uid: p.metadata.uid }] : [],
      },
      nodeName: this.opts.nodeName,
      securityProfileName: p.metadata.name,
      securityProfileKind: kind,
      status: state,
    };
    if (reason !== undefined) body.reason = reason.slice(0, 1024);
    await this.opts.client.apply(resourcePath(NODE_STATUSES, { namespace: this.opts.namespace, name }), body);
    this.written.add(this.statusKey(kind, p.metadata.name));
  }

  private async deleteNodeStatus(kind: Kind, profile: string): Promise<void> {
    this.track(kind, profile, undefined);
    const name = nodeStatusName(profile, this.opts.nodeName);
    const key = this.statusKey(kind, profile);
    if (!this.written.has(key) && !this.statuses.get(`${this.opts.namespace}/${name}`)) return;
    try {
      await this.opts.client.delete(resourcePath(NODE_STATUSES, { namespace: this.opts.namespace, name }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.written.delete(key);
  }

  /** The profile's own status, from every node's status object (all agents compute the same). */
  private async reconcileProfileStatus(kind: Kind, name: string): Promise<void> {
    const p = kind === 'SeccompProfile' ? this.seccomp.get(name) : this.selinuxProfiles.get(name);
    if (!p) return;
    const nodes = this.statuses.list().filter((s) => s.securityProfileKind === kind && s.securityProfileName === name);
    const state = aggregateState(nodes.map((s) => s.status));
    const problems = nodes
      .filter((s) => s.status === 'Error' || s.status === 'Terminating' || s.status === 'Unsupported')
      .map((s) => `${s.nodeName}: ${s.reason ?? s.status}`)
      .sort();
    const message = problems.length ? problems.join('; ').slice(0, 2048) : `${nodes.length} node${nodes.length === 1 ? '' : 's'}: ${state}`;
    const conditions = setCondition(p.status?.conditions, {
      type: 'Ready',
      status: state === 'Installed' ? 'True' : 'False',
      reason: state,
      message,
    });
    const status: Record<string, unknown> = { status: state, conditions };
    if (kind === 'SeccompProfile') status.localhostProfile = `operator/${name}.json`;
    else status.usage = `${name}.process`;
    const cur = (p.status ?? {}) as Record<string, unknown>;
    const same =
      cur.status === state &&
      sameConditions(p.status?.conditions, conditions) &&
      (kind === 'SeccompProfile' ? cur.localhostProfile === status.localhostProfile : cur.usage === status.usage);
    if (same) return;
    try {
      await this.opts.client.mergePatch(resourcePath(TYPES[kind], { name, subresource: 'status' }), { status });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
