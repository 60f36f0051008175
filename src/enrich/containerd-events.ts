// containerd's own event stream (containerd.services.events.v1.Events/Subscribe, on the CRI socket): the pid of
// every container task as it is created and started, and its exit, pushed by the runtime. Unlike polling CRI, it
// cannot miss a task that exits a millisecond after it starts — the shim publishes TaskCreate with the pid while
// runc's init still waits for StartContainer, and TaskExit after reaping it.
//
// Only the `k8s.io` namespace (CRI's): there a task's id is the CRI container (or sandbox) id. The stream is kept
// open, and reopened with backoff after an error (containerd restarting); events published while it was closed
// are lost (containerd does not replay), which `onGap` reports so the caller can fill in from CRI. A socket
// that does not serve the service (CRI-O) answers UNIMPLEMENTED: the stream then stays closed for good
// (`supported` false) and attribution falls back to /proc and polling.
import type * as Grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import type { Logger } from '../log';
import { loadContainerdEventsDefinition } from './cri/proto';
import { backoffMs, DEFAULT_BACKOFF } from '../retry';

export const CRI_NAMESPACE = 'k8s.io';

export type TaskEvent =
  | { kind: 'create' | 'start' | 'exec'; containerId: string; pid: number; atMs: number }
  | { kind: 'exit' | 'delete'; containerId: string; pid: number; atMs: number; exitedAtMs: number | null; execId: string };

// ---- protobuf wire decoding of the task events (containerd/api/events/task.proto). Hand-written because
// proto-loader only decodes service messages; these are flat, and hostile or truncated bytes only throw.

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    throw new Error('varint too long');
  }
  bytes(): Uint8Array {
    const n = this.varint();
    if (n > this.buf.length - this.pos) throw new Error('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (this.pos > this.buf.length) throw new Error('truncated field');
  }
}

