// CRI's own event stream (runtime.v1 RuntimeService/GetContainerEvents, containerd >= 1.7 and CRI-O): each
// container's (and sandbox's) creation, start, stop and removal, pushed by the runtime. Kubelet's evented PLEG reads
// the same stream; containerd 2.x broadcasts every event to every subscriber, containerd 1.7 hands each to one of
// them (containerd#7318), see README "Short-lived containers".
//
// Unlike containerd's task events (containerd-events.ts), these carry no pid: the caller asks ContainerStatus
// (verbose: info.pid) as soon as a start arrives. A container that has already exited by then is reported with
// pid 0 by the runtime, and is lost to this path: that is the gap left (a round trip after the start).
//
// The stream is kept open and reopened with backoff after an error (runtime restarting); events published while it
// was closed are lost, which `onGap` reports. A runtime that does not serve the RPC (Debian's containerd 1.6)
// answers UNIMPLEMENTED: the stream then stays closed for good (state `unsupported`).
import type * as Grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import type { Logger } from '../../log';
import { backoffMs, DEFAULT_BACKOFF } from '../../retry';
import { loadCriPackageDefinition, RUNTIME_SERVICE } from './proto';

export type CriContainerEventKind = 'created' | 'started' | 'stopped' | 'deleted';

export interface CriContainerEvent {
  kind: CriContainerEventKind;
  containerId: string;
  /** the event names a pod sandbox (its id is the sandbox's), not a container */
  sandbox: boolean;
  /** the runtime's clock when it sent the event, ms */
  atMs: number;
  /** the container's finished_at from the event's statuses, ms; null when not in them or not finished */
  finishedAtMs: number | null;
}

interface WireStatus {
  id: string;
  finishedAt: string;
}
interface WireEvent {
  containerId: string;
  containerEventType: string;
  createdAt: string;
  podSandboxStatus: { id: string } | null;
  containersStatuses: WireStatus[];
}

const KINDS: Record<string, CriContainerEventKind> = {
  CONTAINER_CREATED_EVENT: 'created',
  CONTAINER_STARTED_EVENT: 'started',
  CONTAINER_STOPPED_EVENT: 'stopped',
  CONTAINER_DELETED_EVENT: 'deleted',
};

const ID = /^[0-9a-f]{64}$/;

/** One wire event as auditflow uses it; null for unknown kinds and ids that are not CRI's (64 hex). */
export function toContainerEvent(w: WireEvent): CriContainerEvent | null {
  const kind = KINDS[w.containerEventType];
  if (!kind || !ID.test(w.containerId)) return null;
  const ns = w.createdAt ? BigInt(w.createdAt) : 0n;
  const st = w.containersStatuses?.find((s) => s.id === w.containerId);
  const fin = st?.finishedAt ? BigInt(st.finishedAt) : 0n;
  return {
    kind,
    containerId: w.containerId,
    sandbox: w.podSandboxStatus?.id === w.containerId,
    atMs: ns > 0n ? Number(ns / 1_000_000n) : Date.now(),
    finishedAtMs: fin > 0n ? Number(fin / 1_000_000n) : null,
  };
}

export interface CriContainerEventsOptions {
  socketPath: string;
  onEvent: (ev: CriContainerEvent) => void;
  /** the stream (re)opened after being closed (or at first): events in between, if any, were missed */
  onGap?: (why: string) => void;
  /** the stream closed at `atMs` */
  onClose?: (atMs: number) => void;
  log: Logger;
  maxBackoffMs?: number;
}

export type CriContainerEventsState = 'connecting' | 'streaming' | 'retrying' | 'unsupported' | 'stopped';

let grpcLib: typeof Grpc | undefined;
function grpcMod(): typeof Grpc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (grpcLib ??= require('@grpc/grpc-js') as typeof Grpc);
}

export class CriContainerEvents {
  state: CriContainerEventsState = 'connecting';
  lastError: string | null = null;
  readonly stats = { events: 0, reconnects: 0 };
  private client: Grpc.Client | undefined;
  private call: Grpc.ClientReadableStream<WireEvent> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;

  constructor(private readonly opts: CriContainerEventsOptions) {}

  start(): void {
    const svc = loadCriPackageDefinition()[RUNTIME_SERVICE] as protoLoader.ServiceDefinition;
    const method = svc['GetContainerEvents'] as protoLoader.MethodDefinition<object, WireEvent> | undefined;
    if (!method) throw new Error(`${RUNTIME_SERVICE}/GetContainerEvents missing from runtime_v1.proto`);
    this.client = new (grpcMod().Client)(`unix:${this.opts.socketPath}`, grpcMod().credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      // each event carries the statuses of every container of its pod
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
    this.open(method);
  }

  private open(method: protoLoader.MethodDefinition<object, WireEvent>): void {
    if (this.state === 'stopped' || !this.client) return;
    this.state = this.attempt === 0 ? 'connecting' : 'retrying';
    const call = this.client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, {});
    this.call = call;
    let announced = false;
    const announce = () => {
      if (announced || this.call !== call) return;
      announced = true;
      this.state = 'streaming';
      if (this.attempt > 0) this.opts.log.info('CRI container event stream open again');
      this.attempt = 0;
      this.opts.onGap?.('stream opened');
    };
    // like containerd's stream: no headers before the first event, so a request sent over a ready connection
    // counts as open (one refused errors instead, UNIMPLEMENTED included, within a round trip)
    call.on('metadata', announce);
    this.client.waitForReady(Date.now() + 60_000, (err) => {
      if (!err) setTimeout(announce, 200).unref();
    });
    call.on('data', (w: WireEvent) => {
      announce();
      this.stats.events++;
      const ev = toContainerEvent(w);
      if (ev) this.opts.onEvent(ev);
    });
    call.on('error', (err: Grpc.ServiceError) => {
      if (this.call !== call || this.state === 'stopped') return;
      this.call = undefined;
      if (err.code === grpcMod().status.UNIMPLEMENTED) {
        this.state = 'unsupported';
        this.lastError = err.details || err.message;
        this.opts.log.warn({ socket: this.opts.socketPath }, 'the runtime serves no CRI GetContainerEvents (containerd < 1.7?): containers that exit before their records are read stay unresolved');
        return;
      }
      this.retry(method, err.details || err.message);
    });
    call.on('end', () => {
      if (this.call === call && this.state !== 'stopped') {
        this.call = undefined;
        this.retry(method, 'stream ended');
      }
    });
  }

  private retry(method: protoLoader.MethodDefinition<object, WireEvent>, why: string): void {
    if (this.state === 'streaming') this.opts.onClose?.(Date.now());
    this.lastError = why;
    this.state = 'retrying';
    this.stats.reconnects++;
    if (this.attempt === 0) this.opts.log.warn({ err: why }, 'CRI container event stream closed: reopening (container starts meanwhile are missed)');
    const delay = backoffMs(this.attempt, { ...DEFAULT_BACKOFF, maxMs: this.opts.maxBackoffMs ?? DEFAULT_BACKOFF.maxMs });
    this.attempt++;
    this.timer = setTimeout(() => this.open(method), delay).unref();
  }

  stop(): void {
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.call?.cancel();
    this.call = undefined;
    this.client?.close();
    this.client = undefined;
  }
}
