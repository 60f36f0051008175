// The Kubernetes resources auditflow reads and writes: SPO-compatible (group
// security-profiles-operator.x-k8s.io, version v1 as in SPO 1.0) plus the per-node status objects.
// deploy/ holds the CRDs whose structural schemas must accept exactly these shapes.

import type { AppArmorAbstract } from '../profile/apparmor-text';
import type { LabelSelector } from '../profile/selector';

export const GROUP = 'security-profiles-operator.x-k8s.io';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Per-node install status, as SPO 1.0's SecurityProfileNodeStatus (v1, cluster-scoped). */
export const NODE_STATUS_VERSION = 'v1';

export const LABEL_RECORDING_ID = 'spo.x-k8s.io/recording-id';
export const LABEL_RECORDING_NAMESPACE = 'spo.x-k8s.io/recording-namespace';
export const LABEL_CONTAINER_ID = 'spo.x-k8s.io/container-id';
export const LABEL_PROFILE_ID = 'spo.x-k8s.io/profile-id';
/** SPO's node status labels (api/secprofnodestatus: StatusToNodeLabel, StatusStateLabel, StatusKindLabel). */
export const LABEL_NODE_NAME = 'spo.x-k8s.io/node-name';
export const LABEL_PROFILE_STATE = 'spo.x-k8s.io/profile-state';
export const LABEL_PROFILE_KIND = 'spo.x-k8s.io/profile-kind';
/** SPO's ProfilePartialLabel: a per-replica profile that recording deletion merges (mergeStrategy Containers). */
export const LABEL_PARTIAL = 'spo.x-k8s.io/partial';
/**
 * Why a node status says Error (SPO's node status has no field for it). Starts with "Unsupported:" when the node
 * lacks the LSM the profile needs (SELinux, AppArmor): SPO's states have no Unsupported, so that is an Error
 * whose reason says so.
 */
export const ANNOTATION_REASON = 'auditflow.dev/reason';
export const UNSUPPORTED_PREFIX = 'Unsupported: ';
/**
 * An auditflow extension on a ProfileRecording (SPO's has no base field): the base profile its recorded
 * SeccompProfiles stack on, a SeccompProfile name or `oci://REGISTRY/REPO[:TAG|@sha256:…]`. The recorded
 * profiles name it in spec.baseProfileName and list only the syscalls it does not allow.
 */
export const ANNOTATION_BASE_PROFILE_NAME = 'auditflow.dev/base-profile-name';
export const FINALIZER_NODE = (node: string) => `${node}-delete`;
export const FINALIZER_RECORDING = 'spo.x-k8s.io/recording-cleanup';

export interface Condition {
  type: string; // Ready, Synced, Recording, ...
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message?: string;
  lastTransitionTime: string;
}

/** SPO's ProfileState (api/secprofnodestatus/v1), for profiles and node statuses alike. */
export type ProfileState = 'Partial' | 'Disabled' | 'Pending' | 'InProgress' | 'Installed' | 'Terminating' | 'Error';
/** SPO's spec.state of every profile kind (default Enabled): a Disabled profile is not installed. */
export type SpecState = 'Enabled' | 'Disabled';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
  deletionTimestamp?: string;
}

export interface SeccompProfile {
  apiVersion: typeof API_VERSION;
  kind: 'SeccompProfile';
  metadata: ObjectMeta; // cluster-scoped
  spec: {
    defaultAction: string; // SCMP_ACT_ERRNO, ...
    architectures?: string[]; // SCMP_ARCH_X86_64, ...
    syscalls?: { action: string; names: string[]; errnoRet?: number; args?: { index: number; value: number; valueTwo?: number; op: string }[] }[];
    baseProfileName?: string;
    flags?: string[];
    listenerPath?: string;
    listenerMetadata?: string;
    state?: SpecState;
  };
  status?: {
    status?: ProfileState;
    conditions?: Condition[];
    /** `operator/<name>.json`: what pods put in securityContext.seccompProfile.localhostProfile */
    localhostProfile?: string;
    path?: string;
    activeWorkloads?: string[];
  };
}

