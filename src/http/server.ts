// The node pipeline's HTTP endpoint: /metrics (prom-client, the process registry), /healthz (alive: the event
// loop turns and the pipeline is not wedged), /readyz (doing its job: the tailer is open and the CRI runtime
// answers, or was explicitly disabled). Plain node:http; nothing else is served.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from '../log';
import { LOOP_SAMPLE_MS, registry } from '../metrics';

export interface Check {
  ok: boolean;
  detail?: string;
}

export interface HttpServerOptions {
  /** `host:port`; port 0 picks a free one (logged, and in address()) */
  listen: string;
  log: Logger;
  /** named checks for /healthz; each must hold */
  health?: Record<string, () => Check>;
  /** named checks for /readyz; each must hold */
  ready?: Record<string, () => Check>;
  /** /healthz fails when the event loop was blocked longer than this, ms; default 10 s */
  maxLoopDelayMs?: number;
}

export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  if (!m) throw new Error(`listen address "${s}" is not host:port (e.g. 127.0.0.1:9090, 0.0.0.0:9100, [::1]:0)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`listen address "${s}": port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export class HttpServer {
  private readonly server: http.Server;
  // (a blocked loop shows as one long sample: a fine resolution only costs wake-ups; see metrics.ts)
  private readonly loop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  private lastTick = Date.now();
  private ticker: NodeJS.Timeout | undefined;

  constructor(private readonly opts: HttpServerOptions) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  async start(): Promise<AddressInfo> {
    const { host, port } = parseListen(this.opts.listen);
    this.loop.enable();
    // a timer that stops firing means a blocked loop; measured here because a blocked loop cannot answer either,
    // and the probe's own timeout catches that case
    this.ticker = setInterval(() => (this.lastTick = Date.now()), 1000).unref();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address() as AddressInfo;
    this.opts.log.info({ address: addr.address, port: addr.port }, `HTTP listening on ${addr.address}:${addr.port} (/metrics, /healthz, /readyz)`);
    return addr;
  }

  address(): AddressInfo | null {
    return this.server.address() as AddressInfo | null;
  }

  private runChecks(checks: Record<string, () => Check> | undefined): { ok: boolean; checks: Record<string, Check> } {
    const out: Record<string, Check> = {};
    let ok = true;
    for (const [name, f] of Object.entries(checks ?? {})) {
      let c: Check;
      try {
        c = f();
      } catch (err) {
        c = { ok: false, detail: (err as Error).message };
      }
      out[name] = c;
      ok &&= c.ok;
    }
    return { ok, checks: out };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
      if (url === '/metrics') return send(res, 200, registry.contentType, await registry.metrics());
      if (url === '/healthz') {
        const maxDelay = this.opts.maxLoopDelayMs ?? 10_000;
        const loopMaxMs = this.loop.max / 1e6;
        this.loop.reset();
        const sinceTick = Date.now() - this.lastTick;
        const r = this.runChecks({
          eventLoop: () => ({ ok: loopMaxMs < maxDelay && sinceTick < maxDelay, detail: `max delay ${loopMaxMs.toFixed(1)} ms since the last probe` }),
          ...this.opts.health,
        });
        return send(res, r.ok ? 200 : 503, 'application/json', JSON.stringify({ status: r.ok ? 'ok' : 'unhealthy', checks: r.checks }) + '\n');
      }
      if (url === '/readyz') {
        const r = this.runChecks(this.opts.ready);
        return send(res, r.ok ? 200 : 503, 'application/json', JSON.stringify({ status: r.ok ? 'ready' : 'not ready', checks: r.checks }) + '\n');
      }
      send(res, 404, 'text/plain', 'not found: /metrics, /healthz, /readyz\n');
    } catch (err) {
      this.opts.log.error({ url, err }, 'HTTP handler failed');
      send(res, 500, 'text/plain', 'internal error\n');
    }
  }

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.loop.disable();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
