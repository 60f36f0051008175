// What the admission webhooks read and write besides SPO's resources: auditflow's own cluster-scoped binding
// (group auditflow.dev), and the names SPO gives to its annotations, finalizers and events.

import type { ObjectMeta } from '../k8s/api';
import type { ResourceType } from '../k8s/resources';

export const AUDITFLOW_GROUP = 'auditflow.dev';
export const CLUSTER_BINDING_VERSION = 'v1alpha1';

/**
 * A ProfileBinding for every namespace except those under `exclude` (after KubeArmor's cluster policies).
 * A namespaced ProfileBinding of the pod's namespace wins over it for the containers it covers.
 */
export interface ClusterProfileBinding {
  apiVersion: `${typeof AUDITFLOW_GROUP}/${typeof CLUSTER_BINDING_VERSION}`;
  kind: 'ClusterProfileBinding';
  metadata: ObjectMeta & { creationTimestamp?: string };
  spec: {
    image: string;
    profileRef: { kind: 'SeccompProfile' | 'SelinuxProfile'; name: string };
    exclude?: string[];
  };
  status?: { activeWorkloads?: string[] };
}

export const CLUSTER_PROFILE_BINDINGS: ResourceType = { group: AUDITFLOW_GROUP, version: CLUSTER_BINDING_VERSION, plural: 'clusterprofilebindings', kind: 'ClusterProfileBinding', namespaced: false };
export const NAMESPACES: ResourceType = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
export const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };
export const EVENTS: ResourceType = { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };
export const MUTATING_WEBHOOK_CONFIGURATIONS: ResourceType = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural: 'mutatingwebhookconfigurations',
  kind: 'MutatingWebhookConfiguration',
  namespaced: false,
};

/** SPO's namespace opt-in labels (their presence counts, not their value). */
export const LABEL_ENABLE_RECORDING = 'spo.x-k8s.io/enable-recording';
export const LABEL_ENABLE_BINDING = 'spo.x-k8s.io/enable-binding';

/** SPO's per-container recording annotations (config.SeccompProfileRecordLogsAnnotationKey, ...Selinux...). */
export const ANNOTATION_TRACE_LOGS = 'io.containers.trace-logs/';
export const ANNOTATION_TRACE_AVCS = 'io.containers.trace-avcs/';
/** The bindings applied to a pod, as SPO lists them; and auditflow's cluster-wide ones. */
export const ANNOTATION_PROFILE_BINDINGS = 'spo.x-k8s.io/profile-bindings';
export const ANNOTATION_CLUSTER_PROFILE_BINDINGS = 'auditflow.dev/cluster-profile-bindings';

/** SPO's finalizers: a profile used by pods; a binding with active workloads. */
export const FINALIZER_IN_USE = 'in-use-by-active-pods';
export const FINALIZER_BINDING = 'active-workload-lock';

export { logProfileLocalhost } from '../agent/log-profile';