export interface SelinuxProfile {
  apiVersion: typeof API_VERSION;
  kind: 'SelinuxProfile';
  metadata: ObjectMeta; // cluster-scoped
  spec: {
    /** SPO default: [{kind: System, name: container}]; kind defaults to System. */
    inherit?: { kind?: 'System' | 'SelinuxProfile'; name: string }[];
    allow?: Record<string, Record<string, string[]>>;
    /** SPO default Enforcing. */
    mode?: 'Enforcing' | 'Permissive';
    state?: SpecState;
  };
  status?: { status?: ProfileState; conditions?: Condition[]; usage?: string; activeWorkloads?: string[] };
}

export interface ProfileRecording {
  apiVersion: typeof API_VERSION;
  kind: 'ProfileRecording';
  metadata: ObjectMeta; // namespaced
  spec: {
    kind: 'SeccompProfile' | 'SelinuxProfile' | 'AppArmorProfile';
    /** SPO's CRD also accepts Bpf; auditflow records from logs only and says so in the status. */
    recorder: 'Logs' | 'Bpf';
    podSelector: LabelSelector;
    containers?: string[];
    mergeStrategy?: 'None' | 'Containers';
    /** Recorded profiles are written with spec.state Disabled. */
    disableProfileAfterRecording?: boolean;
  };
  status?: {
    conditions?: Condition[];
    activeWorkloads?: string[];
    /** Names of the profiles this recording produced so far. */
    profiles?: string[];
  };
}

/** SPO's RawSelinuxProfile: a CIL policy given as text, installed as is. */
export interface RawSelinuxProfile {
  apiVersion: typeof API_VERSION;
  kind: 'RawSelinuxProfile';
  metadata: ObjectMeta; // cluster-scoped
  spec: { policy?: string; state?: SpecState };
  status?: { status?: ProfileState; conditions?: Condition[]; usage?: string; activeWorkloads?: string[] };
}

/** SPO's AppArmorProfile in its structured form (spec.abstract, typed in profile/apparmor-text.ts). */
export interface AppArmorProfile {
  apiVersion: typeof API_VERSION;
  kind: 'AppArmorProfile';
  metadata: ObjectMeta; // cluster-scoped
  spec: { abstract?: AppArmorAbstract; mode?: 'Enforce' | 'Complain'; state?: SpecState };
  status?: { status?: ProfileState; conditions?: Condition[] };
}

/** SPO's ProfileBinding: stored and validated only (auditflow binds nothing). */
export interface ProfileBinding {
  apiVersion: typeof API_VERSION;
  kind: 'ProfileBinding';
  metadata: ObjectMeta; // namespaced
  spec: { image: string; profileRef: { kind: 'SeccompProfile' | 'SelinuxProfile' | 'AppArmorProfile'; name: string } };
  status?: { activeWorkloads?: string[] };
}

export type NodeProfileKind = 'SeccompProfile' | 'SelinuxProfile' | 'RawSelinuxProfile' | 'AppArmorProfile';

/**
 * One object per (profile, node), SPO 1.0's shape: cluster-scoped, spec.nodeName and status.status; the profile
 * is named by the labels spo.x-k8s.io/profile-id (`<Kind>-<name>`, hashed when long) and profile-kind, and by an
 * owner reference to it.
 */
export interface SecurityProfileNodeStatus {
  apiVersion: `${typeof GROUP}/${typeof NODE_STATUS_VERSION}`;
  kind: 'SecurityProfileNodeStatus';
  metadata: ObjectMeta; // cluster-scoped, name `<kind lower case>-<profile>-<node>` (hashed when too long)
  spec: { nodeName: string };
  status?: { status?: ProfileState };
}
