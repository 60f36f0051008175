// A small client of the OCI distribution API over node:https: manifests and blobs, with the registry's own auth
// (Basic, or Bearer tokens from the WWW-Authenticate realm, fetched with the credentials when there are any) and
// TLS verified against the system roots or a given CA. Every blob and manifest fetched by digest is checked
// against it; sizes are bounded so that a registry cannot make us allocate without limit.

import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';

export interface Credentials {
  username: string;
  password: string;
}

export interface ClientOptions {
  /** PEM of extra CAs (the system roots stay trusted). */
  ca?: string | Buffer;
  credentials?: Credentials;
  /** Talk plain HTTP (for a local registry without TLS). */
  plainHttp?: boolean;
  timeoutMs?: number;
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const MAX_MANIFEST_BYTES = 4 << 20;
export const MAX_BLOB_BYTES = 16 << 20;

export const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MT_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const ACCEPT = [MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST].join(', ');

export function sha256(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private basic = false;
  private readonly agent: https.Agent | undefined;

  constructor(
    readonly registry: string,
    private readonly opts: ClientOptions = {},
  ) {
    this.agent = opts.plainHttp ? undefined : new https.Agent({ keepAlive: true, ...(opts.ca ? { ca: [...require('node:tls').rootCertificates, opts.ca.toString()] } : {}) });
  }

  close(): void {
    this.agent?.destroy();
  }

  private base(): string {
    return `${this.opts.plainHttp ? 'http' : 'https'}://${this.registry}`;
  }

  private raw(method: string, url: string, headers: Record<string, string>, body: Buffer | undefined, limit: number, redirects = 3): Promise<Response> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const mod = u.protocol === 'http:' ? http : https;
      const req = mod.request(
        u,
        { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, ...(u.protocol === 'https:' && this.agent ? { agent: this.agent } : {}), timeout: this.opts.timeoutMs ?? 60_000 },
        (res) => {
          const status = res.statusCode ?? 0;
          if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && method === 'GET' && redirects > 0) {
            res.resume();
            // a redirect to blob storage: no registry credentials go along
            this.raw(method, new URL(res.headers.location, u).toString(), {}, undefined, limit, redirects - 1).then(resolve, reject);
            return;
          }
          const chunks: Buffer[] = [];
          let n = 0;
          res.on('data', (c: Buffer) => {
            n += c.length;
            if (n > limit) {
              req.destroy(new RegistryError(`${method} ${u.pathname}: response larger than ${limit} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => resolve({ status, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new RegistryError(`${method} ${url}: timed out`)));
      req.on('error', (e) => reject(e instanceof RegistryError ? e : new RegistryError(`${method} ${u.host}${u.pathname}: ${(e as Error).message}`, undefined, { cause: e })));
      req.end(body);
    });
  }

  /** A request with the registry's auth: on 401, the challenge is answered once (Basic or a Bearer token). */
  private async request(method: string, path: string, scope: string, headers: Record<string, string> = {}, body?: Buffer, limit = MAX_MANIFEST_BYTES): Promise<Response> {
    const url = path.startsWith('http') ? path : this.base() + path;
    const auth = (): Record<string, string> => {
      const t = this.tokens.get(scope);
      if (t) return { authorization: `Bearer ${t}` };
      if (this.basic && this.opts.credentials) return { authorization: 'Basic ' + Buffer.from(`${this.opts.credentials.username}:${this.opts.credentials.password}`).toString('base64') };
      return {};
    };
    let r = await this.raw(method, url, { ...headers, ...auth() }, body, limit);
    if (r.status !== 401) return r;
    const challenge = String(r.headers['www-authenticate'] ?? '');
    const m = /^(\w+)\s*(.*)$/.exec(challenge);
    if (!m) throw new RegistryError(`${this.registry}: 401 without a WWW-Authenticate challenge`, 401);
    const scheme = m[1]!.toLowerCase();
    const params = parseParams(m[2]!);
    if (scheme === 'basic') {
      if (!this.opts.credentials) throw new RegistryError(`${this.registry}: authentication required (Basic, realm ${JSON.stringify(params.realm ?? '')}) and no credentials were given (--username/--password or a docker config.json)`, 401);
      if (this.basic) throw new RegistryError(`${this.registry}: credentials refused (401)`, 401);
      this.basic = true;
    } else if (scheme === 'bearer') {
      if (!params.realm) throw new RegistryError(`${this.registry}: Bearer challenge without realm`, 401);
      await this.fetchToken(params.realm, params.service, params.scope ?? scope, scope);
    } else throw new RegistryError(`${this.registry}: unsupported auth scheme ${m[1]}`, 401);
    r = await this.raw(method, url, { ...headers, ...auth() }, body, limit);
    if (r.status === 401) throw new RegistryError(`${this.registry}: credentials refused for ${scope} (401)`, 401);
    return r;
  }

  private async fetchToken(realm: string, service: string | undefined, scope: string, key: string): Promise<void> {
    const u = new URL(realm);
    if (service) u.searchParams.set('service', service);
    u.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (this.opts.credentials) headers.authorization = 'Basic ' + Buffer.from(`${this.opts.credentials.username}:${this.opts.credentials.password}`).toString('base64');
    const r = await this.raw('GET', u.toString(), headers, undefined, 1 << 20);
    if (r.status !== 200) throw new RegistryError(`${this.registry}: token endpoint ${u.host}${u.pathname} answered ${r.status}${this.opts.credentials ? '' : ' (no credentials given)'}`, r.status);
    const j = JSON.parse(r.body.toString('utf8')) as { token?: string; access_token?: string };
    const t = j.token ?? j.access_token;
    if (!t) throw new RegistryError(`${this.registry}: token endpoint returned no token`);
    this.tokens.set(key, t);
  }

  private scope(repo: string, push: boolean): string {
    return `repository:${repo}:${push ? 'pull,push' : 'pull'}`;
  }

  /** The manifest at a tag or digest: its bytes, media type and digest (checked when asked by digest). */
  async getManifest(repo: string, ref: string): Promise<{ bytes: Buffer; mediaType: string; digest: string } | undefined> {
    const r = await this.request('GET', `/v2/${repo}/manifests/${ref}`, this.scope(repo, false), { accept: ACCEPT });
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw httpError('GET manifest', repo, ref, r);
    const digest = sha256(r.body);
    if (ref.startsWith('sha256:') && digest !== ref) throw new RegistryError(`manifest ${repo}@${ref}: content digest is ${digest}, not the one asked for (tampered or corrupt)`);
    const mediaType = String(r.headers['content-type'] ?? '').split(';')[0]!.trim() || (JSON.parse(r.body.toString()) as { mediaType?: string }).mediaType || MT_OCI_MANIFEST;
    return { bytes: r.body, mediaType, digest };
  }

  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    const r = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, this.scope(repo, true), { 'content-type': mediaType }, bytes);
    if (r.status !== 201 && r.status !== 200) throw httpError('PUT manifest', repo, ref, r);
    return sha256(bytes);
  }

  /** A blob, verified against its digest and expected size. */
  async getBlob(repo: string, digest: string, size?: number, limit = MAX_BLOB_BYTES): Promise<Buffer> {
    if (size !== undefined && size > limit) throw new RegistryError(`blob ${digest}: ${size} bytes is over the limit of ${limit}`);
    const r = await this.request('GET', `/v2/${repo}/blobs/${digest}`, this.scope(repo, false), {}, undefined, limit);
    if (r.status !== 200) throw httpError('GET blob', repo, digest, r);
    const got = sha256(r.body);
    if (got !== digest) throw new RegistryError(`blob ${digest} of ${repo}: content digest is ${got} (tampered or corrupt layer)`);
    if (size !== undefined && r.body.length !== size) throw new RegistryError(`blob ${digest} of ${repo}: ${r.body.length} bytes, descriptor says ${size}`);
    return r.body;
  }

  async putBlob(repo: string, bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    const head = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, this.scope(repo, true));
    if (head.status === 200) return digest;
    const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, this.scope(repo, true), { 'content-length': '0' });
    if (start.status !== 202 || !start.headers.location) throw httpError('POST blob upload', repo, digest, start);
    const loc = new URL(String(start.headers.location), this.base() + '/');
    loc.searchParams.set('digest', digest);
    const put = await this.request('PUT', loc.toString(), this.scope(repo, true), { 'content-type': 'application/octet-stream' }, bytes);
    if (put.status !== 201) throw httpError('PUT blob', repo, digest, put);
    return digest;
  }
}

function httpError(what: string, repo: string, ref: string, r: Response): RegistryError {
  let detail = r.body.toString('utf8').slice(0, 300).trim();
  try {
    const j = JSON.parse(detail) as { errors?: { code?: string; message?: string }[] };
    if (j.errors?.length) detail = j.errors.map((e) => `${e.code}: ${e.message}`).join('; ');
  } catch {
    /* not JSON */
  }
  return new RegistryError(`${what} ${repo} ${ref}: HTTP ${r.status}${detail ? ` (${detail})` : ''}`, r.status);
}

/** `realm="…",service="…",scope="…"` */
function parseParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  return out;
}
