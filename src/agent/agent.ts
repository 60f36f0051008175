// The node agent: installs SeccompProfiles (stacked on their bases) as files kubelet reads, SelinuxProfiles
// as CIL modules where the node has SELinux, and reports per-node and profile-wide status.
//
// Per profile: a finalizer `<node>-delete` is added before anything is written, so a deleted profile's
// file is removed by this node's agent, and only once no pod on the node still references it.
// Everything is driven by informers (list + watch, relist on 410) into one keyed work queue, so a burst
// of events costs one reconcile per profile and failures retry with backoff.

import * as path from 'node:path';
import type { Logger } from '../log';
import {
  ANNOTATION_REASON,
  API_VERSION,
  FINALIZER_NODE,
  GROUP,
  LABEL_NODE_NAME,
  LABEL_PROFILE_ID,
  LABEL_PROFILE_KIND,
  LABEL_PROFILE_STATE,
  NODE_STATUS_VERSION,
  UNSUPPORTED_PREFIX,
  type AppArmorProfile,
  type NodeProfileKind,
  type ProfileState,
  type RawSelinuxProfile,
  type SeccompProfile,
  type SecurityProfileNodeStatus,
  type SelinuxProfile,
} from '../k8s/api';
import { isNotFound, type KubeClient } from '../k8s/client';
import { sameConditions, setCondition } from '../k8s/conditions';
import { Informer, type KObject } from '../k8s/informer';
import { APPARMOR_PROFILES, NODE_STATUSES, PODS, RAW_SELINUX_PROFILES, resourcePath, SECCOMP_PROFILES, SELINUX_PROFILES, type ResourceType } from '../k8s/resources';
import { WorkQueue } from '../k8s/workqueue';
import { fileOps as fileOpsBase, nodeStates, ociRetries, profileErrors as profileErrorsBase, spoKind, spoProfileErrors, spoProfileOps } from './metrics';
import { AppArmorError, appArmorProfileText } from '../profile/apparmor-text';
import { apparmorParser, detectAppArmor, type AppArmorSupport } from './apparmor';
import { appArmorProfilesOf, podKey, seccompProfilesOf, selinuxProfilesOf, type PodLike } from './pods';
import { invalidInstallName, ProfileDir, SECCOMP_OPERATOR_SUBDIR } from './profile-files';
import { installLogProfile } from './log-profile';
import { CilError, detectSelinux, rawSelinuxProfileCil, selinuxProfileCil, semodule, type SelinuxSupport } from './selinux';
import { resolveStack, MAX_STACK_DEPTH } from './stack';
import { resolveStackWithOci, syscallsAnnotationPatch, type OciBases } from './oci-base';
import { aggregateState, labelValue, nodeStatusName, profileId } from './status';
import { backoffMs } from '../retry';

export { LABEL_NODE_NAME, LABEL_PROFILE_STATE };

type Kind = NodeProfileKind;
type LsmKind = Exclude<Kind, 'SeccompProfile'>;
type Profile = SeccompProfile | SelinuxProfile | RawSelinuxProfile | AppArmorProfile;

export interface AgentOptions {
  client: KubeClient;
  nodeName: string;
  /** kubelet's root directory; seccomp files go to <kubeletDir>/seccomp/operator. */
  kubeletDir: string;
  /**
   * The agent's namespace (default auditflow): the logging profile goes to operator/<namespace>/ (node statuses
   * are cluster-scoped, as SPO 1.0's).
   */
  namespace?: string;
  log: Logger;
  /** Where CIL modules are kept before semodule installs them. */
  selinuxDir?: string;
  /** Detected from /sys/fs/selinux and semodule when not given. */
  selinux?: SelinuxSupport;
  /** Detected from /sys/module/apparmor/parameters/enabled and apparmor_parser when not given. */
  apparmor?: AppArmorSupport;
  /** Where AppArmor profile texts are kept (default /etc/apparmor.d/auditflow). */
  apparmorDir?: string;
  maxStackDepth?: number;
  /**
   * Add SECCOMP_FILTER_FLAG_LOG to installed profiles that deny (default action not allow/log), so the kernel
   * audits their denials and `auditflow denials` can show them. Needs a runc that supports seccomp flags
   * (≥ 1.2; Debian 12's 1.1.5 refuses any profile with flags), hence off by default.
   */
  logDenials?: boolean;
  /** `oci://` base profiles: pulled, verified and cached by this (policy and cache, src/agent/oci-base.ts); without it they are an error. */
  ociBases?: OciBases;
  /**
   * A profile whose `oci://` base could not be pulled or verified is reconciled again on a timer, with per-profile
   * exponential backoff between these bounds (default 10 s to 5 min): a registry outage, or a base pushed or
   * signed after the profile that names it, heals without anyone touching the profile.
   */
  ociRetry?: { initialMs: number; maxMs: number };
}

