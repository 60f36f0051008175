// The real Kubernetes control plane for the k8s tests: etcd + kube-apiserver on loopback, provisioned by
// test/env/kube/start.sh (which builds kube-apiserver and kubectl from the Go module proxy on first use). One
// instance per machine, reused by every test process while healthy; identities come from a static token file.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { findUp } from './find-up';

/** Namespace of deploy/'s service accounts, and their names: the identities start.sh issues tokens for. */
export const SA_NAMESPACE = 'auditflow';
export const SERVICE_ACCOUNTS = ['auditflow-tailer', 'auditflow-agent', 'auditflow-aggregator'] as const;
export type ComponentServiceAccount = (typeof SERVICE_ACCOUNTS)[number];

/** `system:serviceaccount:auditflow:<sa>`, the user name RBAC sees for a component. */
export function serviceAccountUser(sa: string, namespace = SA_NAMESPACE): string {
  return `system:serviceaccount:${namespace}:${sa}`;
}

export interface KubeEnv {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Kubeconfig of "admin" (system:masters). */
  kubeconfig: string;
  /** Path of the kubectl built with the apiserver (same version). */
  kubectl: string;
  /** Kubernetes version built, e.g. v1.37.2. */
  version: string;
  /** CA certificate that signed the serving certificate. */
  ca: string;
  /** The rig's state directory (pids, logs: apiserver.log, etcd.log). */
  dir: string;
  /** Users with a token: "admin", "nobody" (authenticated, no roles) and each component's service account. */
  users: string[];
  /** Kubeconfig of a user: "admin", "nobody", a full user name, or a component service account's short name. */
  kubeconfigFor(user: string): string;
  tokenFor(user: string): string;
  /** Stops and starts kube-apiserver only (etcd and its data stay): watches break, clients must recover. */
  restartApiserver(): Promise<void>;
  /** Server-side applies deploy/base/crds and waits until each CRD is Established. */
  applyCrds(): Promise<void>;
}

interface EnvFile {
  version: string;
  server: string;
  ca: string;
  kubectl: string;
  kubeApiserver: string;
  dir: string;
  users: Record<string, { token: string; kubeconfig: string }>;
}

/** The repository root (where deploy/ is). */
export function repoRoot(): string {
  return path.dirname(findUp('deploy'));
}

export interface ExecResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell; never rejects on a non-zero exit (the caller asserts on it). */
export function run(file: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          reject(new Error(`${file} could not run: ${err.message}`));
          return;
        }
        const status = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ status: err?.killed ? 124 : status, stdout, stderr: err?.killed ? `${stderr}\n(killed after timeout)` : stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

const startScript = () => findUp(path.join('test', 'env', 'kube', 'start.sh'));