/** field number → value: varints as numbers, length-delimited fields as bytes (the last occurrence wins) */
function fields(buf: Uint8Array): Map<number, number | Uint8Array> {
  const r = new Reader(buf);
  const out = new Map<number, number | Uint8Array>();
  while (!r.done) {
    const key = r.varint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) out.set(no, r.varint());
    else if (wire === 2) out.set(no, r.bytes());
    else r.skip(wire);
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const str = (v: number | Uint8Array | undefined): string => (v instanceof Uint8Array ? utf8.decode(v) : '');
const num = (v: number | Uint8Array | undefined): number => (typeof v === 'number' ? v : 0);

/** google.protobuf.Timestamp bytes → ms; null when unset or zero */
function timestampMs(v: number | Uint8Array | undefined): number | null {
  if (!(v instanceof Uint8Array)) return null;
  const f = fields(v);
  const ms = num(f.get(1)) * 1000 + Math.floor(num(f.get(2)) / 1e6);
  return ms > 0 ? ms : null;
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;

/**
 * Decodes one task event from an envelope's Any (type url and bytes) stamped `atMs`; null for other events, and
 * for ones without a usable container id or pid. Throws on malformed bytes.
 */
export function decodeTaskEvent(typeUrl: string, value: Uint8Array, atMs: number): TaskEvent | null {
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  let ev: TaskEvent;
  switch (name) {
    case 'containerd.events.TaskCreate': {
      const f = fields(value);
      ev = { kind: 'create', containerId: str(f.get(1)), pid: num(f.get(6)), atMs };
      break;
    }
    case 'containerd.events.TaskStart': {
      const f = fields(value);
      ev = { kind: 'start', containerId: str(f.get(1)), pid: num(f.get(2)), atMs };
      break;
    }
    case 'containerd.events.TaskExecStarted': {
      // a process exec'd into the container (kubectl exec, exec probes): its own pid, in the same container
      const f = fields(value);
      ev = { kind: 'exec', containerId: str(f.get(1)), pid: num(f.get(3)), atMs };
      break;
    }
    case 'containerd.events.TaskExit': {
      const f = fields(value);
      ev = { kind: 'exit', containerId: str(f.get(1)), execId: str(f.get(2)), pid: num(f.get(3)), exitedAtMs: timestampMs(f.get(5)), atMs };
      break;
    }
    case 'containerd.events.TaskDelete': {
      const f = fields(value);
      ev = { kind: 'delete', containerId: str(f.get(1)), pid: num(f.get(2)), exitedAtMs: timestampMs(f.get(4)), execId: str(f.get(5)), atMs };
      break;
    }
    default:
      return null;
  }
  // CRI's ids are 64 hex characters; anything else is not a container this pipeline can name
  if (!CONTAINER_ID.test(ev.containerId) || !Number.isInteger(ev.pid) || ev.pid <= 0 || ev.pid > 0x3fffffff) return null;
  return ev;
}

// ---- the subscription

interface WireEnvelope {
  timestamp: { seconds: string; nanos: number } | null;
  namespace: string;
  topic: string;
  // protobufjs keeps google.protobuf.Any's own field names (type_url), whatever keepCase says
  event: { type_url?: string; typeUrl?: string; value: Buffer } | null;
}

export interface ContainerdEventsOptions {
  socketPath: string;
  onEvent: (ev: TaskEvent) => void;
  /** the stream (re)opened after being closed (or at first): events in between, if any, were missed */
  onGap?: (why: string) => void;
  /** the stream closed at `atMs` (task events from then on are missed until onGap) */
  onClose?: (atMs: number) => void;
  /** the socket does not serve the stream (CRI-O): it stays closed for good */
  onUnsupported?: () => void;
  log: Logger;
  /** upper bound of the reconnect backoff, ms; default 5000 */
  maxBackoffMs?: number;
}

export type ContainerdEventsState = 'connecting' | 'streaming' | 'retrying' | 'unsupported' | 'stopped';

let grpcLib: typeof Grpc | undefined;
function grpcMod(): typeof Grpc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (grpcLib ??= require('@grpc/grpc-js') as typeof Grpc);
}

export class ContainerdEvents {
  state: ContainerdEventsState = 'connecting';
  lastError: string | null = null;
  readonly stats = { events: 0, taskEvents: 0, malformed: 0, reconnects: 0 };
  private client: Grpc.Client | undefined;
  private call: Grpc.ClientReadableStream<WireEnvelope> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private warned = 0;

  constructor(private readonly opts: ContainerdEventsOptions) {}

  start(): void {
    const svc = (loadContainerdEventsDefinition()['containerd.services.events.v1.Events'] ?? {}) as protoLoader.ServiceDefinition;
    const method = svc['Subscribe'] as protoLoader.MethodDefinition<object, WireEnvelope> | undefined;
    if (!method) throw new Error('containerd.services.events.v1.Events/Subscribe missing from containerd_events.proto');
    this.client = new (grpcMod().Client)(`unix:${this.opts.socketPath}`, grpcMod().credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
    this.open(method);
  }

  private open(method: protoLoader.MethodDefinition<object, WireEnvelope>): void {
    if (this.state === 'stopped' || !this.client) return;
    this.state = this.attempt === 0 ? 'connecting' : 'retrying';
    // the topic filter is applied by containerd; the namespace is checked here (one expression, no OR needed)
    const call = this.client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, { filters: ['topic~="^/tasks/"'] });
    this.call = call;
    let announced = false;
    const announce = () => {
      if (announced) return;
      announced = true;
      this.state = 'streaming';
      if (this.attempt > 0) this.opts.log.info('containerd event stream open again');
      this.attempt = 0;
      this.opts.onGap?.('stream opened');
    };
    // containerd sends no headers before the first event; a subscription sent over a ready connection is open
    // (a refused or broken one errors instead), so a quiet node is not taken for a stream that is down
    call.on('metadata', announce);
    this.client.waitForReady(Date.now() + 60_000, (err) => {
      if (!err && this.call === call) announce();
    });
    call.on('data', (env: WireEnvelope) => {
      announce();
      this.stats.events++;
      if (env.namespace !== CRI_NAMESPACE || !env.event) return;
      const atMs = env.timestamp ? Number(env.timestamp.seconds) * 1000 + Math.floor(env.timestamp.nanos / 1e6) : Date.now();
      let ev: TaskEvent | null;
      try {
        ev = decodeTaskEvent(env.event.type_url ?? env.event.typeUrl ?? '', env.event.value, atMs);
      } catch (err) {
        this.stats.malformed++;
        if (this.warned++ < 5) this.opts.log.warn({ topic: env.topic, err: (err as Error).message }, 'malformed containerd task event: skipped');
        return;
      }
      if (!ev) return;
      this.stats.taskEvents++;
      this.opts.onEvent(ev);
    });
    call.on('error', (err: Grpc.ServiceError) => {
      if (this.call !== call || this.state === 'stopped') return;
      this.call = undefined;
      if (err.code === grpcMod().status.UNIMPLEMENTED) {
        this.state = 'unsupported';
        this.lastError = err.details || err.message;
        this.opts.log.warn({ socket: this.opts.socketPath }, 'the runtime serves no containerd event stream (not containerd?): falling back to CRI GetContainerEvents');
        this.opts.onUnsupported?.();
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

  private retry(method: protoLoader.MethodDefinition<object, WireEnvelope>, why: string): void {
    if (this.state === 'streaming') this.opts.onClose?.(Date.now());
    this.lastError = why;
    this.state = 'retrying';
    this.stats.reconnects++;
    if (this.attempt === 0) this.opts.log.warn({ err: why }, 'containerd event stream closed: reopening (task events meanwhile are missed)');
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