export const DEFAULT_OCI_RETRY = { initialMs: 10_000, maxMs: 300_000 };

const NON_DENYING = new Set(['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG']);

/** auditflow_agent_* plus SPO's security_profiles_operator_*_profile_total (written: update, removed: delete). */
const fileOps = {
  inc(l: { kind: string; op: string }): void {
    fileOpsBase.inc(l);
    if (l.op === 'written') spoProfileOps[spoKind(l.kind)].inc({ operation: 'update' });
    else if (l.op === 'removed') spoProfileOps[spoKind(l.kind)].inc({ operation: 'delete' });
  },
};
/** auditflow_agent_profile_errors_total plus SPO's security_profiles_operator_*_profile_error_total. */
const profileErrors = {
  inc(l: { kind: string; reason: string }, profile = ''): void {
    profileErrorsBase.inc(l);
    const k = spoKind(l.kind);
    if (k === 'AppArmorProfile') spoProfileErrors.AppArmorProfile.inc({ profile, reason: l.reason });
    else spoProfileErrors[k].inc({ reason: l.reason });
  },
};

export interface Agent {
  readonly seccompDir: ProfileDir;
  stop(): Promise<void>;
}

const TYPES: Record<Kind, ResourceType> = {
  SeccompProfile: SECCOMP_PROFILES,
  SelinuxProfile: SELINUX_PROFILES,
  RawSelinuxProfile: RAW_SELINUX_PROFILES,
  AppArmorProfile: APPARMOR_PROFILES,
};
const KINDS = Object.keys(TYPES) as Kind[];

/** What a pod uses, per kind: SelinuxProfile and RawSelinuxProfile share the `<name>.process` type. */
function usedBy(kind: Kind, pod: PodLike): Set<string> {
  if (kind === 'SeccompProfile') return seccompProfilesOf(pod);
  if (kind === 'AppArmorProfile') return appArmorProfilesOf(pod);
  return selinuxProfilesOf(pod);
}

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const a = new NodeAgent(opts);
  await a.start();
  return a;
}

class NodeAgent implements Agent {
  readonly seccompDir: ProfileDir;
  private readonly cilDir: ProfileDir;
  private readonly aaDir: ProfileDir;
  private readonly selinux: SelinuxSupport;
  private readonly apparmor: AppArmorSupport;
  private readonly log: Logger;
  private readonly finalizer: string;
  private readonly profiles: Record<Kind, Informer<Profile & KObject>>;
  private readonly pods: Informer<PodLike & KObject>;
  private readonly statuses: Informer<SecurityProfileNodeStatus & KObject>;
  private readonly queue: WorkQueue;
  /** Per seccomp profile, the names its last stack resolution looked at: re-resolve when one changes. */
  private readonly chains = new Map<string, string[]>();
  /** Node status objects this process wrote, with what they said (the informer may lag behind). */
  private readonly written = new Map<string, string>();
  /** This node's state per `kind/name`, for the gauge. */
  private readonly states = new Map<string, ProfileState>();
  /** Per seccomp profile, consecutive reconciles whose `oci://` base failed: the backoff of its timed retry. */
  private readonly ociFailures = new Map<string, number>();
  /** SELinux modules / AppArmor profiles loaded since start (slow: not repeated per event). */
  private readonly loaded = new Set<string>();

