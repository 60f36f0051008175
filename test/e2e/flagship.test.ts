// The product promise in one test, on the real parts: auditd, containerd through CRI, Apache Kafka, kube-apiserver
// + etcd, and auditflow's components as separate processes (node pipeline `auditflow run`, `auditflow aggregate
// --kubernetes` with the recording controller, node agent `auditflow agent`), as the DaemonSets and the
// Deployment run them.
//
//   1. a ProfileRecording selects app=demo;
//   2. a pod labelled app=demo runs a busybox workload (file, process and socket work) and a second container,
//      under a Localhost SCMP_ACT_LOG profile, and finishes;
//   3. tail → enrich → Kafka → aggregator → SeccompProfile resources → the node agent installs them under the
//      kubelet seccomp root;
//   4. the same workload under the installed profiles (default action SCMP_ACT_ERRNO) exits 0;
//   5. a variant that also calls mknod (never recorded) fails with EPERM, and the denial — that pod, container,
//      syscall and binary — arrives on the events topic and in `auditflow denials`.
//
// Pods use the CRI runtime handler runc-seccomp-flags (test/env/runc-build.sh): Debian's runc 1.1.5 cannot set
// SECCOMP_FILTER_FLAG_LOG, which the agent (--log-denials) adds so that the kernel audits the EPERM.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { API_VERSION, type SeccompProfile } from '../../src/k8s/api';
import type { KubeClient } from '../../src/k8s/client';
import { CriClient } from '../../src/enrich/cri';
import { runCli } from '../env/cli';
import { demoWork } from '../env/demo-workload';
import { ensureContainerd, removePod, runPod, type PodContainerSpec, type RunningPod } from '../env/cri';
import { logsOf, startComponent, type Component } from '../env/e2e-procs';
import { clientAs, ensureDeployed, ensureNamespace, eventually, forgetNode, getOrUndefined, uniqueName } from '../env/k8s-setup';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { freePort } from '../env/net';
import type { KubeEnv } from '../env/kube';
import { ensureAuditd } from '../env/rig';
import { startRun, waitReady, type RunProc } from '../env/run-node';

const NODE = 'e2e-node';
const NS = 'e2e-demo';
const PROFILES = `/apis/${API_VERSION}/seccompprofiles`;

// The final sleep keeps the container's shell alive while the node reads its records: a process is attributed from
// /proc while alive, and its exited children through it (fork records, src/enrich/lineage.ts). A container
// whose every process is gone before its first record is read cannot be attributed to its pod.
const WORK = demoWork('sleep 2');
const HELPER = 'i=0; while [ $i -lt 5 ]; do cat /etc/hostname > /dev/null; i=$((i+1)); done; echo helper-done; sleep 2';
const VARIANT = `${WORK}\nbusybox mknod /scratch/fifo p\necho unreachable`; // (set -e: stops at mknod)

