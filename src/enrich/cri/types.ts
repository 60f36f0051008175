// TypeScript shapes for the subset of CRI runtime.v1 in runtime_v1.proto.
// Wire messages use proto-loader's representation (camelCase fields, enum names, int64 as decimal strings);
// the Cri* result types are what CriClient returns after mapping.

export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type ProfileType = 'RuntimeDefault' | 'Unconfined' | 'Localhost';

// ---------- request side (what a kubelet-like client sends)

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  targetId?: string;
}

export interface SecurityProfile {
  profileType: ProfileType;
  /** seccomp: absolute path of the profile on the node (containerd 1.6 requires it absolute) */
  localhostRef?: string;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  /** must stay unset with a NODE network namespace (shares the host's UTS namespace) */
  hostname?: string;
  logDirectory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: {
    cgroupParent?: string;
    securityContext?: {
      namespaceOptions?: NamespaceOption;
      privileged?: boolean;
      seccomp?: SecurityProfile;
    };
    sysctls?: Record<string, string>;
  };
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  workingDir?: string;
  envs?: { key: string; value: string }[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  logPath?: string;
  linux?: {
    securityContext?: {
      privileged?: boolean;
      namespaceOptions?: NamespaceOption;
      seccomp?: SecurityProfile;
      noNewPrivs?: boolean;
      capabilities?: { addCapabilities?: string[]; dropCapabilities?: string[] };
    };
  };
}

export interface ContainerFilter {
  id?: string;
  state?: ContainerState;
  podSandboxId?: string;
  labelSelector?: Record<string, string>;
}

export interface PodSandboxFilter {
  id?: string;
  state?: PodSandboxState;
  labelSelector?: Record<string, string>;
}

// ---------- result side

export interface CriVersion {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

/** Labels kubelet puts on sandboxes and containers (containerd and CRI-O don't invent them). */
export const KUBELET_LABELS = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
} as const;

/** Pod identity as far as a container's own labels tell it (kubelet's io.kubernetes.pod.* labels). */
export interface PodRefFromLabels {
  podName: string | undefined;
  podNamespace: string | undefined;
  podUid: string | undefined;
}

export interface CriContainer extends PodRefFromLabels {
  id: string;
  podSandboxId: string;
  name: string;
  attempt: number;
  image: string;
  imageRef: string;
  state: ContainerState;
  /** nanoseconds since the epoch */
  createdAt: bigint;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface CriContainerStatus extends PodRefFromLabels {
  id: string;
  /** from the verbose info (containerd and CRI-O both report sandboxID); undefined when not verbose */
  podSandboxId: string | undefined;
  name: string;
  attempt: number;
  state: ContainerState;
  createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  exitCode: number;
  /** the image as the runtime reports it; see imageName for the reference the pod asked for */
  image: string;
  /** the image reference the container was created from (containerd's io.kubernetes.cri.image-name), else `image` */
  imageName: string;
  imageRef: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
  /** host pid of the container's init process, from the verbose info; undefined when not verbose or not running */
  pid: number | undefined;
  /** the parsed verbose info["info"] object, when asked for */
  info: Record<string, unknown> | undefined;
}

export interface CriPodSandbox {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  state: PodSandboxState;
  createdAt: bigint;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface CriPodSandboxStatus extends CriPodSandbox {
  network: { ip: string; additionalIps: string[] };
  /** host pid of the sandbox (pause) process, from the verbose info */
  pid: number | undefined;
  info: Record<string, unknown> | undefined;
}
