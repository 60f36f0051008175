// The aggregator leg of the chaos soak (soak.ts): the soak's workload is made a pod's container, `auditflow run`
// publishes its recording tuples to Kafka, and `auditflow aggregate --kubernetes` (one consumer group) turns them
// into a SeccompProfile resource while it is SIGKILLed and restarted, and the kube-apiserver it writes to (and
// that run's --kube-fallback asks for the pod) is restarted. At the end the profile must name exactly the
// syscalls the workload made.
//
// No kubelet or container runtime runs here, so the rig plays their parts, with real kernel and API objects:
// - the container: a cgroup v1 directory laid out as kubelet's cgroupfs driver does
//   (<hierarchy>/auditflow-soak-<tag>/kubepods/besteffort/pod<uid>/<64 hex>) that the workload enters before it
//   execs; src/enrich/cgroup.ts reads the pod uid and container id from /proc/<pid>/cgroup as on a node;
// - the pod: a Pod bound to run's --node-name whose status (written as admin, as kubelet would) names that
//   container id: run finds it with --kube-fallback (src/enrich/kube-fallback.ts), since --cri-socket is none;
// - the container's end: the end marker the node sink sends when the runtime reports a container gone
//   (src/sink/kafka), produced here once the workload has exited and run has delivered everything, with the
//   container and pod exactly as run published them.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { API_VERSION, type SeccompProfile } from '../../src/k8s/api';
import type { KubeClient } from '../../src/k8s/client';
import { HEADER_NODE, HEADER_SCHEMA, RECORDING_SCHEMA, recordingKey, type EndMessage } from '../../src/kafka/messages';
import type { ContainerRef, PodRef } from '../../src/event/v1';
import { startComponent, type Component } from '../env/e2e-procs';
import type { KafkaBroker } from '../env/kafka';
import { clientAs, ensureNamespace, getOrUndefined } from '../env/k8s-setup';
import type { KubeEnv } from '../env/kube';
import { sleep } from '../env/run-node';

// a v1 hierarchy every kernel of the rig has; only the directory's name matters to auditflow, no limit is set
const CGROUP_ROOT = '/sys/fs/cgroup/pids';
const CONTAINER = 'pacer';

export interface AggregationFigures {
  aggregatorStarts: number;
  aggregatorKills: number;
  /** aggregators that exited on their own (restarted a second later, as kubelet would) */
  aggregatorExits: number;
  apiserverRestarts: number;
  /** distinct syscalls the workload made (the audit log's records of its pid) */
  workloadSyscalls: string[];
  /** of those, the ones whose every record auditflow counted lost (no profile can know them) */
  onlyInLost: string[];
  /** the syscalls of workload events run delivered with their pod: what it published as recording tuples */
  attributed: string[];
  /**
   * made, not only in lost records, and never delivered with the pod: every record of them was read while the
   * apiserver could not be asked (run's --kube-fallback) or after the process had exited (a run started late)
   */
  unattributed: string[];
  /** the SeccompProfile's syscall names (undefined: the profile never appeared) */
  profileSyscalls: string[] | undefined;
  /** attributed syscalls missing from the profile, and profile syscalls not attributed */
  missing: string[];
  extra: string[];
  /** from the end marker to the profile written and the group's offsets at the end of the topic */
  settleMs: number;
  /** workload events in the output without their pod (the API fallback failed: apiserver down) */
  unresolvedEvents: number;
}

export class SoakAggregation {
  readonly node: string;
  readonly recording: string;
  private readonly ns: string;
  private readonly admin: KubeClient;
  private readonly cgroupTop: string;
  private readonly cgroupDir: string;
  private readonly kafkaCfg: string;
  private readonly topics: { events: string; recordings: string };
  private readonly profileDir: string;
  private agg: Component | undefined;
  private readonly dead: Component[] = [];
  readonly f = { aggregatorStarts: 0, aggregatorKills: 0, aggregatorExits: 0, apiserverRestarts: 0 };
  private stopping = false;
  log: (line: string) => void = () => undefined;