describe('end to end: record a pod, enforce its profile, investigate a denial', () => {
  let env: KubeEnv;
  let admin: KubeClient;
  let broker: KafkaBroker;
  let socket: string;
  let tmp: string;
  let kubeletDir: string;
  let eventsFile: string;
  let run: RunProc | undefined;
  const components: Component[] = [];
  const pods: RunningPod[] = [];
  const recording = uniqueName('demo');
  const topics = { events: `${recording}.events`, recordings: `${recording}.recordings` };
  const timings: Record<string, number> = {};
  const logs = () => logsOf([...components, ...(run ? [{ name: 'run', log: run.stderr, child: run.child } as unknown as Component] : [])]);

  before(async () => {
    await ensureAuditd();
    socket = ensureContainerd();
    [env, broker] = await Promise.all([ensureDeployed(), ensureKafka()]);
    admin = clientAs(env, 'admin');
    await ensureNamespace(admin, NS);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-e2e-'));
    kubeletDir = path.join(tmp, 'kubelet');
    eventsFile = path.join(tmp, 'events.ndjson');
    const kafkaCfg = path.join(tmp, 'kafka.json');
    fs.writeFileSync(kafkaCfg, JSON.stringify({ topics, dedupIntervalMs: 500 }));

    run = startRun([
      '--audit-log', '/var/log/audit/audit.log', '--checkpoint', path.join(tmp, 'checkpoint.json'),
      '--cri-socket', socket, '--node-name', NODE, '--kafka-brokers', broker.brokers.join(','),
      '--kafka-config', kafkaCfg, '--spool-dir', path.join(tmp, 'spool'), '--output', eventsFile,
      '--container-poll-ms', '500', '--profile-dir', path.join(tmp, 'node-profiles'),
    ]);
    components.push(
      startComponent('aggregate', [
        'aggregate', '--kafka-brokers', broker.brokers.join(','), '--kafka-config', kafkaCfg, '--group', `${recording}-agg`,
        '--kubernetes', '--kubeconfig', env.kubeconfigFor('auditflow-aggregator'), '--listen', `127.0.0.1:${await freePort()}`,
      ]),
      startComponent('agent', [
        'agent', '--node-name', NODE, '--kubelet-dir', kubeletDir, '--namespace', 'auditflow', '--log-denials',
        '--kubeconfig', env.kubeconfigFor('auditflow-agent'), '--listen', `127.0.0.1:${await freePort()}`,
      ]),
    );
    await waitReady(run);
  });

  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    await Promise.all([run ? (run.child.kill('SIGTERM'), run.exited) : undefined, ...components.map((c) => c.stop())]);
    if (admin) {
      await admin.delete(`/apis/${API_VERSION}/namespaces/${NS}/profilerecordings/${recording}`).catch(() => undefined);
      await forgetNode(admin, NODE).catch(() => undefined);
    }
    await broker?.stop();
    if (process.env.AUDITFLOW_KEEP_SCRATCH !== '1') fs.rmSync(tmp, { recursive: true, force: true });
    console.log(`e2e timings (s): ${JSON.stringify(timings)}`);
  });

  async function runJob(name: string, containers: PodContainerSpec[]): Promise<Map<string, { exitCode: number; log: string }>> {
    const pod = await runPod({ name, namespace: NS, labels: { app: 'demo' }, containers, socketPath: socket, runtimeHandler: 'runc-seccomp-flags' });
    pods.push(pod);
    const cri = new CriClient({ socketPath: socket, timeoutMs: 30_000 });
    try {
      const out = new Map<string, { exitCode: number; log: string }>();
      for (const c of pod.containers) {
        const st = await eventually(`container ${name}/${c.name} to exit`, async () => {
          const s = await cri.containerStatus(c.id);
          return s.state === 'CONTAINER_EXITED' ? s : undefined;
        }, 60_000);
        out.set(c.name, { exitCode: st.exitCode, log: fs.readFileSync(path.join(pod.logDirectory, c.name, '0.log'), 'utf8') });
      }
      return out;
    } finally {
      cri.close();
    }
  }

  let profileNames: string[] = [];

  it('1–3: a ProfileRecording, a recorded pod, and SeccompProfiles installed by the node agent', async () => {
    await admin.apply(`/apis/${API_VERSION}/namespaces/${NS}/profilerecordings/${recording}`, {
      apiVersion: API_VERSION,
      kind: 'ProfileRecording',
      metadata: { name: recording, namespace: NS },
      spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'demo' } }, mergeStrategy: 'Containers' },
    });
    const logProfile = path.join(tmp, 'log-all.json');
    fs.writeFileSync(logProfile, JSON.stringify({ defaultAction: 'SCMP_ACT_LOG' }));
    const t0 = Date.now();
    const res = await runJob(`${recording}-rec`, [
      { name: 'work', command: ['sh', '-c', WORK], seccompProfilePath: logProfile, mayExit: true },
      { name: 'helper', command: ['sh', '-c', HELPER], seccompProfilePath: logProfile, mayExit: true },
    ]);
    assert.equal(res.get('work')!.exitCode, 0, res.get('work')!.log);
    assert.equal(res.get('helper')!.exitCode, 0, res.get('helper')!.log);
    timings.workloadRecorded = (Date.now() - t0) / 1000;

    profileNames = [`${recording}-work`, `${recording}-helper`];
    for (const name of profileNames) {
      const p = await eventually(`SeccompProfile ${name} Installed on ${NODE}`, async () => {
        const sp = await getOrUndefined<SeccompProfile>(admin, `${PROFILES}/${name}`);
        return sp?.status?.status === 'Installed' ? sp : undefined;
      }, 120_000).catch((e: Error) => assert.fail(`${e.message}\n${logs()}`));
      assert.equal(p.spec.defaultAction, 'SCMP_ACT_ERRNO');
      assert.equal(p.metadata.labels?.['spo.x-k8s.io/recording-id'], recording);
      assert.equal(p.status?.localhostProfile, `operator/${name}.json`);
      const file = path.join(kubeletDir, 'seccomp', 'operator', `${name}.json`);
      const oci = JSON.parse(fs.readFileSync(file, 'utf8')) as { defaultAction: string; flags?: string[]; syscalls: { names: string[] }[] };
      assert.equal(oci.defaultAction, 'SCMP_ACT_ERRNO');
      assert.ok(oci.flags?.includes('SECCOMP_FILTER_FLAG_LOG'), 'agent --log-denials adds SECCOMP_FILTER_FLAG_LOG');
      const names = oci.syscalls.flatMap((s) => s.names);
      assert.ok(!names.includes('mknod') && !names.includes('mknodat'), 'the recording never saw mknod');
    }
    timings.recordToInstalled = (Date.now() - t0) / 1000;
  });

  const installed = (name: string) => path.join(kubeletDir, 'seccomp', 'operator', `${name}.json`);

  it('4: the same workload under the installed profiles exits 0', async () => {
    assert.equal(profileNames.length, 2, 'step 3 produced the profiles');
    const res = await runJob(`${recording}-enforced`, [
      { name: 'work', command: ['sh', '-c', WORK], seccompProfilePath: installed(profileNames[0]!), mayExit: true },
      { name: 'helper', command: ['sh', '-c', HELPER], seccompProfilePath: installed(profileNames[1]!), mayExit: true },
    ]);
    assert.equal(res.get('work')!.exitCode, 0, `work under its recorded profile:\n${res.get('work')!.log}`);
    assert.match(res.get('work')!.log, /done/);
    assert.equal(res.get('helper')!.exitCode, 0, `helper under its recorded profile:\n${res.get('helper')!.log}`);
  });

  it('5: an unrecorded syscall fails with EPERM and its denial reaches the events topic and auditflow denials', async () => {
    assert.equal(profileNames.length, 2, 'step 3 produced the profiles');
    const pod = `${recording}-variant`;
    const t0 = Date.now();
    const res = await runJob(pod, [{ name: 'work', command: ['sh', '-c', VARIANT], seccompProfilePath: installed(profileNames[0]!), mayExit: true }]);
    const work = res.get('work')!;
    assert.notEqual(work.exitCode, 0);
    assert.match(work.log, /Operation not permitted/);
    assert.doesNotMatch(work.log, /unreachable/);

    type Denial = { pod: { name: string; namespace: string } | null; container: { name: string | null } | null; syscall: string; exe: string; action: string };
    const query = async (args: string[]) => {
      const r = await runCli(['denials', '-o', 'ndjson', '--namespace', NS, '--pod', pod, ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Denial);
    };
    const check = (found: Denial[], where: string) => {
      const mk = found.filter((d) => /^mknod(at)?$/.test(d.syscall));
      assert.ok(mk.length >= 1, `${where}: a mknod denial of pod ${pod}; got ${JSON.stringify(found).slice(0, 1500)}\n${logs()}`);
      for (const d of mk) {
        assert.equal(d.pod?.namespace, NS);
        assert.equal(d.container?.name, 'work');
        assert.equal(d.action, 'errno');
        assert.equal(d.exe, '/bin/busybox');
      }
    };
    const fromKafka = await eventually('the denial on the events topic', async () => {
      const d = await query(['--kafka-brokers', broker.brokers.join(','), '--topic', topics.events, '--since', '1h']);
      return d.some((x) => /^mknod/.test(x.syscall)) ? d : undefined;
    }, 60_000);
    check(fromKafka, 'events topic');
    timings.denialOnTopic = (Date.now() - t0) / 1000;
    const fromFile = await eventually('the denial in the node\'s NDJSON output', async () => {
      const d = await query([eventsFile]);
      return d.some((x) => /^mknod/.test(x.syscall)) ? d : undefined;
    }, 30_000);
    check(fromFile, 'NDJSON file');
  });
});
