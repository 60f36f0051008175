// A typed client for the CRI runtime.v1 RuntimeService over a unix socket (containerd, CRI-O).
import * as fs from 'node:fs';
import type * as Grpc from '@grpc/grpc-js';

// Loaded on first use: @grpc/grpc-js costs ~350 ms of start-up, paid by every `auditflow run` (and by each run
// of a restart loop) even with CRI disabled.
let grpcLib: typeof Grpc | undefined;
function grpcMod(): typeof Grpc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (grpcLib ??= require('@grpc/grpc-js') as typeof Grpc);
}
import type * as protoLoader from '@grpc/proto-loader';
import { loadCriPackageDefinition, RUNTIME_SERVICE } from './proto';
import {
  KUBELET_LABELS,
  type ContainerConfig,
  type ContainerFilter,
  type ContainerState,
  type CriContainer,
  type CriContainerStatus,
  type CriPodSandbox,
  type CriPodSandboxStatus,
  type CriVersion,
  type PodRefFromLabels,
  type PodSandboxConfig,
  type PodSandboxFilter,
  type PodSandboxState,
} from './types';

export const DEFAULT_CRI_SOCKETS = {
  containerd: '/run/containerd/containerd.sock',
  'cri-o': '/var/run/crio/crio.sock',
} as const;
export type CriRuntimeName = keyof typeof DEFAULT_CRI_SOCKETS;

/**
 * Why a CRI call failed:
 * - `socket-missing`: nothing at the socket path (runtime not installed, not started, or another path);
 * - `unavailable`: the socket exists but nothing answers on it (runtime down or restarting), or the connection broke;
 * - `deadline`: no answer within the call's deadline (runtime hung or overloaded);
 * - `permission-denied`: the socket can't be opened (not root) or the runtime refused;
 * - `not-found`: the runtime doesn't know the container or sandbox;
 * - `unimplemented`: the runtime doesn't serve runtime.v1 (or that RPC);
 * - `rpc-error`: any other gRPC failure.
 */
export type CriErrorReason =
  | 'socket-missing'
  | 'unavailable'
  | 'deadline'
  | 'permission-denied'
  | 'not-found'
  | 'unimplemented'
  | 'rpc-error';

export class CriError extends Error {
  override readonly name = 'CriError';
  constructor(
    readonly reason: CriErrorReason,
    readonly method: string,
    readonly socketPath: string,
    message: string,
    /** the gRPC status code, when the failure came from gRPC */
    readonly code?: Grpc.status,
  ) {
    super(message);
  }
}

export interface CriClientOptions {
  /** unix socket path; default: the default socket of `runtime` */
  socketPath?: string;
  /** picks the default socket path; default containerd */
  runtime?: CriRuntimeName;
  /** deadline of each call, ms; default 2000 */
  timeoutMs?: number;
  /** upper bound of gRPC's reconnect backoff, ms, so that a restarted runtime is seen quickly; default 1000 */
  maxReconnectBackoffMs?: number;
}

export interface CallOptions {
  /** this call's deadline, ms (overrides the client's) */
  timeoutMs?: number;
}

type RpcName =
  | 'Version'
  | 'RunPodSandbox'
  | 'StopPodSandbox'
  | 'RemovePodSandbox'
  | 'PodSandboxStatus'
  | 'ListPodSandbox'
  | 'CreateContainer'
  | 'StartContainer'
  | 'StopContainer'
  | 'RemoveContainer'
  | 'ListContainers'
  | 'ContainerStatus';

