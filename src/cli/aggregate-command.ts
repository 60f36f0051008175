// `auditflow aggregate`: the Kafka aggregator as a long-running process (one of many in a consumer group).
// Stops cleanly on SIGTERM/SIGINT: finishes the batch in hand, commits, leaves the group.

import { Aggregator, readRecordingsFile, StaticRecordingSource } from '../aggregate';
import { parseRecordingFlags, RecordingSpecError } from '../recording/flags';
import { baseLookup, baseNameError } from '../recording/base';
import { ProfileDirectory } from '../recording/profile-dir';
import { HttpServer, parseListen } from '../http/server';
import { createLogger } from '../log';
import { enableDefaultMetrics } from '../metrics';
import { startRecordingController, type RecordingController } from '../k8s/recording-controller';
import type { MergeStrategy, ProfileSink, RecordingKind, RecordingSource } from '../profile/recording';
import { KafkaConfigError, parseBrokers, readKafkaConfig } from '../kafka/config';
import { list, UsageError, type Command } from './command';
import { checkOciPolicy, OCI_BASE_HELP, OCI_BASE_OPTIONS, ociBasesFromFlags } from './oci-flags';
import { stopSignal } from './stop-signal';

export const aggregateCommand: Command = {
  name: 'aggregate',
  summary:
    'Build profiles from the recording data nodes publish to Kafka (auditflow run --kafka-brokers). Run any number\n' +
    'of instances with the same --group: they share the partitions and take over from one that dies.',
  usage: 'aggregate --kafka-brokers LIST (--kubernetes | --recording NAME=SELECTOR | --recordings FILE) [options]',
  help: [
    '  --kafka-brokers LIST   host:port[,host:port...] (required)',
    '  --kafka-config FILE    JSON: {clientId, topics: {recordings}, tls, sasl: {mechanism, username, password}}',
    '  --group NAME           consumer group (default auditflow-aggregator)',
    '  --recording NAME=SEL   record the pods matching the label selector SEL (kubectl syntax) as profiles',
    '                         NAME-<container>; repeatable',
    '  --record-base B        the SeccompProfile recordings of --recording stack on B (as baseProfileName below)',
    '  --recordings FILE      JSON array of {name, namespace?, kind?, podSelector, containers?, mergeStrategy?,',
    '                         baseProfileName?}: a SeccompProfile NAME.yaml in --profile-dir or',
    '                         oci://REGISTRY/REPO[:TAG|@sha256:…] (--oci-* policy below); the profile then lists',
    '                         only what the base does not allow',
    '  --kubernetes           recording controller: the recordings are the cluster\'s ProfileRecordings, and the',
    '                         profiles become SeccompProfile/SelinuxProfile resources (server-side apply), with',
    '                         progress in each recording\'s status; --profile-dir then also keeps files',
    '  --kubeconfig FILE      for --kubernetes (default $KUBECONFIG, else in-cluster, else ~/.kube/config)',
    '  --kind K               seccomp (default) or selinux, for --recording',
    '  --merge-strategy M     containers (default: one profile per container name, all replicas merged) or none',
    '                         (one per replica, NAME-<container>-<replica>)',
    '  --profile-dir DIR      where profiles are written (default ./profiles): NAME.yaml, NAME.json | NAME.cil,',
    '                         NAME.evidence.json (SelinuxProfile: NAME.selinux.yaml, NAME.selinux.evidence.json)',
    '  --state-dir DIR        keep session state in local files instead of the compacted topic',
    '                         auditflow.aggregator-state.GROUP (only for a single instance or a shared volume)',
    '  --state-topic NAME     the compacted state topic (default auditflow.aggregator-state.GROUP)',
    '  --listen [HOST:]PORT   serve /metrics (Prometheus), /healthz and /readyz',
    'Base profiles: with --kubernetes, the ProfileRecording annotation auditflow.dev/base-profile-name (an auditflow',
    'extension) names a cluster SeccompProfile or oci://…; oci:// bases are pulled and verified under this policy:',
    OCI_BASE_HELP,
    '  While a base cannot be resolved its profiles are not written (logged, counted in',
    '  auditflow_recording_base_errors_total; with --kubernetes: the recording\'s Synced condition).',
  ].join('\n'),
  options: {
    'kafka-brokers': { type: 'string' },
    'kafka-config': { type: 'string' },
    group: { type: 'string' },
    recording: { type: 'string', multiple: true },
    'record-base': { type: 'string' },
    recordings: { type: 'string' },
    kubernetes: { type: 'boolean' },
    kubeconfig: { type: 'string' },
    kind: { type: 'string' },
    'merge-strategy': { type: 'string' },
    'profile-dir': { type: 'string' },
    'state-dir': { type: 'string' },
    'state-topic': { type: 'string' },
    listen: { type: 'string' },
    ...OCI_BASE_OPTIONS,
  },
  async run(v) {
    if (!v['kafka-brokers']) throw new UsageError('--kafka-brokers is required');
    const kindFlag = (v.kind as string | undefined) ?? 'seccomp';
    if (kindFlag !== 'seccomp' && kindFlag !== 'selinux') throw new UsageError('--kind must be seccomp or selinux');
    const kind: RecordingKind = kindFlag === 'seccomp' ? 'SeccompProfile' : 'SelinuxProfile';
    const merge = ((v['merge-strategy'] as string | undefined) ?? 'containers') as MergeStrategy;
    if (merge !== 'containers' && merge !== 'none') throw new UsageError('--merge-strategy must be containers or none');
    let brokers: string[];
    let cfg: ReturnType<typeof readKafkaConfig> = {};
    let specs;
    try {
      brokers = parseBrokers(String(v['kafka-brokers']));
      if (v['kafka-config']) cfg = readKafkaConfig(String(v['kafka-config']));
      const base = v['record-base'] as string | undefined;
      const bad = base === undefined ? undefined : baseNameError(base);
      if (bad) throw new UsageError(`--record-base "${base!.slice(0, 300)}": ${bad}`);
      if (base !== undefined && (kind !== 'SeccompProfile' || !v.recording)) throw new UsageError('--record-base is for --recording with --kind seccomp');
      specs = parseRecordingFlags(list(v.recording), { flag: '--recording', kinds: [kind], merge, ...(base !== undefined ? { base } : {}) });
      if (v.recordings) specs.push(...readRecordingsFile(String(v.recordings), kind, merge));
    } catch (e) {
      if (e instanceof KafkaConfigError || e instanceof RecordingSpecError) throw new UsageError(e.message);
      throw e;
    }
    const kube = v.kubernetes === true;
    if (v.kubeconfig && !kube) throw new UsageError('--kubeconfig needs --kubernetes');
    if (kube && specs.length) throw new UsageError('--kubernetes takes its recordings from ProfileRecordings: drop --recording/--recordings');
    if (!kube && specs.length === 0) throw new UsageError('no recordings: give --kubernetes, --recording NAME=SELECTOR or --recordings FILE');
    const ociBases = ociBasesFromFlags(v);
    if (specs.some((s) => s.baseProfileName?.startsWith('oci://'))) checkOciPolicy(v, '--record-base or --recordings');
    const names = new Set<string>();
    for (const s of specs) {
      if (names.has(s.name)) throw new UsageError(`recording "${s.name}" given twice`);
      names.add(s.name);
    }
    // [HOST:]PORT: a bare port listens on every address
    const listen = v.listen === undefined ? undefined : /^\d+$/.test(String(v.listen)) ? `0.0.0.0:${String(v.listen)}` : String(v.listen);
    if (listen !== undefined) {
      try {
        parseListen(listen);
      } catch (e) {
        throw new UsageError((e as Error).message, { cause: e });
      }
    }

    const log = createLogger('auditflow-aggregate');
    enableDefaultMetrics();
    const server = listen ? new HttpServer({ listen, log }) : undefined;
    await server?.start();
    let source: RecordingSource = new StaticRecordingSource(specs);
    let sink: ProfileSink = new ProfileDirectory((v['profile-dir'] as string | undefined) ?? 'profiles');
    let controller: RecordingController | undefined;
    if (kube) {
      controller = await startRecordingController({ kubeconfig: v.kubeconfig as string | undefined, log });
      source = controller.source;
      const files = v['profile-dir'] ? new ProfileDirectory(String(v['profile-dir'])) : undefined;
      const api = controller.sink;
      // the API is the source of truth; files are a convenience copy written after it accepted the profile
      sink = files ? { write: async (p) => { await api.write(p); await files.write(p); }, notWritten: async (r, reason, msg) => { await api.notWritten?.(r, reason, msg); } } : api;
    }
    const agg = new Aggregator(
      {
        brokers,
        clientId: cfg.clientId ?? 'auditflow-aggregator',
        tls: cfg.tls,
        sasl: cfg.sasl,
        group: (v.group as string | undefined) ?? 'auditflow-aggregator',
        recordingsTopic: cfg.topics?.recordings,
        stateTopic: v['state-topic'] as string | undefined,
        stateDir: v['state-dir'] as string | undefined,
        source,
        sink,
        // bases named by recordings: oci:// under the --oci-* policy; other names are SeccompProfiles of the
        // cluster (--kubernetes: where the agent stacks the recorded profile on them) or of the profile directory
        bases: baseLookup(controller ? controller.seccompProfile : ((v['profile-dir'] as string | undefined) ?? 'profiles'), (ref) => ociBases.fetch(ref)),
      },
      log,
    );
    await agg.start();
    await stopSignal();
    log.info(agg.stats(), 'stopping');
    await agg.stop();
    await controller?.stop();
    await server?.close();
    return 0;
  },
};
