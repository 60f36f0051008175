// containerd's own event stream (containerd.services.events.v1.Events/Subscribe, on the CRI socket): the pid of
// every container task as it is created and started, and its exit, pushed by the runtime. Unlike polling CRI, it
// cannot miss a task that exits a millisecond after it starts — the shim publishes TaskCreate with the pid while
// runc's init still waits for StartContainer, and TaskExit after reaping it.
//
// Only the `k8s.io` namespace (CRI's): there a task's id is the CRI container (or sandbox) id. The stream is kept
// open, and reopened with backoff after an error (containerd restarting); events published while it was closed
// are lost (containerd does not replay), which `onGap` reports so the caller can fill in from CRI (the stream's
// lifecycle is cri/event-stream.ts, shared with CRI's GetContainerEvents). A socket
// that does not serve the service (CRI-O) answers UNIMPLEMENTED: the stream then stays closed for good
// (`supported` false) and attribution falls back to /proc and polling.
import type * as protoLoader from '@grpc/proto-loader';
import { EventStream, type EventStreamOptions, type EventStreamState } from './cri/event-stream';
import { loadContainerdEventsDefinition } from './cri/proto';

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

export interface ContainerdEventsOptions extends EventStreamOptions {
  onEvent: (ev: TaskEvent) => void;
}

export type ContainerdEventsState = EventStreamState;

/** The subscription to containerd's task events (the lifecycle is cri/event-stream.ts's). */
export class ContainerdEvents {
  private readonly stream: EventStream<WireEnvelope>;
  private readonly counts = { taskEvents: 0, malformed: 0 };
  private warned = 0;

  constructor(opts: ContainerdEventsOptions) {
    this.stream = new EventStream<WireEnvelope>(
      opts,
      {
        label: 'containerd event stream',
        method() {
          const svc = (loadContainerdEventsDefinition()['containerd.services.events.v1.Events'] ?? {}) as protoLoader.ServiceDefinition;
          const method = svc['Subscribe'] as protoLoader.MethodDefinition<object, WireEnvelope> | undefined;
          if (!method) throw new Error('containerd.services.events.v1.Events/Subscribe missing from containerd_events.proto');
          return method;
        },
        // the topic filter is applied by containerd; the namespace is checked here (one expression, no OR needed)
        request: { filters: ['topic~="^/tasks/"'] },
        readyDelayMs: 0,
        missed: 'task events meanwhile are missed',
        unsupported: 'the runtime serves no containerd event stream (not containerd?): falling back to CRI GetContainerEvents',
        onData: (env) => {
          if (env.namespace !== CRI_NAMESPACE || !env.event) return;
          const atMs = env.timestamp ? Number(env.timestamp.seconds) * 1000 + Math.floor(env.timestamp.nanos / 1e6) : Date.now();
          let ev: TaskEvent | null;
          try {
            ev = decodeTaskEvent(env.event.type_url ?? env.event.typeUrl ?? '', env.event.value, atMs);
          } catch (err) {
            this.counts.malformed++;
            if (this.warned++ < 5) opts.log.warn({ topic: env.topic, err }, 'malformed containerd task event: skipped');
            return;
          }
          if (!ev) return;
          this.counts.taskEvents++;
          opts.onEvent(ev);
        },
      },
    );
  }

  get state(): ContainerdEventsState {
    return this.stream.state;
  }

  get lastError(): string | null {
    return this.stream.lastError;
  }

  get stats(): { events: number; taskEvents: number; malformed: number; reconnects: number } {
    return { events: this.stream.counts.messages, reconnects: this.stream.counts.reconnects, ...this.counts };
  }

  start(): void {
    this.stream.start();
  }

  stop(): void {
    this.stream.stop();
  }
}