// ---- wire shapes (proto-loader: camelCase, enums as names, int64 as strings, defaults filled in)
type StrMap = Record<string, string>;
interface WireMeta {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}
interface WireContainer {
  id: string;
  podSandboxId: string;
  metadata: { name: string; attempt: number } | null;
  image: { image: string } | null;
  imageRef: string;
  state: ContainerState;
  createdAt: string;
  labels: StrMap;
  annotations: StrMap;
}
interface WireContainerStatus {
  id: string;
  metadata: { name: string; attempt: number } | null;
  state: ContainerState;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  image: { image: string } | null;
  imageRef: string;
  reason: string;
  message: string;
  labels: StrMap;
  annotations: StrMap;
  logPath: string;
}
interface WirePodSandbox {
  id: string;
  metadata: WireMeta | null;
  state: PodSandboxState;
  createdAt: string;
  labels: StrMap;
  annotations: StrMap;
  runtimeHandler: string;
}
interface WirePodSandboxStatus extends WirePodSandbox {
  network: { ip: string; additionalIps: { ip: string }[] } | null;
}

function big(v: string | undefined): bigint {
  return v ? BigInt(v) : 0n;
}

function parseInfo(info: StrMap | undefined): Record<string, unknown> | undefined {
  const text = info?.['info'];
  if (!text) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function infoPid(info: Record<string, unknown> | undefined): number | undefined {
  const pid = info?.['pid'];
  return typeof pid === 'number' && pid > 0 ? pid : undefined;
}

/** runtimeSpec.annotations from a verbose info object (containerd and CRI-O both include the OCI spec). */
function specAnnotations(info: Record<string, unknown> | undefined): StrMap {
  const spec = info?.['runtimeSpec'] as { annotations?: unknown } | undefined;
  const a = spec?.annotations;
  return a && typeof a === 'object' ? (a as StrMap) : {};
}

function podRefFromLabels(labels: StrMap, spec: StrMap = {}): PodRefFromLabels {
  // kubelet's labels first; then what the runtime recorded in the OCI spec (containerd: io.kubernetes.cri.sandbox-*,
  // CRI-O: io.kubernetes.pod.*).
  return {
    podName: labels[KUBELET_LABELS.podName] ?? spec['io.kubernetes.cri.sandbox-name'] ?? spec[KUBELET_LABELS.podName],
    podNamespace: labels[KUBELET_LABELS.podNamespace] ?? spec['io.kubernetes.cri.sandbox-namespace'] ?? spec[KUBELET_LABELS.podNamespace],
    podUid: labels[KUBELET_LABELS.podUid] ?? spec['io.kubernetes.cri.sandbox-uid'] ?? spec[KUBELET_LABELS.podUid],
  };
}

function mapSandbox(s: WirePodSandbox): CriPodSandbox {
  return {
    id: s.id,
    name: s.metadata?.name ?? '',
    namespace: s.metadata?.namespace ?? '',
    uid: s.metadata?.uid ?? '',
    attempt: s.metadata?.attempt ?? 0,
    state: s.state,
    createdAt: big(s.createdAt),
    labels: s.labels ?? {},
    annotations: s.annotations ?? {},
    runtimeHandler: s.runtimeHandler ?? '',
  };
}

export class CriClient {
  readonly socketPath: string;
  readonly timeoutMs: number;
  /** RPCs sent so far, by method name, failed ones included */
  readonly calls: Partial<Record<RpcName, number>> = {};
  private readonly client: Grpc.Client;
  private readonly service: protoLoader.ServiceDefinition;

  constructor(options: CriClientOptions = {}) {
    this.socketPath = options.socketPath ?? DEFAULT_CRI_SOCKETS[options.runtime ?? 'containerd'];
    this.timeoutMs = options.timeoutMs ?? 2000;
    const def = loadCriPackageDefinition()[RUNTIME_SERVICE];
    if (!def || !('Version' in def)) throw new Error(`${RUNTIME_SERVICE} missing from the CRI proto`);
    this.service = def as protoLoader.ServiceDefinition;
    const backoff = options.maxReconnectBackoffMs ?? 1000;
    this.client = new (grpcMod().Client)(`unix:${this.socketPath}`, grpcMod().credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': Math.min(100, backoff),
      'grpc.max_reconnect_backoff_ms': backoff,
      // kubelet's limit: ListContainers on a busy node exceeds gRPC's 4 MiB default
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
  }

  /** Closes the channel; calls after this fail. */
  close(): void {
    this.client.close();
  }

  private unary<Res>(method: RpcName, request: object, options?: CallOptions): Promise<Res> {
    const def = this.service[method] as protoLoader.MethodDefinition<object, unknown>;
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    const deadline = Date.now() + (options?.timeoutMs ?? this.timeoutMs);
    return new Promise<Res>((resolve, reject) => {
      this.client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        new (grpcMod().Metadata)(),
        { deadline },
        (err, res) => (err ? reject(this.toCriError(method, err)) : resolve(res as Res)),
      );
    });
  }

  private toCriError(method: RpcName, err: Grpc.ServiceError): CriError {
    const where = `CRI ${method} on unix:${this.socketPath}`;
    const detail = err.details || err.message;
    switch (err.code) {
      case grpcMod().status.DEADLINE_EXCEEDED:
        return new CriError('deadline', method, this.socketPath, `${where}: no answer within the deadline (${detail})`, err.code);
      case grpcMod().status.NOT_FOUND:
        return new CriError('not-found', method, this.socketPath, `${where}: not found (${detail})`, err.code);
      case grpcMod().status.UNIMPLEMENTED:
        return new CriError('unimplemented', method, this.socketPath, `${where}: not served by the runtime (${detail})`, err.code);
      case grpcMod().status.PERMISSION_DENIED:
        return new CriError('permission-denied', method, this.socketPath, `${where}: permission denied (${detail})`, err.code);
      case grpcMod().status.UNAVAILABLE: {
        let exists = true;
        try {
          fs.statSync(this.socketPath);
        } catch {
          exists = false;
        }
        if (!exists) return new CriError('socket-missing', method, this.socketPath, `${where}: no socket at ${this.socketPath}`, err.code);
        if (/EACCES|EPERM/.test(detail)) {
          return new CriError('permission-denied', method, this.socketPath, `${where}: cannot open the socket (${detail})`, err.code);
        }
        return new CriError('unavailable', method, this.socketPath, `${where}: runtime unavailable (${detail})`, err.code);
      }
      default:
        return new CriError('rpc-error', method, this.socketPath, `${where}: ${grpcMod().status[err.code] ?? err.code}: ${detail}`, err.code);
    }
  }

  // ---------------------------------------------------------------- read side

  async version(options?: CallOptions): Promise<CriVersion> {
    const r = await this.unary<CriVersion>('Version', { version: 'v1' }, options);
    return { version: r.version, runtimeName: r.runtimeName, runtimeVersion: r.runtimeVersion, runtimeApiVersion: r.runtimeApiVersion };
  }

  async listContainers(filter: ContainerFilter = {}, options?: CallOptions): Promise<CriContainer[]> {
    const { state, ...rest } = filter;
    const r = await this.unary<{ containers: WireContainer[] }>('ListContainers', { filter: { ...rest, ...(state ? { state: { state } } : {}) } }, options);
    return r.containers.map((c) => ({
      id: c.id,
      podSandboxId: c.podSandboxId,
      name: c.metadata?.name ?? c.labels[KUBELET_LABELS.containerName] ?? '',
      attempt: c.metadata?.attempt ?? 0,
      image: c.image?.image ?? '',
      imageRef: c.imageRef,
      state: c.state,
      createdAt: big(c.createdAt),
      labels: c.labels,
      annotations: c.annotations,
      ...podRefFromLabels(c.labels),
    }));
  }

  /** Status of one container; `verbose` (default true) adds the host pid and sandbox id from the runtime's info. */
  async containerStatus(containerId: string, options?: CallOptions & { verbose?: boolean }): Promise<CriContainerStatus> {
    const verbose = options?.verbose ?? true;
    const r = await this.unary<{ status: WireContainerStatus | null; info: StrMap }>('ContainerStatus', { containerId, verbose }, options);
    const s = r.status;
    if (!s) throw new CriError('not-found', 'ContainerStatus', this.socketPath, `CRI ContainerStatus: no status for ${containerId}`);
    const info = parseInfo(r.info);
    const spec = specAnnotations(info);
    const sandboxId = info?.['sandboxID'];
    const image = s.image?.image ?? '';
    return {
      id: s.id,
      podSandboxId:
        (typeof sandboxId === 'string' && sandboxId) || spec['io.kubernetes.cri.sandbox-id'] || spec['io.kubernetes.cri-o.SandboxID'] || undefined,
      name: s.metadata?.name ?? s.labels[KUBELET_LABELS.containerName] ?? '',
      attempt: s.metadata?.attempt ?? 0,
      state: s.state,
      createdAt: big(s.createdAt),
      startedAt: big(s.startedAt),
      finishedAt: big(s.finishedAt),
      exitCode: s.exitCode,
      image,
      imageName: spec['io.kubernetes.cri.image-name'] || spec['io.kubernetes.cri-o.ImageName'] || image,
      imageRef: s.imageRef,
      reason: s.reason,
      message: s.message,
      labels: s.labels,
      annotations: s.annotations,
      logPath: s.logPath,
      pid: infoPid(info),
      info,
      ...podRefFromLabels(s.labels, spec),
    };
  }

  async listPodSandbox(filter: PodSandboxFilter = {}, options?: CallOptions): Promise<CriPodSandbox[]> {
    const { state, ...rest } = filter;
    const r = await this.unary<{ items: WirePodSandbox[] }>('ListPodSandbox', { filter: { ...rest, ...(state ? { state: { state } } : {}) } }, options);
    return r.items.map(mapSandbox);
  }

  /** Status of one pod sandbox; `verbose` (default true) adds the sandbox's host pid. */
  async podSandboxStatus(podSandboxId: string, options?: CallOptions & { verbose?: boolean }): Promise<CriPodSandboxStatus> {
    const verbose = options?.verbose ?? true;
    const r = await this.unary<{ status: WirePodSandboxStatus | null; info: StrMap }>('PodSandboxStatus', { podSandboxId, verbose }, options);
    const s = r.status;
    if (!s) throw new CriError('not-found', 'PodSandboxStatus', this.socketPath, `CRI PodSandboxStatus: no status for ${podSandboxId}`);
    const info = parseInfo(r.info);
    return {
      ...mapSandbox(s),
      network: { ip: s.network?.ip ?? '', additionalIps: (s.network?.additionalIps ?? []).map((p) => p.ip) },
      pid: infoPid(info),
      info,
    };
  }

  // ---------------------------------------------------------------- write side (kubelet-like clients, tests)

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = '', options?: CallOptions): Promise<string> {
    return (await this.unary<{ podSandboxId: string }>('RunPodSandbox', { config, runtimeHandler }, options)).podSandboxId;
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig, options?: CallOptions): Promise<string> {
    return (await this.unary<{ containerId: string }>('CreateContainer', { podSandboxId, config, sandboxConfig }, options)).containerId;
  }

  async startContainer(containerId: string, options?: CallOptions): Promise<void> {
    await this.unary('StartContainer', { containerId }, options);
  }

  /** `timeoutSeconds`: grace period before the runtime kills the container (0: at once). */
  async stopContainer(containerId: string, timeoutSeconds = 0, options?: CallOptions): Promise<void> {
    await this.unary('StopContainer', { containerId, timeout: String(timeoutSeconds) }, options);
  }

  async removeContainer(containerId: string, options?: CallOptions): Promise<void> {
    await this.unary('RemoveContainer', { containerId }, options);
  }

  async stopPodSandbox(podSandboxId: string, options?: CallOptions): Promise<void> {
    await this.unary('StopPodSandbox', { podSandboxId }, options);
  }

  async removePodSandbox(podSandboxId: string, options?: CallOptions): Promise<void> {
    await this.unary('RemovePodSandbox', { podSandboxId }, options);
  }
}
