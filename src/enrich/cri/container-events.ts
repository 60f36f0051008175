// CRI's own event stream (runtime.v1 RuntimeService/GetContainerEvents, containerd >= 1.7 and CRI-O): each
// container's (and sandbox's) creation, start, stop and removal, pushed by the runtime. Kubelet's evented PLEG reads
// the same stream; containerd 2.x broadcasts every event to every subscriber, containerd 1.7 hands each to one of
// them (containerd#7318), see README "Short-lived containers".
//
// Unlike containerd's task events (containerd-events.ts), these carry no pid: the caller asks ContainerStatus
// (verbose: info.pid) as soon as a start arrives. A container that has already exited by then is reported with
// pid 0 by the runtime, and is lost to this path: that is the gap left (a round trip after the start).
//
// The stream is kept open and reopened with backoff after an error (runtime restarting; event-stream.ts, shared
// with containerd's task events); events published while it was closed are lost, which `onGap` reports. A
// runtime that does not serve the RPC (Debian's containerd 1.6) answers UNIMPLEMENTED: the stream then stays
// closed for good (state `unsupported`).
import type * as protoLoader from '@grpc/proto-loader';
import { EventStream, type EventStreamOptions, type EventStreamState } from './event-stream';
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

export interface CriContainerEventsOptions extends EventStreamOptions {
  onEvent: (ev: CriContainerEvent) => void;
}

export type CriContainerEventsState = EventStreamState;

/** The subscription to CRI's container events (the lifecycle is event-stream.ts's). */
export class CriContainerEvents {
  private readonly stream: EventStream<WireEvent>;

  constructor(opts: CriContainerEventsOptions) {
    this.stream = new EventStream<WireEvent>(opts, {
      label: 'CRI container event stream',
      method() {
        const svc = loadCriPackageDefinition()[RUNTIME_SERVICE] as protoLoader.ServiceDefinition;
        const method = svc['GetContainerEvents'] as protoLoader.MethodDefinition<object, WireEvent> | undefined;
        if (!method) throw new Error(`${RUNTIME_SERVICE}/GetContainerEvents missing from runtime_v1.proto`);
        return method;
      },
      request: {},
      // each event carries the statuses of every container of its pod
      channelOptions: { 'grpc.max_receive_message_length': 16 * 1024 * 1024 },
      // a runtime that refuses the RPC (UNIMPLEMENTED) says so within a round trip: give it one before the
      // stream counts as open
      readyDelayMs: 200,
      missed: 'container starts meanwhile are missed',
      unsupported: 'the runtime serves no CRI GetContainerEvents (containerd < 1.7?): containers that exit before their records are read stay unresolved',
      onData: (w) => {
        const ev = toContainerEvent(w);
        if (ev) opts.onEvent(ev);
      },
    });
  }

  get state(): CriContainerEventsState {
    return this.stream.state;
  }

  get lastError(): string | null {
    return this.stream.lastError;
  }

  get stats(): { events: number; reconnects: number } {
    return { events: this.stream.counts.messages, reconnects: this.stream.counts.reconnects };
  }

  start(): void {
    this.stream.start();
  }

  stop(): void {
    this.stream.stop();
  }
}
