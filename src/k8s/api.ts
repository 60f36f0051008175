// The Kubernetes resources auditflow reads and writes: SPO-compatible (group
// security-profiles-operator.x-k8s.io, version v1 as in SPO 1.0) plus the per-node status objects.
// deploy/ holds the CRDs whose structural schemas must accept exactly these shapes.

import type { LabelSelector } from '../profile/selector';

export const GROUP = 'security-profiles-operator.x-k8s.io';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Per-node install status, as SPO's SecurityProfileNodeStatus (namespaced, in the operator's namespace). */
export const NODE_STATUS_VERSION = 'v1alpha1';

export const LABEL_RECORDING_ID = 'spo.x-k8s.io/recording-id';
export const LABEL_RECORDING_NAMESPACE = 'spo.x-k8s.io/recording-namespace';
export const LABEL_CONTAINER_ID = 'spo.x-k8s.io/container-id';
export const LABEL_PROFILE_ID = 'spo.x-k8s.io/profile-id';
export const FINALIZER_NODE = (node: string) => `${node}-delete`;
export const FINALIZER_RECORDING = 'spo.x-k8s.io/recording-cleanup';

export interface Condition {
  type: string; // Ready, Synced, Recording, ...
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message?: string;
  lastTransitionTime: string;
}

export type ProfileState = 'Pending' | 'InProgress' | 'Installed' | 'Terminating' | 'Error' | 'Partial' | 'Unsupported';

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
    disabled?: boolean;
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
    inherit?: { kind: 'System' | 'SelinuxProfile'; name: string }[];
    allow?: Record<string, Record<string, string[]>>;
    permissive?: boolean;
    disabled?: boolean;
  };
  status?: { status?: ProfileState; conditions?: Condition[]; usage?: string; activeWorkloads?: string[] };
}

export interface ProfileRecording {
  apiVersion: typeof API_VERSION;
  kind: 'ProfileRecording';
  metadata: ObjectMeta; // namespaced
  spec: {
    kind: 'SeccompProfile' | 'SelinuxProfile';
    recorder: 'Logs';
    podSelector: LabelSelector;
    containers?: string[];
    mergeStrategy?: 'None' | 'Containers';
    disableProfileAfterRecording?: boolean;
  };
  status?: {
    conditions?: Condition[];
    activeWorkloads?: string[];
    /** Names of the profiles this recording produced so far. */
    profiles?: string[];
  };
}

/** One object per (profile, node): the node agent's view (SPO's SecurityProfileNodeStatus). */
export interface SecurityProfileNodeStatus {
  apiVersion: `${typeof GROUP}/${typeof NODE_STATUS_VERSION}`;
  kind: 'SecurityProfileNodeStatus';
  metadata: ObjectMeta; // namespaced (the agent's namespace), name `<profile>-<node>` (hashed when too long)
  nodeName: string;
  securityProfileName: string;
  securityProfileKind: 'SeccompProfile' | 'SelinuxProfile';
  status: ProfileState;
  /** Why, when status is Error or Unsupported. */
  reason?: string;
}
