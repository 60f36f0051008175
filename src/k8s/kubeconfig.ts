// Where the apiserver is and who we are, read by @kubernetes/client-node's KubeConfig: a kubeconfig file
// (--kubeconfig), else the merged $KUBECONFIG list, else the in-cluster service account, else ~/.kube/config
// (controller-runtime's order). Credentials reach KubeClient's requests through KubeConfig.applyToHTTPSOptions,
// so whatever client-node supports works here: bearer tokens (inline, tokenFile, the projected service-account
// token), client certificates, exec plugins (ExecCredential: token and/or client certificate), OIDC and other
// auth-providers, basic auth, impersonation (`as`).
//
// client-node is held at 1.x: 2.x loads undici 8 at import time, which needs Node >= 22.19. 1.x is an ES module;
// Node >= 20.19 require()s it synchronously, which keeps loading synchronous. It is loaded only when a
// kubeconfig is read: its generated API takes most of a second to load, which no other command should pay.

import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { load as loadYaml } from 'js-yaml';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

type ClientNode = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

let clientNode: ClientNode | undefined;
function lib(): ClientNode {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    clientNode ??= require('@kubernetes/client-node') as ClientNode;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw e;
    throw new KubeconfigError(`@kubernetes/client-node is an ES module, which Node ${process.version} cannot require(): Node >= 20.19 is needed`);
  }
  return clientNode;
}

/** What one request carries to prove who we are; computed by client-node from the current user. */
export interface RequestAuth {
  /** Lower-cased header names: authorization (Bearer or Basic), impersonate-user. */
  headers: Record<string, string>;
  /** Client certificate and key (PEM), from the kubeconfig or an exec plugin's ExecCredential. */
  cert?: Buffer | string;
  key?: Buffer | string;
}

export interface ClusterAccess {
  /** https://host:port, no trailing slash. */
  server: string;
  ca?: Buffer;
  /** The kubeconfig's own client certificate and key, read at load (exec plugins may add theirs per request). */
  cert?: Buffer;
  key?: Buffer;
  /** Inline bearer token. */
  token?: string;
  /** Token file (kubeconfig tokenFile, or the in-cluster service-account token). */
  tokenFile?: string;
  insecureSkipTlsVerify: boolean;
  /** tls-server-name: the name the serving certificate is verified against instead of the server's host. */
  tlsServerName?: string;
  /** Where this came from, for logs. */
  source: string;
  /**
   * The credentials for the next request. Cached for CREDENTIAL_TTL_MS (concurrent callers share one
   * computation): client-node runs an exec plugin whose ExecCredential has no expirationTimestamp on every
   * call, and re-reads token files once a minute. Rejects with KubeconfigError when no credential can be had
   * (exec plugin failing, token file gone).
   */
  authenticate(): Promise<RequestAuth>;
  /** After a 401: forget every cached credential (exec output, token file, OIDC token) so the next request gets new ones. */
  forgetCredentials(): void;
}

export class KubeconfigError extends Error {}

/** How long one computed set of credentials is reused. */
export const CREDENTIAL_TTL_MS = 10_000;

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** kubeconfig path given, else $KUBECONFIG (all entries, merged), else in-cluster, else ~/.kube/config. */
export function loadClusterAccess(kubeconfig?: string): ClusterAccess {
  if (kubeconfig) return fromKubeconfig(kubeconfig);
  const env = (process.env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p !== '');
  if (env.length > 0) return fromKubeconfigList(env);
  if (process.env.KUBERNETES_SERVICE_HOST && process.env.KUBERNETES_SERVICE_PORT && fs.existsSync(path.join(SA_DIR, 'token'))) return inClusterAccess();
  const home = path.join(os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return fromKubeconfig(home);
  throw new KubeconfigError('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account');
}

/**
 * The pod's service account (KubeConfig.loadFromCluster): $KUBERNETES_SERVICE_HOST/PORT, and token, ca.crt
 * under `pathPrefix` + /var/run/secrets/kubernetes.io/serviceaccount (the prefix is for tests). The token file
 * is re-read as kubelet rotates it.
 */
export function inClusterAccess(pathPrefix = ''): ClusterAccess {
  if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
    throw new KubeconfigError('not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set');
  }
  const kc = new (lib().KubeConfig)();
  kc.loadFromCluster(pathPrefix);
  const tokenFile = `${pathPrefix}${SA_DIR}/token`;
  if (!fs.existsSync(tokenFile)) throw new KubeconfigError(`in-cluster service account: no token at ${tokenFile}`);
  return new Access(kc, 'in-cluster service account');
}

