// Where the apiserver is and who we are: a kubeconfig file (--kubeconfig, else $KUBECONFIG, else
// ~/.kube/config) or the in-cluster service account. Only what a node agent and an aggregator need:
// bearer tokens (inline or file), client certificates and the cluster CA; exec plugins and OIDC are not
// supported and are refused with a clear error rather than ignored.
//
// Why not @kubernetes/client-node's KubeConfig: client-node 2.x loads undici 8 at import time, which needs
// Node >= 22.19 (zlib.createZstdDecompress); on Node 20 the import itself throws.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { load as loadYaml } from 'js-yaml';

export interface ClusterAccess {
  /** https://host:port, no trailing slash. */
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Inline bearer token. */
  token?: string;
  /** Token file, re-read on each request (projected service-account tokens rotate). */
  tokenFile?: string;
  insecureSkipTlsVerify: boolean;
  /** Where this came from, for logs. */
  source: string;
}

export class KubeconfigError extends Error {}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** kubeconfig path given, else $KUBECONFIG (first entry), else in-cluster, else ~/.kube/config. */
export function loadClusterAccess(kubeconfig?: string): ClusterAccess {
  if (kubeconfig) return fromKubeconfig(kubeconfig);
  const env = process.env.KUBECONFIG?.split(path.delimiter).find((p) => p !== '');
  if (env) return fromKubeconfig(env);
  if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(path.join(SA_DIR, 'token'))) return inCluster();
  const home = path.join(os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return fromKubeconfig(home);
  throw new KubeconfigError('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account');
}

function inCluster(): ClusterAccess {
  const host = process.env.KUBERNETES_SERVICE_HOST!;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: fs.readFileSync(path.join(SA_DIR, 'ca.crt')),
    tokenFile: path.join(SA_DIR, 'token'),
    insecureSkipTlsVerify: false,
    source: 'in-cluster service account',
  };
}

type Obj = Record<string, unknown>;

function asObj(v: unknown, what: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new KubeconfigError(`${what} is not a mapping`);
  return v as Obj;
}

function named(list: unknown, name: string, what: string, file: string): Obj {
  if (!Array.isArray(list)) throw new KubeconfigError(`${file}: no ${what}s`);
  const hit = list.find((e) => e && typeof e === 'object' && (e as Obj).name === name) as Obj | undefined;
  if (!hit) throw new KubeconfigError(`${file}: ${what} "${name}" not found`);
  return asObj(hit[what], `${file}: ${what} "${name}"`);
}

function str(o: Obj, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function fromKubeconfig(file: string): ClusterAccess {
  let doc: Obj;
  try {
    doc = asObj(loadYaml(fs.readFileSync(file, 'utf8')), file);
  } catch (e) {
    throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(e as Error).message}`);
  }
  const dir = path.dirname(path.resolve(file));
  const rel = (p: string) => (path.isAbsolute(p) ? p : path.join(dir, p));
  const ctxName = str(doc, 'current-context');
  if (!ctxName) throw new KubeconfigError(`${file}: no current-context`);
  const ctx = named(doc.contexts, ctxName, 'context', file);
  const cluster = named(doc.clusters, String(ctx.cluster), 'cluster', file);
  const user = ctx.user === undefined ? {} : named(doc.users, String(ctx.user), 'user', file);
  const server = str(cluster, 'server');
  if (!server) throw new KubeconfigError(`${file}: cluster "${String(ctx.cluster)}" has no server`);
  if (user.exec || user['auth-provider']) throw new KubeconfigError(`${file}: user "${String(ctx.user)}": exec and auth-provider credentials are not supported`);
  const bytes = (data: string | undefined, p: string | undefined) =>
    data ? Buffer.from(data, 'base64') : p ? fs.readFileSync(rel(p)) : undefined;
  const access: ClusterAccess = {
    server: server.replace(/\/+$/, ''),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    source: `${file} (context ${ctxName})`,
  };
  const ca = bytes(str(cluster, 'certificate-authority-data'), str(cluster, 'certificate-authority'));
  const cert = bytes(str(user, 'client-certificate-data'), str(user, 'client-certificate'));
  const key = bytes(str(user, 'client-key-data'), str(user, 'client-key'));
  if (ca) access.ca = ca;
  if (cert) access.cert = cert;
  if (key) access.key = key;
  const token = str(user, 'token');
  const tokenFile = str(user, 'tokenFile');
  if (token) access.token = token;
  else if (tokenFile) access.tokenFile = rel(tokenFile);
  return access;
}
