// The flagship on Kubernetes, as a user runs it (README "Record on a cluster"): deploy/overlays/standalone applied
// server-side on the cluster rig's kubelet with the image deploy/image/build.sh built from this checkout, and
// nothing in any workload's spec about seccomp.
//
//   1. a ProfileRecording selects app=demo in a namespace opted in for recording (spo.x-k8s.io/enable-recording);
//   2. a Deployment of 2 replicas runs the workload (files, forks, sockets: test/env/demo-workload.ts);
//   3. the webhook gave its pods the logging profile; scaled to 0, they leave a SeccompProfile that the agent
//      DaemonSet installs on the node;
//   4. a ProfileBinding, the Deployment scaled up again: the kubelet runs the pods under operator/<name>.json
//      (the container's Seccomp mode in the host's /proc is 2, filter), Ready, and the workload succeeds;
//   5. a pod calling one syscall never recorded (mknod) fails with EPERM, and `auditflow denials` on the events
//      topic names its namespace, pod, container, syscall and exe;
//   6. a ClusterProfileBinding excluding that namespace leaves its pods untouched and binds another namespace's.
//
// Two things are the rig's, not the user's: the Kafka address, and the runtime. Debian 12's runc 1.1.5 refuses
// profiles with `flags`, and the kernel audits a seccomp EPERM only for a filter with SECCOMP_FILTER_FLAG_LOG,
// which the agent adds with --log-denials; so the agent gets --log-denials and the demo pods name the rig's
// RuntimeClass whose handler runs a runc >= 1.2 (test/env/runc-build.sh). A node whose default runc is >= 1.2
// needs neither the RuntimeClass nor anything else.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CriClient } from '../../src/enrich/cri';
import { API_VERSION } from '../../src/k8s/api';
import { runCli } from '../env/cli';
import { type ClusterEnv, ensureCluster, ensureImage } from '../env/cluster';
import { applyStandalone, deleteStandalone, diagnoseDeploy, writeStandaloneOverlay } from '../env/cluster-deploy';
import { demoWork } from '../env/demo-workload';
import { eventually } from '../env/k8s-setup';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { kubectl } from '../env/kube';

const suffix = randomBytes(3).toString('hex');
const NS = `flagship-${suffix}`; // opted in for recording and binding; excluded by the cluster binding
const OTHER = `flagship-other-${suffix}`; // no opt-in label: only the cluster binding reaches it
const RECORDING = 'demo';
const PROFILE = `${RECORDING}-work`; // <recording>-<container>, mergeStrategy Containers: one for both replicas
const BINDING = 'demo-work';
const CLUSTER_BINDING = `demo-everywhere-${suffix}`;
const BUSYBOX = 'localhost/busybox:cri-test'; // imported into the node's containerd by test/env/cri.sh
const RUNTIME_CLASS = 'runc-seccomp-flags';
const LOG_PROFILE = 'operator/auditflow/log-enricher-trace.json';
const EVENTS_TOPIC = 'auditflow.events'; // deploy/base/configmap.yaml

// The shell stays alive after "done" (pods of a Deployment must not exit, and a process is attributed to its pod
// while alive); scaled to 0, it is killed after the grace period without running anything.
const WORK = demoWork('sleep 3600');
// mknod never ran while recording; the shell then stays a moment so the tailer attributes its child's denial
const VARIANT = demoWork('busybox mknod /scratch/fifo p || { st=$?; sleep 3; exit $st; }\necho unreachable');

