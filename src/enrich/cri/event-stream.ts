// A server-streaming gRPC subscription to the container runtime's socket, kept open: containerd's task events
// (../containerd-events.ts) and CRI's GetContainerEvents (container-events.ts) both live on it. What they share
// is the lifecycle: open over one client, count the stream as open once the connection is ready (neither
// runtime sends headers before its first event, so a quiet node must not look like a stream that is down),
// reopen with backoff (src/retry.ts) after an error or end (a runtime restarting), and stay closed for good
// when the runtime answers UNIMPLEMENTED. Events published while the stream was closed are lost (no runtime
// replays them): `onGap` says when it opened again, `onClose` when it closed.
import type * as Grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import type { Logger } from '../../log';
import { backoffMs, DEFAULT_BACKOFF } from '../../retry';

export type EventStreamState = 'connecting' | 'streaming' | 'retrying' | 'unsupported' | 'stopped';

export interface EventStreamOptions {
  socketPath: string;
  /** the stream (re)opened after being closed (or at first): events in between, if any, were missed */
  onGap?: (why: string) => void;
  /** the stream closed at `atMs` (events from then on are missed until onGap) */
  onClose?: (atMs: number) => void;
  /** the runtime does not serve this stream: it stays closed for good */
  onUnsupported?: () => void;
  log: Logger;
  /** upper bound of the reconnect backoff, ms; default 5000 */
  maxBackoffMs?: number;
}

let grpcLib: typeof Grpc | undefined;
function grpcMod(): typeof Grpc {
  // loaded on first use: commands that never subscribe do not pay for grpc-js
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (grpcLib ??= require('@grpc/grpc-js') as typeof Grpc);
}

/** How one subscription differs from another: its method, request, messages and the words of its log lines. */
export interface StreamSpec<W> {
  /** for log lines, e.g. "containerd event stream" */
  label: string;
  method(): protoLoader.MethodDefinition<object, W>;
  request: object;
  channelOptions?: Record<string, number>;
  /**
   * How long after the connection is ready the stream counts as open without an event: 0 at once; longer where
   * a runtime that refuses the method should get a round trip to say so first.
   */
  readyDelayMs: number;
  /** what losing the stream costs, for the log line of a first reconnect */
  missed: string;
  /** the log line when the runtime does not serve the method */
  unsupported: string;
  onData(w: W): void;
}

export class EventStream<W> {
  state: EventStreamState = 'connecting';
  lastError: string | null = null;
  /** messages received; reopenings after an error or end */
  readonly counts = { messages: 0, reconnects: 0 };
  private client: Grpc.Client | undefined;
  private call: Grpc.ClientReadableStream<W> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;

  constructor(
    private readonly opts: EventStreamOptions,
    private readonly spec: StreamSpec<W>,
  ) {}

  start(): void {
    const method = this.spec.method();
    this.client = new (grpcMod().Client)(`unix:${this.opts.socketPath}`, grpcMod().credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      ...this.spec.channelOptions,
    });
    this.open(method);
  }

  private open(method: protoLoader.MethodDefinition<object, W>): void {
    if (this.state === 'stopped' || !this.client) return;
    this.state = this.attempt === 0 ? 'connecting' : 'retrying';
    const call = this.client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, this.spec.request);
    this.call = call;
    let announced = false;
    const announce = () => {
      if (announced || this.call !== call) return;
      announced = true;
      this.state = 'streaming';
      if (this.attempt > 0) this.opts.log.info(`${this.spec.label} open again`);
      this.attempt = 0;
      this.opts.onGap?.('stream opened');
    };
    call.on('metadata', announce);
    this.client.waitForReady(Date.now() + 60_000, (err) => {
      if (err) return;
      if (this.spec.readyDelayMs > 0) setTimeout(announce, this.spec.readyDelayMs).unref();
      else announce();
    });
    call.on('data', (w: W) => {
      announce();
      this.counts.messages++;
      this.spec.onData(w);
    });
    call.on('error', (err: Grpc.ServiceError) => {
      if (this.call !== call || this.state === 'stopped') return;
      this.call = undefined;
      if (err.code === grpcMod().status.UNIMPLEMENTED) {
        this.state = 'unsupported';
        this.lastError = err.details || err.message;
        this.opts.log.warn({ socket: this.opts.socketPath }, this.spec.unsupported);
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

  private retry(method: protoLoader.MethodDefinition<object, W>, why: string): void {
    if (this.state === 'streaming') this.opts.onClose?.(Date.now());
    this.lastError = why;
    this.state = 'retrying';
    this.counts.reconnects++;
    if (this.attempt === 0) this.opts.log.warn({ err: why }, `${this.spec.label} closed: reopening (${this.spec.missed})`);
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