/** One kubeconfig file; it must exist. */
export function fromKubeconfig(file: string): ClusterAccess {
  return fromKubeconfigList([file], true);
}

/**
 * Several kubeconfig files merged as kubectl merges $KUBECONFIG: missing files are skipped, the first file to
 * define a cluster, user or context name wins, and so does the first non-empty current-context. (client-node's
 * mergeConfig differs: later files override the current context, and a repeated name throws.)
 */
export function fromKubeconfigList(files: string[], mustExist = false): ClusterAccess {
  const present = mustExist ? files : files.filter((f) => fs.existsSync(f));
  if (present.length === 0) throw new KubeconfigError(`cannot read kubeconfig ${files.join(path.delimiter)}: no such file`);
  const parts = present.map(loadOne);
  const merged = { clusters: [] as Cluster[], users: [] as User[], contexts: [] as Context[], currentContext: '' };
  const add = <T extends { name: string }>(into: T[], from: T[]) => {
    for (const e of from) if (!into.some((x) => x.name === e.name)) into.push(e);
  };
  for (const kc of parts) {
    add(merged.clusters, kc.getClusters());
    add(merged.users, kc.getUsers());
    add(merged.contexts, kc.getContexts());
    merged.currentContext ||= kc.getCurrentContext() ?? '';
  }
  const kc = new (lib().KubeConfig)();
  kc.loadFromOptions(merged);
  return new Access(kc, present.join(path.delimiter));
}

type RawUser = { name?: unknown; user?: { tokenFile?: unknown; token?: unknown } | null };

