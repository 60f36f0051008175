// CriClient against the real private containerd of test/env/cri.sh, with a real pod started like kubelet would.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseProcCgroup } from '../../src/enrich/cgroup';
import { CriClient, CriError, DEFAULT_CRI_SOCKETS } from '../../src/enrich/cri';
import { criProtoCandidates, locateCriProto, CRI_PROTO_ENV } from '../../src/enrich/cri/proto';
import { ensureContainerd, leftoverCgroups, removePod, runPod, SocketRelay, staleSocket, TEST_IMAGE, type RunningPod } from '../env/cri';

describe('CRI proto location', () => {
  it('the compiled module finds src/enrich/cri/runtime_v1.proto under the package root', () => {
    const found = locateCriProto(path.join(__dirname, '..', '..', 'src', 'enrich', 'cri'));
    assert.equal(found, path.resolve(__dirname, '..', '..', '..', 'src', 'enrich', 'cri', 'runtime_v1.proto'));
    assert.match(fs.readFileSync(found, 'utf8'), /^package runtime\.v1;$/m);
  });

  it(`${CRI_PROTO_ENV} comes first, and a miss names every place looked at`, () => {
    const env = { [CRI_PROTO_ENV]: '/nonexistent/x.proto' };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-noproto-'));
    try {
      assert.equal(criProtoCandidates(dir, env)[0], '/nonexistent/x.proto');
      assert.throws(() => locateCriProto(dir, env), (e: Error) => e.message.includes('/nonexistent/x.proto') && e.message.includes(CRI_PROTO_ENV));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CriClient on a real containerd', () => {
  let socket: string;
  let client: CriClient;
  let pod: RunningPod;
  let profileDir: string;

  before(async () => {
    socket = ensureContainerd();
    client = new CriClient({ socketPath: socket, timeoutMs: 10_000 });
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-seccomp-'));
    const profile = path.join(profileDir, 'log.json');
    fs.writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_LOG' }));
    const t0 = Date.now();
    pod = await runPod({
      name: 'web-1',
      namespace: 'cri-client-test',
      labels: { app: 'web', tier: 'front' },
      containers: [
        { name: 'app', command: ['/bin/sh', '-c', 'while true; do sleep 1; done'] },
        { name: 'sidecar', command: ['/bin/sleep', '3600'] },
      ],
      seccompProfilePath: profile,
    });
    console.log(`runPod (sandbox + 2 containers) took ${Date.now() - t0} ms`);
  });

  after(async () => {
    try {
      if (pod) {
        await removePod(pod);
        assert.deepEqual(leftoverCgroups(pod), [], 'pod-level cgroups removed');
        await assert.rejects(client.podSandboxStatus(pod.sandboxId), (e: CriError) => e.reason === 'not-found');
      }
    } finally {
      client?.close();
      if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
    }
  });

  it('Version names containerd and runtime.v1', async () => {
    const v = await client.version();
    assert.equal(v.runtimeName, 'containerd');
    assert.equal(v.runtimeApiVersion, 'v1');
    assert.match(v.runtimeVersion, /^1\./);
  });

  it('ContainerStatus gives name, image, state, kubelet labels, sandbox id and the host pid', async () => {
    const app = pod.containers.find((c) => c.name === 'app')!;
    const s = await client.containerStatus(app.id);
    assert.equal(s.id, app.id);
    assert.equal(s.name, 'app');
    assert.equal(s.state, 'CONTAINER_RUNNING');
    assert.equal(s.imageName, TEST_IMAGE);
    assert.match(s.imageRef, /^sha256:[0-9a-f]{64}$/);
    assert.equal(s.podSandboxId, pod.sandboxId);
    assert.deepEqual([s.podName, s.podNamespace, s.podUid], ['web-1', 'cri-client-test', pod.uid]);
    assert.equal(s.labels['io.kubernetes.container.name'], 'app');
    assert.ok(s.startedAt > 0n && s.createdAt > 0n && s.startedAt >= s.createdAt);
    // the pid is the container's: its real /proc/<pid>/cgroup names this container in this pod
    assert.equal(s.pid, app.pid);
    const cg = parseProcCgroup(fs.readFileSync(`/proc/${s.pid}/cgroup`, 'utf8'));
    assert.deepEqual(cg.host ? cg : { id: cg.containerId, uid: cg.podUid, qos: cg.qos }, { id: app.id, uid: pod.uid, qos: 'besteffort' });
    // and it runs under the Localhost profile runPod passed
    const spec = s.info?.['runtimeSpec'] as { linux?: { seccomp?: { defaultAction?: string } } } | undefined;
    assert.equal(spec?.linux?.seccomp?.defaultAction, 'SCMP_ACT_LOG');
  });

  it('ContainerStatus without verbose has no pid', async () => {
    const s = await client.containerStatus(pod.containers[0]!.id, { verbose: false });
    assert.equal(s.pid, undefined);
    assert.equal(s.info, undefined);
    assert.equal(s.name, 'app');
  });

  it('PodSandboxStatus gives the pod name, namespace, uid, labels and pid', async () => {
    const s = await client.podSandboxStatus(pod.sandboxId);
    assert.deepEqual([s.id, s.name, s.namespace, s.uid, s.state], [pod.sandboxId, 'web-1', 'cri-client-test', pod.uid, 'SANDBOX_READY']);
    assert.equal(s.labels['app'], 'web');
    assert.equal(s.labels['tier'], 'front');
    assert.equal(s.labels['io.kubernetes.pod.uid'], pod.uid);
    assert.equal(s.annotations['kubernetes.io/config.source'], 'api');
    assert.equal(s.pid, pod.sandboxPid);
    assert.ok(s.pid && fs.existsSync(`/proc/${s.pid}`), 'sandbox process alive');
  });

  it('ListContainers and ListPodSandbox filter by sandbox, state and labels', async () => {
    const cs = await client.listContainers({ podSandboxId: pod.sandboxId });
    assert.deepEqual(cs.map((c) => c.name).sort(), ['app', 'sidecar']);
    for (const c of cs) {
      assert.equal(c.podSandboxId, pod.sandboxId);
      assert.equal(c.state, 'CONTAINER_RUNNING');
      assert.equal(c.podUid, pod.uid);
    }
    const byLabel = await client.listContainers({ labelSelector: { 'io.kubernetes.pod.uid': pod.uid, 'io.kubernetes.container.name': 'sidecar' } });
    assert.deepEqual(byLabel.map((c) => c.id), [pod.containers.find((c) => c.name === 'sidecar')!.id]);
    assert.deepEqual(await client.listContainers({ podSandboxId: pod.sandboxId, state: 'CONTAINER_EXITED' }), []);
    const sbs = await client.listPodSandbox({ labelSelector: { 'io.kubernetes.pod.uid': pod.uid } });
    assert.equal(sbs.length, 1);
    assert.deepEqual([sbs[0]!.id, sbs[0]!.name, sbs[0]!.labels['app']], [pod.sandboxId, 'web-1', 'web']);
    assert.ok((await client.listPodSandbox({ state: 'SANDBOX_READY' })).some((p) => p.id === pod.sandboxId));
  });

  it('an unknown container is a CriError with reason not-found', async () => {
    await assert.rejects(client.containerStatus('0'.repeat(64)), (e: unknown) => {
      assert.ok(e instanceof CriError);
      assert.equal(e.reason, 'not-found');
      assert.equal(e.method, 'ContainerStatus');
      return true;
    });
    assert.ok((client.calls.ContainerStatus ?? 0) >= 1, 'RPCs are counted per method');
  });
});

describe('CriClient error reasons', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-crierr-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('defaults to the containerd socket, or CRI-O with runtime: cri-o', () => {
    const a = new CriClient();
    const b = new CriClient({ runtime: 'cri-o' });
    assert.equal(a.socketPath, DEFAULT_CRI_SOCKETS.containerd);
    assert.equal(b.socketPath, '/var/run/crio/crio.sock');
    a.close();
    b.close();
  });

  it('no socket file: socket-missing, fast', async () => {
    const c = new CriClient({ socketPath: path.join(dir, 'missing.sock'), timeoutMs: 5000 });
    const t0 = Date.now();
    await assert.rejects(c.version(), (e: CriError) => e.reason === 'socket-missing' && e.message.includes('missing.sock'));
    assert.ok(Date.now() - t0 < 4000, 'does not wait for the deadline');
    c.close();
  });

  it('a socket file nobody listens on: unavailable', async () => {
    const sock = path.join(dir, 'stale.sock');
    staleSocket(sock);
    const c = new CriClient({ socketPath: sock, timeoutMs: 5000 });
    await assert.rejects(c.version(), (e: CriError) => e.reason === 'unavailable');
    c.close();
  });

  it('a runtime that accepts but never answers: deadline', async () => {
    const relay = new SocketRelay(path.join(dir, 'hung.sock'), ensureContainerd());
    await relay.start('blackhole');
    const c = new CriClient({ socketPath: relay.socketPath, timeoutMs: 300 });
    try {
      const t0 = Date.now();
      await assert.rejects(c.version(), (e: CriError) => e.reason === 'deadline');
      assert.ok(Date.now() - t0 < 3000);
      // a per-call deadline overrides the client's
      await assert.rejects(c.containerStatus('0'.repeat(64), { timeoutMs: 100 }), (e: CriError) => e.reason === 'deadline');
    } finally {
      c.close();
      await relay.stop();
    }
  });
});