describe('the flagship on a real kubelet: record a Deployment, bind its profile, investigate a denial, bind cluster-wide', { timeout: 60 * 60_000 }, () => {
  let cluster: ClusterEnv;
  let kafka: KafkaBroker;
  let overlay: string | undefined;
  let cri: CriClient;
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const mark = (what: string) => {
    timings[what] = Math.round((Date.now() - t0) / 1000);
  };

  const k = async (args: string[], input?: string) => {
    const r = await kubectl(cluster.kube, args, input === undefined ? {} : { input });
    assert.equal(r.status, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const kj = async (args: string[]) => JSON.parse(await k([...args, '-o', 'json']));
  const apply = (obj: unknown) => k(['apply', '--server-side', '--field-manager=flagship-test', '-f', '-'], JSON.stringify(obj));
  const story = async (ns: string) => {
    const parts: string[] = [];
    for (const args of [['get', 'pods', '-n', ns, '-o', 'wide'], ['describe', 'pods', '-n', ns], ['get', 'events', '-n', ns, '--sort-by=.lastTimestamp']]) {
      const r = await kubectl(cluster.kube, args);
      parts.push(`$ kubectl ${args.join(' ')}\n${r.stdout}${r.stderr}`.slice(-5000));
    }
    return `${parts.join('\n')}\n${await diagnoseDeploy(cluster)}`;
  };
  const podsOf = async (ns: string, selector: string) => (await kj(['get', 'pods', '-n', ns, '-l', selector])).items as any[];
  const logsOf = async (ns: string, pod: string) => (await kubectl(cluster.kube, ['logs', '-n', ns, pod])).stdout;

  /** What the webhooks make of a pod now: a server-side dry run (they have sideEffects NoneOnDryRun). */
  const admitted = async (ns: string, labels: Record<string, string>) =>
    JSON.parse(
      await k(['create', '--dry-run=server', '-o', 'json', '-n', ns, '-f', '-'], JSON.stringify(demoPod('dry-run', labels, 'true'))),
    ) as any;

  /** The container's Seccomp mode as the kernel has it (0 none, 2 filter), from the host's /proc via the CRI. */
  const seccompMode = async (ns: string, pod: string): Promise<number> => {
    const cs = await cri.listContainers({ state: 'CONTAINER_RUNNING', labelSelector: { 'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': pod } });
    assert.equal(cs.length, 1, `one running container in ${ns}/${pod}: ${JSON.stringify(cs.map((c) => c.name))}`);
    const st = await cri.containerStatus(cs[0]!.id);
    assert.ok(st.pid, `the runtime's pid of ${ns}/${pod}`);
    const m = /^Seccomp:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${st.pid}/status`, 'utf8'));
    assert.ok(m, `/proc/${st.pid}/status has a Seccomp line`);
    return Number(m[1]);
  };

  const waitLog = (ns: string, pod: string, re: RegExp) =>
    eventually(`${ns}/${pod} to log ${re}`, async () => re.test(await logsOf(ns, pod)), 120_000).catch(async (e: Error) => assert.fail(`${e.message}\n${await story(ns)}`));

  before(async () => {
    cluster = await ensureCluster();
    const image = await ensureImage(cluster);
    kafka = await ensureKafka({ host: cluster.address });
    mark('clusterImageKafka');
    overlay = writeStandaloneOverlay(image, kafka.brokers, [
      { target: '{kind: DaemonSet, name: auditflow-agent}', ops: [{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--log-denials' }] },
    ]);
    await applyStandalone(cluster, overlay);
    mark('deployed');
    cri = new CriClient({ socketPath: cluster.containerdSocket, timeoutMs: 30_000 });
    await apply({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: RUNTIME_CLASS }, handler: RUNTIME_CLASS });
    // SPO's opt-in labels: their presence counts
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'spo.x-k8s.io/enable-recording': '', 'spo.x-k8s.io/enable-binding': '' } } });
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OTHER } });
  });

  after(async () => {
    console.log(`cluster flagship timings (s since start): ${JSON.stringify(timings)}`);
    cri?.close();
    if (!cluster) return;
    // pods first (they hold the in-use finalizers the webhook releases), then what they used, then deploy/ --
    // whose agent must still run to drop its node finalizer from the profile
    await kubectl(cluster.kube, ['delete', 'namespace', NS, OTHER, '--ignore-not-found', '--wait=true', '--timeout=240s']);
    await kubectl(cluster.kube, ['delete', 'clusterprofilebindings.auditflow.dev', CLUSTER_BINDING, '--ignore-not-found', '--wait=true', '--timeout=60s']);
    await kubectl(cluster.kube, ['delete', 'seccompprofiles', '-l', `spo.x-k8s.io/recording-namespace=${NS}`, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    await kubectl(cluster.kube, ['delete', 'runtimeclass', RUNTIME_CLASS, '--ignore-not-found']);
    if (overlay) await deleteStandalone(cluster, overlay);
    await kafka?.stop();
    if (overlay) fs.rmSync(overlay, { recursive: true, force: true });
  });

  function demoPod(name: string, labels: Record<string, string>, script: string, restartPolicy = 'Never') {
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { ...demoPodSpec(script), restartPolicy } };
  }
  function demoPodSpec(script: string) {
    return {
      runtimeClassName: RUNTIME_CLASS,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'work', image: BUSYBOX, imagePullPolicy: 'Never', command: ['/bin/sh', '-c', script] }],
    };
  }
  const containerProfile = (pod: any) => pod.spec.containers[0].securityContext?.seccompProfile;

  it('1–3: a ProfileRecording, a Deployment under the injected log profile, SeccompProfiles Installed by the agent', async () => {
    await apply({
      apiVersion: API_VERSION,
      kind: 'ProfileRecording',
      metadata: { name: RECORDING, namespace: NS },
      spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'demo' } }, mergeStrategy: 'Containers' },
    });
    // the webhook's informers have the recording before the first pod is admitted
    await eventually('the webhook to inject the log profile', async () => containerProfile(await admitted(NS, { app: 'demo' }))?.localhostProfile === LOG_PROFILE, 60_000);

    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'demo', namespace: NS },
      spec: { replicas: 2, selector: { matchLabels: { app: 'demo' } }, template: { metadata: { labels: { app: 'demo' } }, spec: demoPodSpec(WORK) } },
    };
    assert.ok(!/securityContext|seccompProfile/.test(JSON.stringify(deployment)), 'nothing about seccomp in the Deployment');
    await apply(deployment);
    const ro = await kubectl(cluster.kube, ['rollout', 'status', '-n', NS, 'deployment/demo', '--timeout=110s']);
    if (ro.status !== 0) assert.fail(`the recorded Deployment did not roll out:\n${ro.stderr}\n${await story(NS)}`);
    const pods = await podsOf(NS, 'app=demo');
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.deepEqual(containerProfile(p), { type: 'Localhost', localhostProfile: LOG_PROFILE }, `${p.metadata.name}: the log profile injected`);
      assert.match(p.metadata.annotations?.['io.containers.trace-logs/work'] ?? '', new RegExp(`^${RECORDING}_work_`));
      await waitLog(NS, p.metadata.name, /^done$/m);
    }
    mark('recordedPodsDone');
    await k(['scale', '-n', NS, 'deployment/demo', '--replicas=0']);
    await eventually('the recorded pods to go', async () => (await podsOf(NS, 'app=demo')).length === 0, 120_000);

    const sp = await eventually(`SeccompProfile ${PROFILE} Installed`, async () => {
      const r = await kubectl(cluster.kube, ['get', 'seccompprofiles', PROFILE, '-o', 'json']);
      if (r.status !== 0) return undefined;
      const o = JSON.parse(r.stdout);
      return o.status?.status === 'Installed' ? o : undefined;
    }, 180_000).catch(async (e: Error) => assert.fail(`${e.message}\n${await story(NS)}`));
    assert.equal(sp.spec.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(sp.metadata.labels['spo.x-k8s.io/recording-id'], RECORDING);
    assert.equal(sp.metadata.labels['spo.x-k8s.io/recording-namespace'], NS);
    assert.equal(sp.status.localhostProfile, `operator/${PROFILE}.json`);
    const nodeStatus = await k(['get', 'securityprofilenodestatuses', `seccompprofile-${PROFILE}-${cluster.node}`, '-o', 'jsonpath={.status.status}']).catch(() => '');
    // the file the kubelet will read, written by the agent pod (--log-denials adds the LOG flag)
    const file = path.join(cluster.kubeletRootDir, 'seccomp', 'operator', `${PROFILE}.json`);
    const oci = JSON.parse(fs.readFileSync(file, 'utf8')) as { defaultAction: string; flags?: string[]; syscalls: { names: string[] }[] };
    assert.equal(oci.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(oci.flags?.includes('SECCOMP_FILTER_FLAG_LOG'), `agent --log-denials: ${JSON.stringify(oci.flags)} (node status ${nodeStatus})`);
    const names = oci.syscalls.flatMap((s) => s.names);
    assert.ok(!names.includes('mknod') && !names.includes('mknodat'), 'the recording never saw mknod');
    // the recording ends by being deleted (its finalizer merges partials, if any); its pods are no longer injected
    await k(['delete', 'profilerecordings', '-n', NS, RECORDING, '--wait=true', '--timeout=60s']);
    mark('installed');
  });

  it('4: a ProfileBinding, and the restarted Deployment runs under operator/<name>.json, Ready, its workload done', async () => {
    await apply({
      apiVersion: API_VERSION,
      kind: 'ProfileBinding',
      metadata: { name: BINDING, namespace: NS },
      spec: { profileRef: { kind: 'SeccompProfile', name: PROFILE }, image: BUSYBOX },
    });
    await eventually('the webhook to bind and no longer record', async () => {
      const p = await admitted(NS, { app: 'demo' });
      return containerProfile(p)?.localhostProfile === `operator/${PROFILE}.json` && !p.metadata.annotations?.['io.containers.trace-logs/work'];
    }, 60_000);
    await k(['scale', '-n', NS, 'deployment/demo', '--replicas=2']);
    const ro = await kubectl(cluster.kube, ['rollout', 'status', '-n', NS, 'deployment/demo', '--timeout=110s']);
    if (ro.status !== 0) assert.fail(`the bound Deployment did not roll out:\n${ro.stderr}\n${await story(NS)}`);
    const pods = await podsOf(NS, 'app=demo');
    assert.equal(pods.length, 2);
    for (const p of pods) {
      const who = p.metadata.name;
      assert.deepEqual(containerProfile(p), { type: 'Localhost', localhostProfile: `operator/${PROFILE}.json` }, who);
      assert.equal(p.metadata.annotations?.['spo.x-k8s.io/profile-bindings'], BINDING);
      await waitLog(NS, who, /^done$/m);
      const now = await kj(['get', 'pod', '-n', NS, who]);
      const s = now.status.containerStatuses[0];
      assert.equal(s.ready, true, `${who} Ready`);
      assert.equal(s.restartCount, 0, `${who}: the workload succeeded under its profile the first time: ${JSON.stringify(s.lastState)}\n${await logsOf(NS, who)}`);
      assert.equal(await seccompMode(NS, who), 2, `${who}: the kernel filters its syscalls`);
    }
    mark('boundPodsReady');
  });

  it('5: an unrecorded syscall fails with EPERM, and auditflow denials names namespace, pod, container, syscall and exe', async () => {
    const pod = 'demo-variant';
    await k(['apply', '-n', NS, '-f', '-'], JSON.stringify(demoPod(pod, { app: 'demo-variant' }, VARIANT)));
    const done = await eventually(`${pod} to fail`, async () => {
      const p = await kj(['get', 'pod', '-n', NS, pod]);
      return p.status.phase === 'Failed' || p.status.phase === 'Succeeded' ? p : undefined;
    }, 120_000).catch(async (e: Error) => assert.fail(`${e.message}\n${await story(NS)}`));
    assert.deepEqual(containerProfile(done), { type: 'Localhost', localhostProfile: `operator/${PROFILE}.json` }, 'bound by the ProfileBinding (its image)');
    const log = await logsOf(NS, pod);
    assert.equal(done.status.phase, 'Failed', log);
    assert.match(log, /Operation not permitted/);
    assert.doesNotMatch(log, /unreachable/);
    assert.match(log, /^done$/m, 'everything recorded ran before');

    type Denial = { pod: { name: string; namespace: string } | null; container: { name: string | null } | null; syscall: string; exe: string; action: string };
    const found = await eventually('the denial in auditflow denials', async () => {
      const r = runCli(['denials', '-o', 'ndjson', '--kafka-brokers', kafka.brokers.join(','), '--topic', EVENTS_TOPIC, '--since', '1h', '--namespace', NS, '--pod', pod]);
      assert.equal(r.code, 0, r.stderr);
      const d = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Denial);
      return d.some((x) => /^mknod(at)?$/.test(x.syscall)) ? d : undefined;
    }, 90_000).catch(async (e: Error) => assert.fail(`${e.message}\n${await diagnoseDeploy(cluster)}`));
    for (const d of found.filter((x) => /^mknod(at)?$/.test(x.syscall))) {
      assert.equal(d.pod?.namespace, NS);
      assert.equal(d.pod?.name, pod);
      assert.equal(d.container?.name, 'work');
      assert.equal(d.action, 'errno');
      assert.equal(d.exe, '/bin/busybox');
    }
    // and as a user reads it
    const table = runCli(['denials', '--kafka-brokers', kafka.brokers.join(','), '--topic', EVENTS_TOPIC, '--since', '1h', '--namespace', NS, '--pod', pod]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /mknod/);
    mark('denial');
  });

  it('6: a ClusterProfileBinding excluding that namespace leaves it untouched and binds elsewhere', async () => {
    // the namespaced binding goes (it would win in NS anyway); its lock holds it until its pods are gone
    await k(['delete', '-n', NS, 'deployment/demo', 'pod/demo-variant', '--wait=true', '--timeout=60s']);
    await k(['delete', '-n', NS, 'profilebindings', BINDING, '--wait=true', '--timeout=90s']);
    await apply({
      apiVersion: 'auditflow.dev/v1alpha1',
      kind: 'ClusterProfileBinding',
      metadata: { name: CLUSTER_BINDING },
      spec: { image: BUSYBOX, profileRef: { kind: 'SeccompProfile', name: PROFILE }, exclude: [NS] },
    });
    await eventually('the webhook to bind cluster-wide', async () => containerProfile(await admitted(OTHER, {}))?.localhostProfile === `operator/${PROFILE}.json`, 60_000);
    // the excluded namespace's binding is gone from the webhook's cache too: a pod there gets nothing
    await eventually('nothing bound in the excluded namespace', async () => {
      const p = await admitted(NS, {});
      return !containerProfile(p) && !p.spec.securityContext?.seccompProfile;
    }, 60_000);

    for (const ns of [NS, OTHER]) await k(['apply', '-n', ns, '-f', '-'], JSON.stringify(demoPod('demo', { app: 'demo-cluster' }, WORK)));
    for (const ns of [NS, OTHER]) {
      const w = await kubectl(cluster.kube, ['wait', '-n', ns, '--for=condition=Ready', 'pod/demo', '--timeout=110s']);
      if (w.status !== 0) assert.fail(`${ns}/demo not Ready: ${w.stderr}\n${await story(ns)}`);
      await waitLog(ns, 'demo', /^done$/m);
    }
    const excluded = await kj(['get', 'pod', '-n', NS, 'demo']);
    assert.equal(containerProfile(excluded), undefined, 'excluded: no profile in the container');
    assert.equal(excluded.spec.securityContext?.seccompProfile, undefined, 'excluded: no profile in the pod');
    assert.equal(excluded.metadata.annotations?.['auditflow.dev/cluster-profile-bindings'], undefined);
    assert.equal(await seccompMode(NS, 'demo'), 0, 'excluded: the kubelet runs it unconfined, as before');

    const bound = await kj(['get', 'pod', '-n', OTHER, 'demo']);
    assert.deepEqual(containerProfile(bound), { type: 'Localhost', localhostProfile: `operator/${PROFILE}.json` });
    assert.equal(bound.metadata.annotations?.['auditflow.dev/cluster-profile-bindings'], CLUSTER_BINDING);
    assert.equal(bound.status.containerStatuses[0].restartCount, 0, await logsOf(OTHER, 'demo'));
    assert.equal(await seccompMode(OTHER, 'demo'), 2, 'bound elsewhere: the kernel filters its syscalls');
    mark('clusterBinding');
  });
});