  constructor(private readonly opts: AgentOptions) {
    const { client, nodeName } = opts;
    this.log = opts.log.child({ node: nodeName });
    this.finalizer = FINALIZER_NODE(nodeName);
    this.seccompDir = new ProfileDir(path.join(opts.kubeletDir, SECCOMP_OPERATOR_SUBDIR));
    this.cilDir = new ProfileDir(opts.selinuxDir ?? '/etc/selinux.d', '.cil');
    this.aaDir = new ProfileDir(opts.apparmorDir ?? '/etc/apparmor.d/auditflow', '');
    this.selinux = opts.selinux ?? detectSelinux();
    this.apparmor = opts.apparmor ?? detectAppArmor();
    this.profiles = Object.fromEntries(KINDS.map((k) => [k, new Informer<Profile & KObject>(client, TYPES[k], { log: this.log })])) as Record<Kind, Informer<Profile & KObject>>;
    this.pods = new Informer(client, PODS, { log: this.log, fieldSelector: `spec.nodeName=${nodeName}` });
    this.statuses = new Informer(client, NODE_STATUSES, { log: this.log });
    this.queue = new WorkQueue('agent', (k) => this.reconcile(k), this.log);

    for (const kind of KINDS) {
      this.profiles[kind].on((_t, p) => {
        const n = p.metadata.name;
        this.queue.add(`${kind}/${n}`);
        this.queue.add(`status/${kind}/${n}`);
        if (kind === 'SeccompProfile') for (const [dep, chain] of this.chains) if (dep !== n && chain.includes(n)) this.queue.add(`SeccompProfile/${dep}`);
      });
    }
    this.pods.on((_t, pod, old) => {
      // Only profiles waiting on their users care about pods (deleted or disabled ones).
      for (const p of [pod, old]) {
        if (!p) continue;
        for (const kind of KINDS) for (const n of usedBy(kind, p)) this.queue.add(`${kind}/${n}`);
      }
    });
    this.statuses.on((_t, s) => {
      const kind = s.metadata.labels?.[LABEL_PROFILE_KIND] as Kind | undefined;
      const owner = (s.metadata.ownerReferences ?? []).find((o) => o.kind === kind);
      if (kind && KINDS.includes(kind) && owner) this.queue.add(`status/${kind}/${owner.name}`);
    });
  }