  private constructor(
    private readonly kube: KubeEnv,
    private readonly kafka: KafkaBroker,
    tag: string,
    dir: string,
    readonly podUid: string,
    readonly containerId: string,
  ) {
    this.node = `soak-node-${tag}`;
    this.recording = `soak-${tag}`;
    this.ns = `soak-${tag}`;
    this.admin = clientAs(kube, 'admin');
    this.cgroupTop = path.join(CGROUP_ROOT, `auditflow-soak-${tag}`);
    this.cgroupDir = path.join(this.cgroupTop, 'kubepods', 'besteffort', `pod${podUid}`, containerId);
    this.topics = { events: `soak-${tag}.events`, recordings: `soak-${tag}.recordings` };
    this.kafkaCfg = path.join(dir, 'kafka.json');
    // tuples leave run's dedup each second: a kill loses little of what it had not sent yet (run re-sends what it
    // sees again from its checkpoint)
    fs.writeFileSync(this.kafkaCfg, JSON.stringify({ topics: this.topics, dedupIntervalMs: 1000 }));
    this.profileDir = path.join(dir, 'profiles');
  }

  /** The pod, its container's cgroup, and the ProfileRecording selecting it. */
  static async setup(kube: KubeEnv, kafka: KafkaBroker, tag: string, dir: string): Promise<SoakAggregation> {
    if (!fs.existsSync(CGROUP_ROOT)) throw new Error(`${CGROUP_ROOT} is missing: the soak's pod needs a cgroup v1 pids hierarchy`);
    await kube.applyCrds();
    const admin = clientAs(kube, 'admin');
    const ns = `soak-${tag}`;
    await ensureNamespace(admin, ns);
    const containerId = randomBytes(32).toString('hex');
    const pod = await admin.create<{ metadata: { uid: string } }>(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'pacer', namespace: ns, labels: { app: `soak-${tag}` } },
      spec: { nodeName: `soak-node-${tag}`, containers: [{ name: CONTAINER, image: 'registry.example/pacer:1' }] },
    });
    await admin.mergePatch(`/api/v1/namespaces/${ns}/pods/pacer/status`, {
      status: {
        phase: 'Running',
        containerStatuses: [
          { name: CONTAINER, image: 'registry.example/pacer:1', imageID: '', ready: true, restartCount: 0, containerID: `containerd://${containerId}`, state: { running: { startedAt: new Date().toISOString() } } },
        ],
      },
    });
    admin.close();
    const a = new SoakAggregation(kube, kafka, tag, dir, pod.metadata.uid, containerId);
    fs.mkdirSync(a.cgroupDir, { recursive: true });
    await a.admin.apply(`/apis/${API_VERSION}/namespaces/${ns}/profilerecordings/${a.recording}`, {
      apiVersion: API_VERSION,
      kind: 'ProfileRecording',
      metadata: { name: a.recording, namespace: ns },
      spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: `soak-${tag}` } }, mergeStrategy: 'Containers' },
    });
    return a;
  }

  /** `auditflow run` flags: this node, the pod from the API, recording tuples to this soak's topics. */
  runArgs(): string[] {
    return ['--node-name', this.node, '--kube-fallback', '--kubeconfig', this.kube.kubeconfigFor('admin'), '--kafka-config', this.kafkaCfg];
  }

  /** argv that enters the container's cgroup and execs `argv` (same pid: the soak tracks it by pid). */
  wrap(argv: string[]): string[] {
    return ['/bin/sh', '-c', `echo $$ > ${this.cgroupDir}/cgroup.procs && exec "$@"`, 'soak-container', ...argv];
  }

  /** Starts an aggregator unless one runs. */
  startAggregator(): void {
    if (this.agg) return;
    this.f.aggregatorStarts++;
    const a = startComponent('aggregate', [
      'aggregate', '--kafka-brokers', this.kafka.brokers.join(','), '--kafka-config', this.kafkaCfg, '--group', `${this.recording}-agg`,
      '--kubernetes', '--kubeconfig', this.kube.kubeconfigFor('admin'), '--profile-dir', this.profileDir,
    ]);
    this.agg = a;
    // an aggregator that exits by itself is counted and started again, as its Deployment's kubelet would: the
    // soak goes on, and the figures and the log say it happened
    void a.exited.then(async ({ code, signal }) => {
      if (this.agg !== a || this.stopping) return;
      this.agg = undefined;
      this.dead.push(a);
      this.f.aggregatorExits++;
      this.log(`aggregator exited by itself (${code ?? signal}): ${a.log().slice(-800)}`);
      await sleep(1000);
      if (!this.stopping && !this.agg) this.startAggregator();
    });
  }

  /** SIGKILL the running aggregator (none running: one that exited by itself is about to be started again). */
  async killAggregator(): Promise<boolean> {
    const a = this.agg;
    if (!a) return false;
    this.agg = undefined;
    a.child.kill('SIGKILL');
    await a.exited;
    this.dead.push(a);
    this.f.aggregatorKills++;
    return true;
  }

  async restartApiserver(): Promise<void> {
    await this.kube.restartApiserver();
    this.f.apiserverRestarts++;
  }

  /** The aggregators' logs (for a failure message), the live one last. */
  logs(n = 3000): string {
    return [...this.dead, ...(this.agg ? [this.agg] : [])].map((c, i) => `--- aggregate ${i + 1}:\n${c.log().slice(-n)}`).join('\n');
  }

  /**
   * The container ended: the end marker, then wait until the group has consumed the topic to its end and the
   * profile exists. `seen` is the container and pod of one of run's resolved workload events.
   */
  async finish(
    seen: { container: ContainerRef; pod: PodRef } | undefined,
    timeoutMs: number,
    log: (line: string) => void,
  ): Promise<{ profile: SeccompProfile | undefined; settleMs: number }> {
    const t0 = Date.now();
    if (!this.agg) this.startAggregator();
    if (!seen) return { profile: undefined, settleMs: 0 };
    const kafka = new Kafka({ clientId: 'soak-end-marker', brokers: this.kafka.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    const end: EndMessage = { schema: RECORDING_SCHEMA, type: 'end', node: this.node, container: seen.container, pod: seen.pod, at: new Date().toISOString(), reason: 'exited' };
    await producer.connect();
    try {
      await producer.send({
        topic: this.topics.recordings,
        acks: -1,
        messages: [{ key: recordingKey(end.pod, end.container), value: JSON.stringify(end), headers: { [HEADER_SCHEMA]: RECORDING_SCHEMA, [HEADER_NODE]: this.node } }],
      });
    } finally {
      await producer.disconnect();
    }
    const admin = kafka.admin();
    await admin.connect();
    const name = `${this.recording}-${CONTAINER}`;
    let profile: SeccompProfile | undefined;
    let said = t0;
    try {
      for (;;) {
        const caughtUp = await this.consumed(admin).catch((e: Error) => `offsets: ${e.message}`);
        profile = await getOrUndefined<SeccompProfile>(this.admin, `/apis/${API_VERSION}/seccompprofiles/${name}`).catch(() => undefined);
        if ((caughtUp === true && profile) || Date.now() - t0 > timeoutMs) break;
        if (Date.now() - said > 10_000) {
          said = Date.now();
          log(`still waiting for the profile: group at the end of the topic: ${caughtUp}; profile ${profile ? 'written' : 'not written'}`);
        }
        await sleep(500);
      }
    } finally {
      await admin.disconnect();
    }
    return { profile, settleMs: Date.now() - t0 };
  }

  /** The group's committed offsets are at the end of every partition of the recordings topic. */
  private async consumed(admin: ReturnType<Kafka['admin']>): Promise<boolean> {
    const ends = await admin.fetchTopicOffsets(this.topics.recordings);
    const [committed] = await admin.fetchOffsets({ groupId: `${this.recording}-agg`, topics: [this.topics.recordings] });
    return ends.every((e) => {
      const c = committed?.partitions.find((p) => p.partition === e.partition);
      return Number(e.high) === 0 || (c !== undefined && Number(c.offset) >= Number(e.high));
    });
  }

  async cleanup(): Promise<void> {
    this.stopping = true;
    // the recording first, while an aggregator runs: its controller removes the finalizer it holds the recording by
    const rec = `/apis/${API_VERSION}/namespaces/${this.ns}/profilerecordings/${this.recording}`;
    await this.admin.delete(rec).catch(() => undefined);
    for (let i = 0; i < 40 && this.agg && (await getOrUndefined(this.admin, rec).catch(() => undefined)); i++) await sleep(250);
    if (this.agg) await this.agg.stop(5000).catch(() => undefined);
    this.agg = undefined;
    await this.admin.delete(`/api/v1/namespaces/${this.ns}`).catch(() => undefined);
    // the workload has exited: the cgroups are empty and can go (rmdir, innermost first)
    for (let d = this.cgroupDir; d.startsWith(this.cgroupTop); d = path.dirname(d)) {
      try {
        fs.rmdirSync(d);
      } catch {
        break;
      }
    }
    this.admin.close();
  }
}

/** The syscall names the profile lists (whatever their action: a recorded profile allows what it saw). */
export function profileSyscalls(p: SeccompProfile): string[] {
  return [...new Set((p.spec.syscalls ?? []).flatMap((s) => s.names))].sort();
}
