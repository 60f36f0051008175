// A thin Kubernetes REST client over node:https: JSON requests, server-side apply, subresources and
// streaming watches. Small on purpose: the controllers need a dozen verbs and full control of watch
// restarts (informer.ts), not a generated client.

import * as https from 'node:https';
import * as http from 'node:http';
import { createInterface } from 'node:readline';
import { Counter } from 'prom-client';
import { registry } from '../metrics';
import { loadClusterAccess, type ClusterAccess, type RequestAuth } from './kubeconfig';

const requests = new Counter({
  name: 'auditflow_k8s_requests_total',
  help: 'Kubernetes API requests by verb and HTTP status (0: no response: connection refused, reset, timeout)',
  labelNames: ['verb', 'code'] as const,
  registers: [registry],
});

/** A failed API call: `status` is the HTTP status (0 when the apiserver was not reached). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
export const isGone = (e: unknown) => e instanceof ApiError && e.status === 410;

export type Query = Record<string, string | number | boolean | undefined>;

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export const CONTENT_JSON = 'application/json';
export const CONTENT_MERGE_PATCH = 'application/merge-patch+json';
export const CONTENT_JSON_PATCH = 'application/json-patch+json';
export const CONTENT_APPLY = 'application/apply-patch+yaml';

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /** Aborts the request (also while connecting or waiting for the answer). */
  signal?: AbortSignal;
}

function withQuery(p: string, q: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `${p}?${s}` : p;
}

const samePem = (a: Buffer | string | undefined, b: Buffer | string | undefined) =>
  a === b || (a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b)));

export class KubeClient {
  private agent: https.Agent | http.Agent;
  /** The client certificate the agent presents: an exec plugin may hand out a new one. */
  private agentCert: { cert?: Buffer | string; key?: Buffer | string };
  /** Agents of earlier certificates: their in-flight requests and watches finish; destroyed on close(). */
  private readonly retired: (https.Agent | http.Agent)[] = [];
  private readonly base: URL;

  /**
   * `fieldManager`: the name managedFields records for this client's writes (each component its own, so
   * `kubectl get -o yaml --show-managed-fields` tells who set what).
   */
  constructor(
    readonly access: ClusterAccess,
    readonly fieldManager = 'auditflow',
  ) {
    this.base = new URL(access.server);
    this.agentCert = { cert: access.cert, key: access.key };
    this.agent = this.makeAgent();
  }

  private makeAgent(): https.Agent | http.Agent {
    if (this.base.protocol === 'http:') return new http.Agent({ keepAlive: true });
    const tls: https.AgentOptions = { keepAlive: true, maxSockets: 16, rejectUnauthorized: !this.access.insecureSkipTlsVerify };
    if (this.access.ca) tls.ca = this.access.ca;
    if (this.access.tlsServerName) tls.servername = this.access.tlsServerName;
    if (this.agentCert.cert) tls.cert = this.agentCert.cert;
    if (this.agentCert.key) tls.key = this.agentCert.key;
    return new https.Agent(tls);
  }

  private agentFor(auth: RequestAuth): https.Agent | http.Agent {
    if (this.base.protocol === 'http:' || (samePem(auth.cert, this.agentCert.cert) && samePem(auth.key, this.agentCert.key))) return this.agent;
    this.retired.push(this.agent);
    this.agentCert = { cert: auth.cert, key: auth.key };
    this.agent = this.makeAgent();
    return this.agent;
  }

  static load(kubeconfig: string | undefined, fieldManager?: string): KubeClient {
    return new KubeClient(loadClusterAccess(kubeconfig), fieldManager);
  }

  private headers(auth: RequestAuth, contentType?: string): http.OutgoingHttpHeaders {
    const h: http.OutgoingHttpHeaders = { accept: 'application/json', 'user-agent': 'auditflow', ...auth.headers };
    if (contentType) h['content-type'] = contentType;
    return h;
  }

