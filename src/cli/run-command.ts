// `auditflow run`: the node pipeline (tail → parse → enrich → events and recorded profiles).
import { PermanentOutputError } from '../io/errors';
import { KubeconfigError } from '../k8s/kubeconfig';
import { createLogger } from '../log';
import { buildRunConfig, ConfigError, readConfigFile, RUN_DEFAULTS } from '../run/config';
import { startNode } from '../run/node';
import { list, UsageError, type Command } from './command';
import { checkOciPolicy, OCI_BASE_HELP, OCI_BASE_OPTIONS, ociBasesFromFlags } from './oci-flags';

export const runCommand: Command = {
  name: 'run',
  summary:
    'Follow the audit log on this node: parse, enrich with container and pod (procfs + CRI), write events, and\n' +
    'record seccomp/SELinux profiles of selected pods to a directory (the embedded default: no Kafka, no cluster).\n' +
    'Stops on SIGTERM/SIGINT after writing what was read, the profiles and the final checkpoint (exit 0); within\n' +
    '--shutdown-grace whatever happens (exit 1 if a sink was still failing: the checkpoint holds what was written).\n' +
    'An output that cannot be written (a directory, a missing directory, read-only) fails the start (exit 1).',
  usage: 'run [options]',
  help: [
    '  --config FILE          JSON object with any of these options (flags win), e.g. {"record": ["web=app=web"]}',
    'Input',
    `  --audit-log PATH       the log to follow (default ${RUN_DEFAULTS.auditLog}: auditd's log_file when auditd runs, else`,
    '                         kern.log/syslog/messages, else /dev/kmsg; "-" stdin). Alias --input',
    `  --checkpoint PATH      where the read position is kept across restarts (default ${RUN_DEFAULTS.checkpoint}; none)`,
    '  --from-start           without a usable checkpoint, start at the beginning of the file (default: at its end)',
    '  --once                 read what is there and stop (no following)',
    'Enrichment',
    '  --proc-root DIR        the host\'s /proc (default /proc; /host/proc in a pod). Alias --proc',
    '  --no-track-forks       neither install nor use the audit rule (exit_group and execve, key auditflow-fork) whose',
    '                         records let exited short-lived processes be attributed through their parent; it stays',
    '                         installed after auditflow stops (shared by every instance; remove it with auditctl -d)',
    '  --no-install-fork-rule use that rule\'s records but do not install it: another component does (a pod without',
    '                         CAP_AUDIT_CONTROL, next to deploy/\'s auditflow-audit-rules DaemonSet)',
    '  --no-task-events       do not follow containerd\'s task events (each container\'s pid and lifetime): records of',
    '                         containers that exited before they were read then stay unresolved',
    '  --task-events SOURCE   auto (default: containerd\'s task events, else CRI GetContainerEvents, which misses',
    '                         containers that exit within a ContainerStatus round trip) or cri (only the latter)',
    '  --cri-socket PATH      CRI runtime socket; auto (default: containerd, then CRI-O) or none (container ids only)',
    '  --node-name NAME       node name in events (default: the host name). Alias --node',
    '  --kube-fallback        when the CRI runtime cannot answer, find the pod in the Kubernetes API (pods on this',
    '                         node, by pod uid and container id; needs get/list on pods)',
    '  --kubeconfig FILE      for --kube-fallback (default: $KUBECONFIG, in-cluster, ~/.kube/config)',
    'Events',
    '  --output FILE|-|none   where events go, as NDJSON (default - stdout; none when Kafka is configured)',
    '  --format F             v1 (schema auditflow.event/v1, default), ecs, ocsf',
    '  --events E             denials (default): seccomp actions other than log/allow, AVC denied, SELINUX_ERR,',
    '                         AppArmor DENIED; all: every audit event. Denials are in the stream either way.',
    '                         Events of recorded containers go to the recorder whatever this says.',
    '  --raw                  include the original lines as "raw"',
    'Recording',
    '  --record SELECTOR      record the containers of pods matching this label selector (kubectl syntax:',
    '                         app=web,tier in (a,b),!legacy); NAME=SELECTOR names the recording (web=app=web).',
    '                         Repeatable. Each records a SeccompProfile and, when AVCs are denied, a SelinuxProfile',
    '  --recording-name NAME  name of unnamed recordings (default "recorded")',
    '  --record-namespace NS  only pods in this namespace (default: any)',
    '  --record-container C   only containers of this name (repeatable)',
    '  --record-base B        recorded SeccompProfiles stack on B and list only the syscalls it does not allow: a',
    '                         SeccompProfile NAME.yaml in --profile-dir, or oci://REGISTRY/REPO[:TAG|@sha256:…]',
    '                         pulled and verified under the --oci-* policy below. While B cannot be resolved',
    '                         (missing, unsigned, refused) its profiles are not written (logged, counted)',
    OCI_BASE_HELP,
    '  --merge M              containers (default): one profile per container name, all replicas merged, named',
    '                         <recording>-<container>; none: one per container, <recording>-<container>-<replica>',
    `  --profile-dir DIR      where profiles are written (default ${RUN_DEFAULTS.profileDir}): NAME.json (OCI seccomp),`,
    '                         NAME.yaml (SeccompProfile), NAME.cil + NAME.selinux.yaml (SelinuxProfile), written',
    '                         atomically when a container exits and on shutdown',
    'Kafka (optional)',
    '  --kafka-brokers LIST   host:port,... : also send events and recording data to Kafka',
    '  --kafka-config FILE    JSON with the Kafka sink options (topics, tls, sasl, spool, ...)',
    `  --spool-dir DIR        on-disk spool while the broker is unreachable (default ${RUN_DEFAULTS.spoolDir})`,
    'Operation',
    `  --listen ADDR          HTTP host:port for /metrics, /healthz, /readyz (default ${RUN_DEFAULTS.listen}; port 0: any,`,
    '                         logged; none: off). Alias --metrics-address',
    '  --container-poll-ms N  how often CRI is asked for ended containers (default 2000)',
    '  --no-progress          no status line (it is only shown when stderr is a terminal)',
    '  --shutdown-grace S     after SIGTERM/SIGINT, end within S seconds (default 10) even when a sink is still',
    '                         retrying (disk full): what it did not take is not checkpointed, and is read again',
  ].join('\n'),
  options: {
    config: { type: 'string' },
    'audit-log': { type: 'string' },
    input: { type: 'string' },
    checkpoint: { type: 'string' },
    'from-start': { type: 'boolean' },
    'no-track-forks': { type: 'boolean' },
    'no-install-fork-rule': { type: 'boolean' },
    'no-task-events': { type: 'boolean' },
    'task-events': { type: 'string' },
    once: { type: 'boolean' },
    'proc-root': { type: 'string' },
    proc: { type: 'string' },
    'cri-socket': { type: 'string' },
    'node-name': { type: 'string' },
    node: { type: 'string' },
    'kube-fallback': { type: 'boolean' },
    kubeconfig: { type: 'string' },
    output: { type: 'string', short: 'o' },
    format: { type: 'string' },
    events: { type: 'string' },
    raw: { type: 'boolean' },
    record: { type: 'string', multiple: true },
    'recording-name': { type: 'string' },
    'record-namespace': { type: 'string' },
    'record-container': { type: 'string', multiple: true },
    'record-base': { type: 'string' },
    ...OCI_BASE_OPTIONS,
    merge: { type: 'string' },
    'profile-dir': { type: 'string' },
    'kafka-brokers': { type: 'string', multiple: true },
    'kafka-config': { type: 'string' },
    'spool-dir': { type: 'string' },
    listen: { type: 'string' },
    'metrics-address': { type: 'string' },
    'container-poll-ms': { type: 'string' },
    'no-progress': { type: 'boolean' },
    'shutdown-grace': { type: 'string' },
  },
  async run(v, positionals) {
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" (the log is given with --audit-log)`);
    let cfg;
    let file: Record<string, unknown> = {};
    try {
      const flags: Record<string, unknown> = { ...v };
      for (const k of ['record', 'record-container', 'kafka-brokers']) if (v[k] !== undefined) flags[k] = list(v[k]);
      if (v.config) file = readConfigFile(v.config as string);
      cfg = buildRunConfig(flags, file);
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.message);
      throw err;
    }
    // the oci:// base policy: the --config file's oci-* keys, flags winning (buildRunConfig accepted the keys)
    const oci = { ...file, ...v };
    const ociBases = ociBasesFromFlags(oci);
    if (cfg.recordings.some((r) => r.baseProfileName?.startsWith('oci://'))) checkOciPolicy(oci, '--record-base');
    const log = createLogger('auditflow-run');
    let node;
    try {
      node = await startNode(cfg, log, { ociBase: (ref) => ociBases.fetch(ref) });
    } catch (e) {
      // --kube-fallback with no usable kubeconfig, an output that cannot be written: the message says what is
      // wrong, a stack would not
      if (!(e instanceof KubeconfigError) && !(e instanceof PermanentOutputError)) throw e;
      log.error({ err: e }, e.message);
      return 1;
    }
    const onSignal = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, 'signal received');
      node.stop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      const code = await node.done;
      // the grace period ran out: whatever still waits (a sink's retry, open handles) must not keep us alive
      if (node.forced) process.exit(code);
      return code;
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  },
};
