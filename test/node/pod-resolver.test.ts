// PodResolver against the real private containerd, with a real pod: pid → /proc/<pid>/cgroup → container → pod.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readProcCgroup } from '../../src/enrich/cgroup';
import { CriClient } from '../../src/enrich/cri';
import { PodResolver, type Resolution } from '../../src/enrich/pod-resolver';
import { ensureContainerd, leftoverCgroups, removePod, runPod, SocketRelay, staleSocket, TEST_IMAGE, type RunningPod } from '../env/cri';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function resolved(r: Resolution | { enrichment: string }) {
  assert.equal(r.enrichment, 'resolved', JSON.stringify(r));
  return r as Extract<Resolution, { enrichment: 'resolved' }>;
}

function unresolved(r: Resolution) {
  assert.equal(r.enrichment, 'unresolved', JSON.stringify(r));
  return r as Extract<Resolution, { enrichment: 'unresolved' }>;
}

describe('PodResolver on a real containerd', () => {
  let socket: string;
  let pod: RunningPod;
  let tmp: string;
  const clients: CriClient[] = [];
  const LABELS = { app: 'api', 'b-tier': 'x', team: 'payments', ver: '2', 'zone.example.com/rack': 'r1' };
  const newClient = (opts: ConstructorParameters<typeof CriClient>[0] = {}) => {
    const c = new CriClient({ socketPath: socket, ...opts });
    clients.push(c);
    return c;
  };

  before(async () => {
    socket = ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-resolver-'));
    pod = await runPod({
      name: 'api-7d9f',
      namespace: 'resolver-test',
      // several, so the runtime's map order (Go's, random per call) would show: labels come sorted by key
      labels: { team: 'payments', app: 'api', 'zone.example.com/rack': 'r1', 'b-tier': 'x', ver: '2' },
      containers: [{ name: 'server', command: ['/bin/sh', '-c', 'while true; do sleep 1; done'] }],
    });
  });

  after(async () => {
    try {
      if (pod) {
        await removePod(pod);
        assert.deepEqual(leftoverCgroups(pod), []);
      }
    } finally {
      for (const c of clients) c.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("resolves a real container from its real /proc/<pid>/cgroup, and a pid's cgroup directly", async () => {
    const server = pod.containers[0]!;
    const cg = await readProcCgroup('/proc', server.pid);
    assert.ok(cg && !cg.host);
    assert.equal(cg.containerId, server.id);
    assert.equal(cg.podUid, pod.uid);

    const client = newClient();
    const resolver = new PodResolver({ client });
    const r = resolved(await resolver.resolvePid(server.pid));
    assert.deepEqual(r.container, { id: server.id, name: 'server', runtime: 'containerd', image: TEST_IMAGE, attempt: 0 });
    assert.deepEqual(r.pod, { name: 'api-7d9f', namespace: 'resolver-test', uid: pod.uid, labels: LABELS });
    assert.deepEqual(Object.keys(r.pod!.labels), Object.keys(LABELS), 'labels sorted by key, whatever order the runtime gave them in');
    // this test process is on the host
    assert.deepEqual(await resolver.resolvePid(process.pid), { enrichment: 'host' });
    // a pid that is gone
    const gone = await resolver.resolvePid(2 ** 22 + 1);
    assert.equal(gone.enrichment, 'unresolved');
    assert.equal((gone as { reason: string }).reason, 'process-gone');
  });

  it('the second lookup is a cache hit: no RPC', async () => {
    const client = newClient();
    const resolver = new PodResolver({ client });
    const id = pod.containers[0]!.id;
    const first = await resolver.resolve(id);
    const calls = { ...client.calls };
    assert.equal(calls.ContainerStatus, 1);
    const second = await resolver.resolve(id);
    assert.deepEqual(second, first);
    assert.deepEqual(client.calls, calls, 'no RPC on the second lookup');
    assert.equal(resolver.stats.hits, 1);
    assert.equal(resolver.stats.misses, 1);
    assert.equal(resolver.stats.lookups, 1);
  });

  it('N concurrent lookups of one id make one lookup (single flight)', async () => {
    const client = newClient();
    const resolver = new PodResolver({ client, runtime: 'containerd' });
    const id = pod.containers[0]!.id;
    const N = 25;
    const results = await Promise.all(Array.from({ length: N }, () => resolver.resolve(id)));
    for (const r of results) assert.deepEqual(r, results[0]);
    resolved(results[0]!);
    assert.equal(client.calls.ContainerStatus, 1, 'one ContainerStatus RPC');
    assert.equal(client.calls.PodSandboxStatus, 1, 'one PodSandboxStatus RPC');
    assert.equal(client.calls.Version, undefined, 'runtime given: no Version RPC');
    assert.deepEqual(
      { misses: resolver.stats.misses, coalesced: resolver.stats.coalesced, lookups: resolver.stats.lookups },
      { misses: N, coalesced: N - 1, lookups: 1 },
    );
  });

  it('the sandbox id (the pause process) resolves as the POD container', async () => {
    const client = newClient();
    const resolver = new PodResolver({ client });
    const r = resolved(await resolver.resolvePid(pod.sandboxPid!));
    assert.equal(r.container.id, pod.sandboxId);
    assert.equal(r.container.name, 'POD');
    assert.equal(r.container.sandbox, true);
    assert.equal(r.pod?.uid, pod.uid);
    assert.deepEqual(r.pod?.labels, LABELS);
  });

  it('an id the runtime does not know is cached for the shorter negative TTL', async () => {
    const client = newClient();
    const resolver = new PodResolver({ client, negativeTtlMs: 300 });
    const id = randomBytes(32).toString('hex');
    const r = unresolved(await resolver.resolve(id));
    assert.equal(r.reason, 'not-found');
    assert.equal(r.containerId, id);
    const rpcs = client.calls.ContainerStatus;
    assert.equal(unresolved(await resolver.resolve(id)).reason, 'not-found');
    assert.equal(client.calls.ContainerStatus, rpcs, 'negative hit: no RPC');
    assert.equal(resolver.stats.negativeHits, 1);
    assert.equal(resolver.stats.notFound, 1);
    await sleep(400);
    await resolver.resolve(id);
    assert.equal(client.calls.ContainerStatus, rpcs! + 1, 'looked up again after the negative TTL');
  });

  it('runtime down (socket gone, refused, hung): unresolved with the reason, no throw; back up: resolved again', async () => {
    const relay = new SocketRelay(path.join(tmp, 'cri.sock'), socket);
    await relay.start('forward');
    const client = newClient({ socketPath: relay.socketPath, timeoutMs: 500, maxReconnectBackoffMs: 200 });
    const resolver = new PodResolver({ client, errorTtlMs: 0 });
    const id = pod.containers[0]!.id;
    const sandbox = pod.sandboxId;
    try {
      resolved(await resolver.resolve(id));

      // the runtime hangs: connections cut, then it accepts and never answers. (Only from a healthy channel: after
      // a failed connect gRPC keeps failing calls at once with that last error, unavailable, until it reconnects.)
      await relay.stop();
      await relay.start('blackhole');
      await sleep(200); // let the client see its connection closed (a call racing that fails with "Connection dropped")
      resolver.clear();
      assert.equal(unresolved(await resolver.resolve(id)).reason, 'deadline');

      // the runtime goes away: socket file gone
      await relay.stop();
      const missing = unresolved(await resolver.resolve(sandbox));
      assert.equal(missing.reason, 'socket-missing');
      assert.match(missing.error, /no socket at/);

      // a crashed runtime's socket file, nobody listening
      staleSocket(relay.socketPath);
      assert.equal(unresolved(await resolver.resolve(id)).reason, 'unavailable');
      assert.equal(resolver.stats.errors, 3);

      // back: the same resolver and client recover without being recreated
      await relay.start('forward');
      const t0 = Date.now();
      let r: Resolution;
      do {
        r = await resolver.resolve(id);
        if (r.enrichment === 'resolved') break;
        await sleep(50);
      } while (Date.now() - t0 < 5000);
      const back = resolved(r);
      assert.equal(back.pod?.name, 'api-7d9f');
      console.log(`recovered ${Date.now() - t0} ms after the socket came back`);
    } finally {
      await relay.stop();
    }
  });

  it('a runtime-down answer is cached for errorTtlMs, so a burst costs one attempt', async () => {
    const client = newClient({ socketPath: path.join(tmp, 'nothing-here.sock') });
    const resolver = new PodResolver({ client, errorTtlMs: 200 });
    const id = pod.containers[0]!.id;
    const answers = await Promise.all([resolver.resolve(id), resolver.resolve(id)]);
    answers.push(await resolver.resolve(id));
    for (const a of answers) assert.equal(unresolved(a).reason, 'socket-missing');
    assert.equal(client.calls.ContainerStatus, 1);
    assert.deepEqual([resolver.stats.errors, resolver.stats.negativeHits, resolver.stats.coalesced], [1, 1, 1]);
    await sleep(250);
    await resolver.resolve(id);
    assert.equal(client.calls.ContainerStatus, 2, 'tried again after errorTtlMs');
  });
});
