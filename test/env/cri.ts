// Test helpers for real pods on the private containerd that test/env/cri.sh provisions.
// runPod() acts like kubelet does towards a CRI runtime: it sends kubelet's io.kubernetes.* labels (the runtime
// doesn't invent them), a cgroupfs-driver cgroup parent /kubepods/besteffort/pod<uid>, and host networking (no
// CNI here). removePod() tears the pod down and, like kubelet, removes the pod-level cgroups the runtime leaves.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CriClient, CriError, type ContainerConfig, type PodSandboxConfig } from '../../src/enrich/cri';
import { findUp } from './find-up';

export const TEST_IMAGE = process.env['IMAGE'] ?? 'localhost/busybox:cri-test';

let socket: string | undefined;

/**
 * Provisions (or reuses) the private containerd and returns its socket path. Throws, saying what is missing, when
 * that isn't possible (not root, apt failing, containerd not starting).
 */
export function ensureContainerd(): string {
  if (socket) return socket;
  if (process.getuid?.() !== 0) throw new Error('CRI tests need root: containerd, runc and cgroups are real here (run the tests as root)');
  const script = findUp(path.join('test', 'env', 'cri.sh'));
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 10 * 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) {
    throw new Error(`test/env/cri.sh failed (${r.error?.message ?? `exit ${r.status}`}); it said:\n${r.stderr}`);
  }
  const out = r.stdout.trim().split('\n').pop() ?? '';
  if (!out || !fs.existsSync(out)) throw new Error(`test/env/cri.sh printed no usable socket path (got ${JSON.stringify(out)}):\n${r.stderr}`);
  socket = out;
  return socket;
}

export interface PodContainerSpec {
  name: string;
  command: string[];
  image?: string;
  /** this container's own Localhost seccomp profile (absolute path), instead of the pod's */
  seccompProfilePath?: string;
  /** a short job: it may already have exited when StartContainer returns (then its pid is 0) */
  mayExit?: boolean;
}

export interface PodSpec {
  name: string;
  namespace: string;
  /** default: a random UUID */
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers: PodContainerSpec[];
  /** absolute path of a seccomp profile (Localhost), applied to every container */
  seccompProfilePath?: string;
  /** default: ensureContainerd() */
  socketPath?: string;
  /**
   * CRI runtime handler: '' (Debian's runc) or 'runc-seccomp-flags' (a newer runc that honours the profile's
   * `flags`, e.g. SECCOMP_FILTER_FLAG_LOG so that SCMP_ACT_ERRNO denials are audited; see runc-build.sh).
   */
  runtimeHandler?: '' | 'runc-seccomp-flags';
}

export interface RunningContainer {
  name: string;
  id: string;
  /** host pid of the container's init process */
  pid: number;
}

export interface RunningPod {
  sandboxId: string;
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  cgroupParent: string;
  logDirectory: string;
  /** host pid of the sandbox process */
  sandboxPid: number | undefined;
  containers: RunningContainer[];
  socketPath: string;
  /** what RunPodSandbox was sent (CreateContainer wants it again: addContainer) */
  sandboxConfig: PodSandboxConfig;
}

function lifecycleClient(socketPath: string): CriClient {
  // sandbox and container creation take ~100 ms here; leave room for a loaded CI machine
  return new CriClient({ socketPath, timeoutMs: 60_000 });
}

/** Runs a pod sandbox and its containers like kubelet would, and returns their ids and host pids. */
export async function runPod(spec: PodSpec): Promise<RunningPod> {
  const socketPath = spec.socketPath ?? ensureContainerd();
  const uid = spec.uid ?? randomUUID();
  const cgroupParent = `/kubepods/besteffort/pod${uid}`;
  const logDirectory = path.join(path.dirname(socketPath), 'pods', `${spec.namespace}_${spec.name}_${uid}`);
  const kubeletPodLabels = {
    'io.kubernetes.pod.name': spec.name,
    'io.kubernetes.pod.namespace': spec.namespace,
    'io.kubernetes.pod.uid': uid,
  };
  const sandboxConfig: PodSandboxConfig = {
    metadata: { name: spec.name, namespace: spec.namespace, uid, attempt: 0 },
    // no hostname: a NODE network namespace shares the host's UTS namespace
    logDirectory,
    labels: { ...spec.labels, ...kubeletPodLabels },
    annotations: { 'kubernetes.io/config.source': 'api', ...spec.annotations },
    linux: {
      cgroupParent,
      securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } },
    },
  };
  fs.mkdirSync(logDirectory, { recursive: true });
  const pod: RunningPod = {
    sandboxId: '',
    name: spec.name,
    namespace: spec.namespace,
    uid,
    labels: spec.labels ?? {},
    cgroupParent,
    logDirectory,
    sandboxPid: undefined,
    containers: [],
    socketPath,
    sandboxConfig,
  };
  const client = lifecycleClient(socketPath);
  try {
    pod.sandboxId = await client.runPodSandbox(sandboxConfig, spec.runtimeHandler ?? '');
    pod.sandboxPid = (await client.podSandboxStatus(pod.sandboxId)).pid;
    for (const c of spec.containers) await startIn(client, pod, c, 0, spec.seccompProfilePath);
    return pod;
  } catch (err) {
    await removePod(pod).catch(() => undefined);
    throw err;
  } finally {
    client.close();
  }
}