async function runStart(mode: 'start' | 'restart-apiserver' | 'stop', runDir?: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  if (process.getuid?.() !== 0) throw new Error('the Kubernetes rig needs root (etcd-server install, state under /var/cache/auditflow): run the tests as root');
  // The first run builds kube-apiserver and kubectl from source: tens of minutes on a small machine.
  const env = runDir === undefined ? { ...process.env, ...extraEnv } : { ...process.env, ...extraEnv, KUBE_RUN_DIR: runDir };
  const r = await run('bash', [startScript(), mode], { timeoutMs: 120 * 60_000, env });
  if (r.status !== 0) throw new Error(`test/env/kube/start.sh ${mode} failed (exit ${r.status}); it said:\n${r.stderr.slice(-6000)}`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

function resolveUser(env: EnvFile, user: string): { token: string; kubeconfig: string } {
  const u = env.users[user] ?? env.users[serviceAccountUser(user)];
  if (!u) throw new Error(`no token for user ${JSON.stringify(user)}; the rig knows: ${Object.keys(env.users).join(', ')} (test/env/kube/start.sh SERVICE_ACCOUNTS)`);
  return u;
}

function makeEnv(file: EnvFile): KubeEnv {
  const admin = resolveUser(file, 'admin');
  return {
    server: file.server,
    kubeconfig: admin.kubeconfig,
    kubectl: file.kubectl,
    version: file.version,
    ca: file.ca,
    dir: file.dir,
    users: Object.keys(file.users),
    kubeconfigFor: (user) => resolveUser(file, user).kubeconfig,
    tokenFor: (user) => resolveUser(file, user).token,
    restartApiserver: async () => {
      await runStart('restart-apiserver', file.dir);
    },
    applyCrds: async () => {
      await applyCrdDir(file.kubectl, admin.kubeconfig, path.join(repoRoot(), 'deploy', 'base', 'crds'));
    },
  };
}

/** CRDs whose apply failed because a field that cannot change (spec.scope) differs from the installed CRD's. */
function immutableCrds(stderr: string): string[] {
  const out = new Set<string>();
  for (const m of stderr.matchAll(/customresourcedefinitions?\.apiextensions\.k8s\.io "([^"]+)" is invalid: [^\n]*spec\.scope/g)) out.add(m[1]!);
  return [...out];
}

/**
 * Server-side applies `dir`'s CRDs and waits until Established. A CRD installed before with another scope (the
 * rig is shared: an older checkout's namespaced SecurityProfileNodeStatus, or SPO's own CRDs a test installed)
 * cannot be changed in place: it is deleted (with its objects) and applied again.
 */
export async function applyCrdDir(kubectl: string, kubeconfig: string, dir: string): Promise<void> {
  const args = ['apply', '--server-side', '--force-conflicts', '--field-manager=auditflow-test', '-k', dir];
  let ap = await kubectlWithRetry(kubectl, kubeconfig, args);
  const stale = ap.status !== 0 ? immutableCrds(ap.stderr) : [];
  if (stale.length) {
    const d = await kubectlWithRetry(kubectl, kubeconfig, ['delete', '--wait=true', '--timeout=120s', ...stale.map((n) => `crd/${n}`)]);
    if (d.status !== 0) throw new Error(`deleting CRDs ${stale.join(', ')} (scope changed) failed:\n${d.stderr}`);
    ap = await kubectlWithRetry(kubectl, kubeconfig, args);
  }
  if (ap.status !== 0) throw new Error(`kubectl apply -k ${dir} failed:\n${ap.stderr}${ap.stdout}`);
  const names = ap.stdout
    .split('\n')
    .map((l) => l.match(/^customresourcedefinition\.apiextensions\.k8s\.io\/(\S+)/)?.[1])
    .filter((n): n is string => !!n);
  if (names.length === 0) throw new Error(`kubectl apply -k ${dir} applied no CRD:\n${ap.stdout}`);
  const w = await kubectlWithRetry(kubectl, kubeconfig, ['wait', '--for=condition=Established', '--timeout=120s', ...names.map((n) => `crd/${n}`)]);
  if (w.status !== 0) throw new Error(`CRDs not Established: ${w.stderr}${w.stdout}`);
}

/** The KubeEnv of an instance's env.json (test/env/cluster.ts: the cluster rig's own apiserver). */
export function kubeEnvFromFile(envPath: string): KubeEnv {
  return makeEnv(JSON.parse(fs.readFileSync(envPath, 'utf8')) as EnvFile);
}

let current: Promise<KubeEnv> | undefined;

/**
 * Starts (or reuses) etcd + kube-apiserver and returns how to reach it. Throws, saying what is missing, when
 * that is impossible (not root, no Go toolchain, build or start failure).
 */
export function ensureKube(): Promise<KubeEnv> {
  current ??= (async () => {
    const envPath = await runStart('start');
    if (!envPath || !fs.existsSync(envPath)) throw new Error(`test/env/kube/start.sh printed no env.json path (got ${JSON.stringify(envPath)})`);
    return makeEnv(JSON.parse(fs.readFileSync(envPath, 'utf8')) as EnvFile);
  })();
  current.catch(() => {
    current = undefined; // a later call may retry
  });
  return current;
}

/** Stops kube-apiserver and etcd by their recorded pids (the next ensureKube() cold-starts a fresh instance). */
export async function stopKube(): Promise<void> {
  current = undefined;
  await runStart('stop');
}

/** What kubectl says when the apiserver is not there right now (a test restarting it), not a real answer. */
// (only failures where the request was certainly not processed: retrying a create must not create twice)
const UNREACHABLE = /connection refused|the server is currently unable to handle the request/;
const UNREACHABLE_DEADLINE_MS = 60_000;

/**
 * kubectl as `user` (default admin): `kubectl --kubeconfig <user's> ...args`. While the apiserver is unreachable
 * (another test's restartApiserver()), the call is retried for up to a minute; any answer from the server is
 * returned as is.
 */
export function kubectl(env: KubeEnv, args: string[], opts: { user?: string; input?: string } = {}): Promise<ExecResult> {
  return kubectlWithRetry(env.kubectl, env.kubeconfigFor(opts.user ?? 'admin'), args, opts.input);
}

async function kubectlWithRetry(kubectlPath: string, kubeconfig: string, args: string[], input?: string): Promise<ExecResult> {
  const end = Date.now() + UNREACHABLE_DEADLINE_MS;
  for (;;) {
    const r = await run(kubectlPath, ['--kubeconfig', kubeconfig, ...args], input !== undefined ? { input } : {});
    if (r.status === 0 || !UNREACHABLE.test(r.stderr) || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 500));
  }
}

export interface ApiResponse {
  status: number;
  text: string;
  /** The parsed JSON body (a Status object for errors), or undefined when it is not JSON. */
  body: any;
}

/**
 * One REST call to the apiserver with `user`'s bearer token (or an explicit `token`), verifying the serving
 * certificate against the rig's CA: what a component does with its own identity. Never rejects on an HTTP
 * error status; the caller asserts on it. Retried for up to a minute while nothing listens (apiserver restarting).
 */
export async function apiRequest(
  env: KubeEnv,
  auth: { user: string } | { token: string },
  method: string,
  urlPath: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<ApiResponse> {
  const end = Date.now() + UNREACHABLE_DEADLINE_MS;
  for (;;) {
    try {
      return await apiRequestOnce(env, auth, method, urlPath, body, contentType);
    } catch (err) {
      // only "nobody listening" is retried (apiserver restarting); anything else is the test's business
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ECONNREFUSED' || Date.now() > end) throw err;
      await new Promise((res) => setTimeout(res, 500));
    }
  }
}

function apiRequestOnce(
  env: KubeEnv,
  auth: { user: string } | { token: string },
  method: string,
  urlPath: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<ApiResponse> {
  const token = 'token' in auth ? auth.token : env.tokenFor(auth.user);
  const url = new URL(urlPath, env.server);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: fs.readFileSync(env.ca),
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer in 30 s`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * A private etcd + kube-apiserver in `runDir` (its own ports, data and credentials), for a test that restarts
 * its apiserver at will: the shared one of ensureKube() serves other test processes. Its ports are looked for
 * from `portBase` (apiserver) and `portBase` - 4064 (etcd) up, away from the shared instance's, which may be
 * cold-starting at the same moment (start.sh picks a free port, then binds it). stop() ends both; a failed
 * start stops what it started.
 */
export async function ensurePrivateKube(runDir: string, portBase: number): Promise<KubeEnv & { stop(): Promise<void> }> {
  const ports = { KUBE_PORT_BASE: String(portBase), KUBE_ETCD_PORT_BASE: String(portBase - 4064) };
  let envPath: string;
  try {
    envPath = await runStart('start', runDir, ports);
  } catch (e) {
    await runStart('stop', runDir).catch(() => undefined);
    throw e;
  }
  if (!envPath || !fs.existsSync(envPath)) throw new Error(`test/env/kube/start.sh printed no env.json path for ${runDir} (got ${JSON.stringify(envPath)})`);
  const env = makeEnv(JSON.parse(fs.readFileSync(envPath, 'utf8')) as EnvFile);
  return { ...env, stop: () => runStart('stop', runDir).then(() => undefined) };
}