  private async open(method: string, p: string, opts: RequestOptions): Promise<http.IncomingMessage> {
    let auth: RequestAuth;
    try {
      auth = await this.access.authenticate();
    } catch (e) {
      requests.inc({ verb: method, code: '0' });
      throw new ApiError(0, 'NoCredentials', `${method} ${p}: ${(e as Error).message}`, { cause: e });
    }
    // Server-side apply bodies are read as YAML (1.1), where U+0085, U+2028 and U+2029 inside a quoted string are
    // line breaks that get folded away: JSON.stringify leaves them raw, so they are escaped (same JSON value).
    const json = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const body = json === undefined ? undefined : Buffer.from(opts.contentType === CONTENT_APPLY ? json.replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json);
    const mod = this.base.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port,
          method,
          path: (this.base.pathname.replace(/\/+$/, '') || '') + withQuery(p, opts.query),
          headers: { ...this.headers(auth, body ? (opts.contentType ?? CONTENT_JSON) : undefined), ...(body ? { 'content-length': body.length } : {}) },
          agent: this.agentFor(auth),
        },
        resolve,
      );
      if (opts.signal) {
        const abort = () => req.destroy(new Error('aborted by the caller'));
        if (opts.signal.aborted) abort();
        else opts.signal.addEventListener('abort', abort, { once: true });
        req.once('close', () => opts.signal!.removeEventListener('abort', abort));
      }
      req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${p}: no response within ${opts.timeoutMs ?? 30_000} ms`)));
      req.on('error', (e) => {
        requests.inc({ verb: method, code: '0' });
        reject(new ApiError(0, 'Unreachable', `${method} ${p}: ${e.message}`));
      });
      req.end(body);
    });
  }

  /** One JSON request; non-2xx answers reject with ApiError carrying the apiserver's Status message. */
  async request<T>(method: string, p: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.open(method, p, opts);
    const chunks: Buffer[] = [];
    try {
      for await (const c of res) chunks.push(c as Buffer);
    } catch (e) {
      requests.inc({ verb: method, code: '0' });
      throw new ApiError(0, 'Unreachable', `${method} ${p}: ${(e as Error).message}`, { cause: e });
    }
    const code = res.statusCode ?? 0;
    requests.inc({ verb: method, code: String(code) });
    if (code === 401) this.access.forgetCredentials();
    const text = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (code < 200 || code > 299) {
      const st = (json ?? {}) as { reason?: string; message?: string };
      throw new ApiError(code, st.reason ?? res.statusMessage ?? 'Error', `${method} ${p}: ${code} ${st.message ?? text.slice(0, 300)}`);
    }
    return json as T;
  }

  get<T>(p: string, query?: Query): Promise<T> {
    return this.request<T>('GET', p, { query });
  }

  private writeQuery(query?: Query): Query {
    return { fieldManager: this.fieldManager, ...query };
  }

  create<T>(p: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>('POST', p, { body, query: this.writeQuery(query) });
  }

  replace<T>(p: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>('PUT', p, { body, query: this.writeQuery(query) });
  }

  mergePatch<T>(p: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>('PATCH', p, { body, query: this.writeQuery(query), contentType: CONTENT_MERGE_PATCH });
  }

  jsonPatch<T>(p: string, ops: unknown[], query?: Query): Promise<T> {
    return this.request<T>('PATCH', p, { body: ops, query: this.writeQuery(query), contentType: CONTENT_JSON_PATCH });
  }

  /** Server-side apply (force: take over fields another manager set). */
  apply<T>(p: string, body: unknown, force = true): Promise<T> {
    return this.request<T>('PATCH', p, { body, query: this.writeQuery({ force }), contentType: CONTENT_APPLY });
  }

  delete<T>(p: string, query?: Query): Promise<T> {
    return this.request<T>('DELETE', p, { query });
  }

  /**
   * Streams a watch: calls onEvent per event until the server ends the stream (resolves), the connection
   * fails or `signal` aborts (rejects). Non-200 answers reject with ApiError (410 included).
   */
  async watch<T>(p: string, query: Query, onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal, idleMs = 10 * 60_000): Promise<void> {
    const res = await this.open('GET', p, { query: { ...query, watch: true }, timeoutMs: idleMs, signal });
    const code = res.statusCode ?? 0;
    requests.inc({ verb: 'WATCH', code: String(code) });
    if (code === 401) this.access.forgetCredentials();
    if (code !== 200) {
      let text = '';
      for await (const c of res) text += String(c);
      let msg = text.slice(0, 300);
      let reason = res.statusMessage ?? 'Error';
      try {
        const st = JSON.parse(text) as { reason?: string; message?: string };
        msg = st.message ?? msg;
        reason = st.reason ?? reason;
      } catch {
        // not a Status: keep the text
      }
      throw new ApiError(code, reason, `WATCH ${p}: ${code} ${msg}`);
    }
    await new Promise<void>((resolve, reject) => {
      const abort = () => res.destroy(new Error('watch aborted'));
      if (signal.aborted) abort();
      signal.addEventListener('abort', abort, { once: true });
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      // readline re-emits the response's errors; they are handled on `res` below.
      lines.on('error', () => undefined);
      let failed: Error | undefined;
      lines.on('line', (line) => {
        if (failed || line.trim() === '') return;
        let ev: WatchEvent<T>;
        try {
          ev = JSON.parse(line) as WatchEvent<T>;
        } catch {
          failed = new ApiError(0, 'BadWatchEvent', `WATCH ${p}: unparsable event line (${line.length} bytes)`);
          res.destroy(failed);
          return;
        }
        try {
          onEvent(ev);
        } catch (e) {
          failed = e as Error;
          res.destroy(failed);
        }
      });
      res.on('error', (e) => (failed ??= new ApiError(0, 'Unreachable', `WATCH ${p}: ${e.message}`)));
      res.on('close', () => {
        signal.removeEventListener('abort', abort);
        if (failed) reject(failed);
        else if (!res.complete) reject(new ApiError(0, 'Unreachable', `WATCH ${p}: connection closed mid-stream`));
        else resolve();
      });
    });
  }

  close(): void {
    for (const a of this.retired.splice(0)) a.destroy();
    this.agent.destroy();
  }
}