async function startIn(client: CriClient, pod: RunningPod, c: PodContainerSpec, attempt: number, podProfile?: string): Promise<RunningContainer> {
  const profile = c.seccompProfilePath ?? podProfile;
  const kubeletPodLabels = { 'io.kubernetes.pod.name': pod.name, 'io.kubernetes.pod.namespace': pod.namespace, 'io.kubernetes.pod.uid': pod.uid };
  const config: ContainerConfig = {
    metadata: { name: c.name, attempt },
    image: { image: c.image ?? TEST_IMAGE },
    command: c.command,
    logPath: `${c.name}/${attempt}.log`,
    labels: { 'io.kubernetes.container.name': c.name, ...kubeletPodLabels },
    annotations: { 'io.kubernetes.container.restartCount': String(attempt) },
    ...(profile ? { linux: { securityContext: { seccomp: { profileType: 'Localhost', localhostRef: profile } } } } : {}),
  };
  fs.mkdirSync(path.join(pod.logDirectory, c.name), { recursive: true });
  const id = await client.createContainer(pod.sandboxId, config, pod.sandboxConfig);
  const rc: RunningContainer = { name: c.name, id, pid: 0 };
  pod.containers.push(rc);
  await client.startContainer(id);
  const status = await client.containerStatus(id);
  if (c.mayExit && status.state === 'CONTAINER_EXITED') return rc;
  if (status.state !== 'CONTAINER_RUNNING' || !status.pid) {
    throw new Error(`container ${c.name} (${id}) is ${status.state} with pid ${status.pid} after StartContainer: ${status.reason} ${status.message}`);
  }
  rc.pid = status.pid;
  return rc;
}

/**
 * Creates and starts one more container in a running pod, as kubelet does for the next init container, the main
 * containers after the init ones, or a restart (`attempt` counts restarts: CRI metadata.attempt).
 */
export async function addContainer(pod: RunningPod, c: PodContainerSpec, attempt = 0, podProfile?: string): Promise<RunningContainer> {
  const client = lifecycleClient(pod.socketPath);
  try {
    return await startIn(client, pod, c, attempt, podProfile);
  } finally {
    client.close();
  }
}

function ignoreNotFound(err: unknown): void {
  if (!(err instanceof CriError && err.reason === 'not-found')) throw err;
}

/** Stops and removes the pod's containers and sandbox, then removes its pod-level cgroups and log directory. */
export async function removePod(pod: RunningPod): Promise<void> {
  const client = lifecycleClient(pod.socketPath);
  try {
    for (const c of pod.containers) {
      await client.stopContainer(c.id, 0).catch(ignoreNotFound);
      await client.removeContainer(c.id).catch(ignoreNotFound);
    }
    if (pod.sandboxId) {
      await client.stopPodSandbox(pod.sandboxId).catch(ignoreNotFound);
      await client.removePodSandbox(pod.sandboxId).catch(ignoreNotFound);
    }
  } finally {
    client.close();
  }
  // kubelet removes pod-level cgroups itself; the runtime only removes the container leaves
  for (const dir of podCgroupDirs(pod.cgroupParent)) {
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
  }
  fs.rmSync(pod.logDirectory, { recursive: true, force: true });
}

/** Where a cgroup parent may exist: v2 /sys/fs/cgroup/<parent>; v1 /sys/fs/cgroup/<hierarchy>/<parent>. */
function podCgroupDirs(cgroupParent: string): string[] {
  const root = '/sys/fs/cgroup';
  return [path.join(root, cgroupParent), ...fs.readdirSync(root).map((h) => path.join(root, h, cgroupParent))];
}

/** The pod-level cgroup directories of a pod that still exist (for cleanup assertions). */
export function leftoverCgroups(pod: Pick<RunningPod, 'cgroupParent'>): string[] {
  return podCgroupDirs(pod.cgroupParent).filter((d) => fs.existsSync(d));
}

/**
 * A unix-socket relay in front of the real CRI socket, so a test can take "the runtime" away and bring it back
 * without disturbing the containerd other tests use: `forward` relays bytes both ways, `blackhole` accepts
 * connections and never answers (a hung runtime); stop() closes the listener (its socket file disappears) and cuts
 * every open connection, as a runtime restart does.
 */
export class SocketRelay {
  private server: net.Server | undefined;
  private readonly open = new Set<net.Socket>();

  constructor(
    readonly socketPath: string,
    readonly target: string,
  ) {}

  async start(mode: 'forward' | 'blackhole' = 'forward'): Promise<void> {
    if (this.server) throw new Error('relay already started');
    fs.rmSync(this.socketPath, { force: true });
    const server = net.createServer((client) => {
      this.open.add(client);
      client.on('close', () => this.open.delete(client));
      client.on('error', () => client.destroy());
      if (mode === 'blackhole') return;
      const upstream = net.connect(this.target);
      this.open.add(upstream);
      upstream.on('close', () => {
        this.open.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.open) s.destroy();
    await closed;
  }
}

/**
 * Leaves a socket file at `socketPath` that nobody listens on (as a crashed runtime does): connecting to it is
 * refused. A child process binds it and is killed before it can clean up.
 */
export function staleSocket(socketPath: string): void {
  fs.rmSync(socketPath, { force: true });
  const code = `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', code], { stdio: 'ignore', timeout: 10_000 });
  if (!fs.existsSync(socketPath)) throw new Error(`could not leave a stale socket at ${socketPath}`);
}

/** Waits (up to 60 s) until the container has exited and returns its exit code. */
export async function waitContainerExited(socketPath: string, id: string, timeoutMs = 60_000): Promise<number> {
  const client = new CriClient({ socketPath, timeoutMs: 10_000 });
  try {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = await client.containerStatus(id);
      if (s.state === 'CONTAINER_EXITED') return s.exitCode;
      if (Date.now() > end) throw new Error(`container ${id} did not exit within ${timeoutMs} ms (state ${s.state})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    client.close();
  }
}