/** One file through KubeConfig.loadFromFile, plus what client-node reads differently from kubectl. */
function loadOne(file: string): KubeConfig {
  const kc = new (lib().KubeConfig)();
  let raw: { users?: RawUser[] } | undefined;
  try {
    kc.loadFromFile(file);
    raw = loadYaml(fs.readFileSync(file, 'utf8')) as typeof raw;
  } catch (e) {
    throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(e as Error).message}`, { cause: e });
  }
  const dir = path.dirname(path.resolve(file));
  const rel = (p: string) => (path.isAbsolute(p) ? p : path.join(dir, p));
  // client-node ignores kubectl's `tokenFile` (it reads a `token-file` key once, at load): hand it to its
  // token-file auth provider, which re-reads the file (projected tokens rotate). An inline token still wins.
  const tokenFiles = new Map<string, string>();
  for (const u of Array.isArray(raw?.users) ? raw.users : []) {
    const tf = u?.user?.tokenFile;
    if (typeof u?.name === 'string' && typeof tf === 'string' && tf !== '' && !u.user?.token) tokenFiles.set(u.name, rel(tf));
  }
  const users = kc.getUsers().map((u): User => {
    const tokenFile = tokenFiles.get(u.name);
    if (tokenFile && !u.authProvider && !u.exec) return { ...u, authProvider: { name: 'tokenFile', config: { tokenFile } } };
    // kubectl runs a relative exec command that has a path separator from the kubeconfig's directory
    const cmd = (u.exec as { command?: unknown } | null | undefined)?.command;
    if (typeof cmd === 'string' && cmd.includes('/') && !path.isAbsolute(cmd)) return { ...u, exec: { ...u.exec, command: rel(cmd) } };
    return u;
  });
  kc.loadFromOptions({ clusters: kc.getClusters(), users, contexts: kc.getContexts(), currentContext: kc.getCurrentContext() });
  return kc;
}

class Access implements ClusterAccess {
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string;
  private readonly options: { clusters: Cluster[]; users: User[]; contexts: Context[]; currentContext: string };
  private kc: KubeConfig;
  private cached?: { at: number; auth: Promise<RequestAuth> };

  constructor(
    loaded: KubeConfig,
    from: string,
  ) {
    const ctxName = loaded.getCurrentContext();
    if (!ctxName) throw new KubeconfigError(`${from}: no current-context`);
    const ctx = loaded.getContextObject(ctxName);
    if (!ctx) throw new KubeconfigError(`${from}: context "${ctxName}" not found`);
    const cluster = loaded.getCluster(ctx.cluster);
    if (!cluster) throw new KubeconfigError(`${from}: cluster "${ctx.cluster}" not found`);
    const user = ctx.user ? loaded.getUser(ctx.user) : null;
    if (ctx.user && !user) throw new KubeconfigError(`${from}: user "${ctx.user}" not found`);
    // KubeClient connects directly; a proxy would be silently bypassed
    if (cluster.proxyUrl) throw new KubeconfigError(`${from}: cluster "${cluster.name}": proxy-url is not supported`);
    let server: URL;
    try {
      server = new URL(cluster.server);
    } catch {
      throw new KubeconfigError(`${from}: cluster "${cluster.name}": server "${cluster.server}" is not a URL`);
    }
    if (server.protocol !== 'https:' && server.protocol !== 'http:') throw new KubeconfigError(`${from}: cluster "${cluster.name}": server "${cluster.server}" is not http(s)`);
    this.source = `${from} (context ${ctxName})`;
    this.server = cluster.server.replace(/\/+$/, '');
    this.insecureSkipTlsVerify = cluster.skipTLSVerify === true;
    if (cluster.tlsServerName) this.tlsServerName = cluster.tlsServerName;
    const read = (file: string | undefined, data: string | undefined, what: string) => {
      try {
        return lib().bufferFromFileOrString(file ?? undefined, data ?? undefined) ?? undefined;
      } catch (e) {
        throw new KubeconfigError(`${from}: ${what}: ${(e as Error).message}`, { cause: e });
      }
    };
    const ca = read(cluster.caFile, cluster.caData, `cluster "${cluster.name}" certificate-authority`);
    if (ca) this.ca = ca;
    if (user) {
      const cert = read(user.certFile, user.certData, `user "${user.name}" client-certificate`);
      const key = read(user.keyFile, user.keyData, `user "${user.name}" client-key`);
      if (cert) this.cert = cert;
      if (key) this.key = key;
      if (user.token) this.token = user.token;
      const tf = (user.authProvider as { config?: { tokenFile?: unknown } } | null | undefined)?.config?.tokenFile;
      if (typeof tf === 'string') this.tokenFile = tf;
    }
    // client-node refuses plain http unless insecure-skip-tls-verify is set; with no TLS there is nothing to
    // verify, and the credentials are the same
    const clusters = server.protocol === 'http:' ? loaded.getClusters().map((c) => (c === cluster ? { ...c, skipTLSVerify: true } : c)) : loaded.getClusters();
    this.options = { clusters, users: loaded.getUsers(), contexts: loaded.getContexts(), currentContext: ctxName };
    this.kc = this.fresh();
  }

  readonly source: string;

  private fresh(): KubeConfig {
    const kc = new (lib().KubeConfig)();
    kc.loadFromOptions({ ...this.options });
    return kc;
  }

  authenticate(): Promise<RequestAuth> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > CREDENTIAL_TTL_MS) {
      const entry = { at: now, auth: this.compute() };
      this.cached = entry;
      entry.auth.catch(() => {
        if (this.cached === entry) this.cached = undefined;
      });
    }
    return this.cached.auth;
  }

  forgetCredentials(): void {
    this.cached = undefined;
    // a new KubeConfig has new authenticators: no cached ExecCredential, token file or OIDC expiry
    this.kc = this.fresh();
  }

  private async compute(): Promise<RequestAuth> {
    const opts: https.RequestOptions = { headers: {} };
    try {
      // (also builds an agent, which is dropped: KubeClient keeps its own keep-alive agent)
      await this.kc.applyToHTTPSOptions(opts);
    } catch (e) {
      const msg = (e as Error).message?.trim();
      throw new KubeconfigError(`${this.source}: no credentials: ${msg || 'the exec plugin failed without a message'}`);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (v === undefined) continue;
      // client-node keeps a token file's trailing newline, which is not a valid header value
      const value = String(v).trim();
      try {
        http.validateHeaderValue(k, value);
      } catch {
        throw new KubeconfigError(`${this.source}: the ${k} credential has characters not allowed in an HTTP header`);
      }
      if (value !== '') headers[k.toLowerCase()] = value;
    }
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const auth: RequestAuth = { headers };
    if (opts.cert) auth.cert = opts.cert as Buffer | string;
    if (opts.key) auth.key = opts.key as Buffer | string;
    return auth;
  }
}