  async start(): Promise<void> {
    // Recording (the webhook injects it) must find the logging profile on every node, before any profile.
    const lp = await installLogProfile(this.opts.kubeletDir, this.opts.namespace ?? 'auditflow');
    if (lp.changed) this.log.info({ path: lp.path }, 'logging seccomp profile installed');
    // Pods and node statuses first: a profile's first reconcile must know who uses it.
    await Promise.all([this.pods.start(), this.statuses.start()]);
    await Promise.all(KINDS.map((k) => this.profiles[k].start()));
    this.log.info(
      { seccompDir: this.seccompDir.root, selinux: this.selinux.ok ? 'supported' : this.selinux.reason, apparmor: this.apparmor.ok ? 'supported' : this.apparmor.reason },
      'node agent started',
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...KINDS.map((k) => this.profiles[k].stop()), this.pods.stop(), this.statuses.stop()]);
    await this.queue.stop();
  }

  private reconcile(key: string): Promise<void> {
    const [a, b, c] = key.split('/') as [string, string, string | undefined];
    if (a === 'status') return this.reconcileProfileStatus(b as Kind, c!);
    return a === 'SeccompProfile' ? this.reconcileSeccomp(b) : this.reconcileLsm(a as LsmKind, b);
  }

  private usersOf(kind: Kind, name: string): string[] {
    const out: string[] = [];
    for (const pod of this.pods.list()) if (usedBy(kind, pod).has(name)) out.push(podKey(pod));
    return out.sort();
  }

  private static shown(users: string[]): string {
    return users.slice(0, 5).join(', ') + (users.length > 5 ? ` and ${users.length - 5} more` : '');
  }

  /**
   * spec.state Disabled, as SPO: not installed; a file installed before is removed once no pod on this node
   * uses it (kubelet reads it again whenever a container restarts). The node status says Disabled.
   */
  private async disable(p: Profile, remove: () => Promise<boolean>): Promise<void> {
    const users = this.usersOf(p.kind, p.metadata.name);
    if (!users.length && (await remove())) fileOps.inc({ kind: p.kind, op: 'removed' });
    if (users.length) fileOps.inc({ kind: p.kind, op: 'kept' });
    return this.setNodeStatus(p, 'Disabled', users.length ? `disabled; still used by pod${users.length > 1 ? 's' : ''} ${NodeAgent.shown(users)} on this node: file kept` : undefined);
  }

  // ---------------------------------------------------------------------------------------------
  // seccomp

  private async reconcileSeccomp(name: string): Promise<void> {
    const kind: Kind = 'SeccompProfile';
    const p = this.profiles.SeccompProfile.get(name) as (SeccompProfile & KObject) | undefined;
    if (!p) {
      this.chains.delete(name);
      this.ociFailures.delete(name);
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
    if (p.spec.state === 'Disabled') return this.disable(p, () => this.seccompDir.remove(name));
    const depth = this.opts.maxStackDepth ?? MAX_STACK_DEPTH;
    const get = (n: string) => this.profiles.SeccompProfile.get(n) as SeccompProfile | undefined;
    const r = this.opts.ociBases ? await resolveStackWithOci(name, get, this.opts.ociBases, depth) : resolveStack(name, get, depth);
    this.chains.set(name, r.chain);
    if ('pullFailed' in r && r.pullFailed) this.retryOciLater(name);
    else this.ociFailures.delete(name);
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

  /**
   * Nothing in the cluster changes when a registry comes back or a base gets signed, so no informer event would
   * ever reconcile the profile again: a timer does. The status stays Error with the last reason meanwhile.
   */
  private retryOciLater(name: string): void {
    const n = (this.ociFailures.get(name) ?? 0) + 1;
    this.ociFailures.set(name, n);
    const delay = backoffMs(n - 1, this.opts.ociRetry ?? DEFAULT_OCI_RETRY);
    ociRetries.inc();
    this.log.warn({ profile: name, failures: n, retryInMs: delay }, 'oci:// base profile not available: retrying later');
    this.queue.addAfter(`SeccompProfile/${name}`, delay);
  }

  // ---------------------------------------------------------------------------------------------
  // SELinux (SelinuxProfile, RawSelinuxProfile) and AppArmor: an LSM the node may not have

  private lsmSupport(kind: LsmKind): string | undefined {
    const s = kind === 'AppArmorProfile' ? this.apparmor : this.selinux;
    return s.ok ? undefined : s.reason;
  }

  /** The text to install (CIL module, AppArmor profile), or throws CilError/AppArmorError. */
  private render(p: Profile): string {
    if (p.kind === 'SelinuxProfile') return selinuxProfileCil(p);
    if (p.kind === 'RawSelinuxProfile') return rawSelinuxProfileCil(p.metadata.name, p.spec.policy);
    return appArmorProfileText(p as AppArmorProfile);
  }

  private fileDir(kind: LsmKind): ProfileDir {
    return kind === 'AppArmorProfile' ? this.aaDir : this.cilDir;
  }

  private async load(kind: LsmKind, name: string): Promise<void> {
    if (kind === 'AppArmorProfile') {
      const s = this.apparmor as { ok: true; parser: string };
      const text = await this.aaDir.read(name);
      await apparmorParser(s.parser, ['--replace', '--write-cache', '--skip-read-cache'], text ?? '');
    } else {
      await semodule((this.selinux as { ok: true; semodule: string }).semodule, ['-i', this.cilDir.pathFor(name)]);
    }
  }

  private async unload(kind: LsmKind, name: string): Promise<boolean> {
    const dir = this.fileDir(kind);
    const text = await dir.read(name);
    if (this.loaded.has(`${kind}/${name}`) || text !== undefined) {
      if (kind === 'AppArmorProfile') {
        const s = this.apparmor as { ok: true; parser: string };
        await apparmorParser(s.parser, ['--remove'], text ?? '').catch((e: Error) => this.log.warn({ profile: name, err: e.message }, 'apparmor_parser --remove failed'));
      } else {
        await semodule((this.selinux as { ok: true; semodule: string }).semodule, ['-r', name]).catch((e: Error) => this.log.warn({ profile: name, err: e.message }, 'semodule -r failed'));
      }
    }
    this.loaded.delete(`${kind}/${name}`);
    return dir.remove(name);
  }

  private async reconcileLsm(kind: LsmKind, name: string): Promise<void> {
    const p = this.profiles[kind].get(name);
    if (!p) return this.deleteNodeStatus(kind, name);
    const unsupported = this.lsmSupport(kind);
    if (unsupported) {
      // Nothing is ever installed here, so no finalizer: the node status goes with the profile. SPO's states
      // have no Unsupported: it is an Error whose reason starts with "Unsupported:".
      if (p.metadata.deletionTimestamp) return this.deleteNodeStatus(kind, name);
      if (p.spec.state === 'Disabled') return this.setNodeStatus(p, 'Disabled', undefined);
      return this.setNodeStatus(p, 'Error', UNSUPPORTED_PREFIX + unsupported);
    }
    const bad = invalidInstallName(name, kind === 'AppArmorProfile' ? '' : '.cil');
    if (bad) {
      profileErrors.inc({ kind, reason: 'invalid-name' });
      if (p.metadata.deletionTimestamp) return this.deleteNodeStatus(kind, name);
      return this.setNodeStatus(p, 'Error', `invalid profile name: ${bad}; nothing written`);
    }
    if (p.metadata.deletionTimestamp) return this.finishDeletion(p, () => this.unload(kind, name));
    await this.ensureFinalizer(p);
    if (p.spec.state === 'Disabled') return this.disable(p, () => this.unload(kind, name));
    let text: string;
    try {
      text = this.render(p);
    } catch (e) {
      if (!(e instanceof CilError) && !(e instanceof AppArmorError)) throw e;
      profileErrors.inc({ kind, reason: kind === 'AppArmorProfile' ? 'apparmor' : 'cil' }, name);
      return this.setNodeStatus(p, 'Error', e.message);
    }
    const changed = await this.fileDir(kind).write(name, text);
    if (changed || !this.loaded.has(`${kind}/${name}`)) {
      try {
        await this.load(kind, name);
      } catch (e) {
        profileErrors.inc({ kind, reason: kind === 'AppArmorProfile' ? 'apparmor_parser' : 'semodule' }, name);
        return this.setNodeStatus(p, 'Error', (e as Error).message);
      }
      this.loaded.add(`${kind}/${name}`);
      fileOps.inc({ kind, op: 'written' });
    }
    await this.setNodeStatus(p, 'Installed', undefined);
  }

  // ---------------------------------------------------------------------------------------------
  // shared steps

  private async finishDeletion(p: Profile, removeFile: () => Promise<boolean>): Promise<void> {
    const kind = p.kind;
    const name = p.metadata.name;
    if (!(p.metadata.finalizers ?? []).includes(this.finalizer)) return this.deleteNodeStatus(kind, name);
    const users = this.usersOf(kind, name);
    if (users.length) {
      fileOps.inc({ kind, op: 'kept' });
      return this.setNodeStatus(p, 'Terminating', `still used by pod${users.length > 1 ? 's' : ''} ${NodeAgent.shown(users)} on this node`);
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

  private track(kind: Kind, name: string, state: ProfileState | undefined, reason?: string): void {
    const k = `${kind}/${name}`;
    // The gauge keeps auditflow's Unsupported (an Error whose reason says so) apart from real errors.
    const shown = state === 'Error' && reason?.startsWith(UNSUPPORTED_PREFIX) ? 'Unsupported' : state;
    if (shown) this.states.set(k, shown as ProfileState);
    else this.states.delete(k);
    nodeStates.reset();
    for (const [key, s] of this.states) nodeStates.inc({ kind: key.slice(0, key.indexOf('/')), state: s });
  }

  /**
   * This node's SecurityProfileNodeStatus for the profile, SPO 1.0's object: metadata (SPO's labels, an owner
   * reference to the profile so the garbage collector removes it with the profile), spec.nodeName, and
   * status.status through the status subresource. Why it is in Error goes in the auditflow.dev/reason
   * annotation (SPO's object has no field for it).
   */
  private async setNodeStatus(p: Profile, state: ProfileState, reason: string | undefined): Promise<void> {
    const kind = p.kind;
    const name = nodeStatusName(kind, p.metadata.name, this.opts.nodeName);
    this.track(kind, p.metadata.name, state, reason);
    const said = JSON.stringify([state, reason ?? null, p.metadata.uid ?? null]);
    const cur = this.statuses.get(name);
    if (
      this.written.get(name) === said &&
      cur?.status?.status === state &&
      (cur.metadata.annotations?.[ANNOTATION_REASON] ?? undefined) === (reason === undefined ? undefined : reason.slice(0, 1024))
    ) {
      return;
    }
    if (state === 'Error') this.log.warn({ kind, profile: p.metadata.name, reason }, 'profile not installed on this node');
    const metadata: SecurityProfileNodeStatus['metadata'] = {
      name,
      labels: {
        [LABEL_PROFILE_ID]: profileId(kind, p.metadata.name),
        [LABEL_NODE_NAME]: labelValue(this.opts.nodeName),
        [LABEL_PROFILE_STATE]: state,
        [LABEL_PROFILE_KIND]: kind,
      },
      ownerReferences: p.metadata.uid ? [{ apiVersion: API_VERSION, kind, name: p.metadata.name, uid: p.metadata.uid, controller: true }] : [],
    };
    if (reason !== undefined) metadata.annotations = { [ANNOTATION_REASON]: reason.slice(0, 1024) };
    const apiVersion = `${GROUP}/${NODE_STATUS_VERSION}` as const;
    const body: SecurityProfileNodeStatus = { apiVersion, kind: 'SecurityProfileNodeStatus', metadata, spec: { nodeName: this.opts.nodeName } };
    // Server-side apply: an annotation this manager no longer sends is removed.
    await this.opts.client.apply(resourcePath(NODE_STATUSES, { name }), body);
    await this.opts.client.apply(resourcePath(NODE_STATUSES, { name, subresource: 'status' }), { apiVersion, kind: 'SecurityProfileNodeStatus', metadata: { name }, status: { status: state } });
    this.written.set(name, said);
  }

  private async deleteNodeStatus(kind: Kind, profile: string): Promise<void> {
    this.track(kind, profile, undefined);
    const name = nodeStatusName(kind, profile, this.opts.nodeName);
    if (!this.written.has(name) && !this.statuses.get(name)) return;
    try {
      await this.opts.client.delete(resourcePath(NODE_STATUSES, { name }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.written.delete(name);
  }

  /** The profile's own status, from every node's status object (all agents compute the same). */
  private async reconcileProfileStatus(kind: Kind, name: string): Promise<void> {
    const p = this.profiles[kind].get(name);
    if (!p) return;
    const nodes = this.statuses
      .list()
      .filter((s) => s.metadata.labels?.[LABEL_PROFILE_KIND] === kind && (s.metadata.ownerReferences ?? []).some((o) => o.kind === kind && o.name === name && (!p.metadata.uid || o.uid === p.metadata.uid)));
    const state = aggregateState(nodes.map((s) => s.status?.status ?? 'Pending'));
    const reasonOf = (s: SecurityProfileNodeStatus) => s.metadata.annotations?.[ANNOTATION_REASON];
    const problems = nodes
      .filter((s) => s.status?.status === 'Error' || s.status?.status === 'Terminating')
      .map((s) => `${s.spec.nodeName}: ${reasonOf(s) ?? s.status?.status}`)
      .sort();
    const errors = nodes.filter((s) => s.status?.status === 'Error');
    const allUnsupported = errors.length > 0 && errors.every((s) => reasonOf(s)?.startsWith(UNSUPPORTED_PREFIX));
    const message = problems.length ? problems.join('; ').slice(0, 2048) : `${nodes.length} node${nodes.length === 1 ? '' : 's'}: ${state}`;
    const conditions = setCondition(p.status?.conditions, {
      type: 'Ready',
      status: state === 'Installed' ? 'True' : 'False',
      reason: state === 'Error' && allUnsupported ? 'Unsupported' : state,
      message,
    });
    const status: Record<string, unknown> = { status: state, conditions };
    if (kind === 'SeccompProfile') status.localhostProfile = `operator/${name}.json`;
    else if (kind !== 'AppArmorProfile') status.usage = `${name}.process`;
    const cur = (p.status ?? {}) as Record<string, unknown>;
    const same = cur.status === state && sameConditions(p.status?.conditions, conditions) && cur.localhostProfile === status.localhostProfile && cur.usage === status.usage;
    if (same) return;
    try {
      await this.opts.client.mergePatch(resourcePath(TYPES[kind], { name, subresource: 'status' }), { status });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
