// `auditflow run` settings: command-line flags over an optional JSON config file with the same keys
// (`{"audit-log": "...", "record": ["web=app=web"], "listen": "0.0.0.0:9100"}`), validated into RunConfig.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { EVENT_FORMATS, isEventFormat, type EventFormat } from '../sink/format';
import { KafkaConfigError, parseBrokers, readKafkaConfig, type KafkaConfigFile } from '../kafka/config';
import type { MergeStrategy, RecordingSpec } from '../profile/recording';
import { baseNameError } from '../recording/base';
import { parseRecordingFlags, type RecordingFlagOptions, RecordingSpecError, RUN_RECORD_FLAG } from '../recording/flags';
import type { EventsMode } from './route';

export class ConfigError extends Error {}

export interface RunConfig {
  auditLog: string;
  checkpoint: string | null;
  fromStart: boolean;
  once: boolean;
  /** install the fork audit rule and attribute exited short-lived processes by lineage (enrich/lineage.ts) */
  trackForks: boolean;
  /** with trackForks: use the rule's records but leave installing it to another component (deploy/'s audit-rules DaemonSet) */
  installForkRule: boolean;
  /** follow containerd's task events: containers that exit before their records are read (enrich/container-tasks.ts) */
  taskEvents: boolean;
  /** auto: containerd's task events, else CRI's GetContainerEvents; cri: CRI's only (enrich/container-tasks.ts) */
  taskEventSource: 'auto' | 'cri';
  procRoot: string;
  /** a socket path, 'auto' or 'none' */
  criSocket: string;
  node: string;
  output: string | null;
  format: EventFormat;
  events: EventsMode;
  raw: boolean;
  recordings: RecordingSpec[];
  profileDir: string;
  listen: string | null;
  kafkaBrokers: string[];
  /** `--kafka-config FILE`, read and validated at start (a typo is a usage error, not a crash later). */
  kafkaConfig: KafkaConfigFile | null;
  spoolDir: string;
  progress: boolean;
  /** ms between CRI polls for ended containers */
  containerPollMs: number;
  /** ask the Kubernetes API (pods on this node) when the CRI runtime cannot answer */
  kubeFallback: boolean;
  /** null: $KUBECONFIG, in-cluster, ~/.kube/config */
  kubeconfig: string | null;
  /** after SIGTERM/SIGINT, the process ends within this many ms whatever a sink is waiting for */
  shutdownGraceMs: number;
}

export const RUN_DEFAULTS = {
  auditLog: 'auto',
  checkpoint: '/var/lib/auditflow/checkpoint.json',
  profileDir: '/var/lib/auditflow/profiles',
  spoolDir: '/var/lib/auditflow/spool',
  listen: '127.0.0.1:9090',
};

/** Flag names and their aliases (the deploy/ manifests' spelling). */
export const FLAG_ALIASES: Record<string, string> = {
  input: 'audit-log',
  proc: 'proc-root',
  node: 'node-name',
  'metrics-address': 'listen',
};

type Raw = Record<string, unknown>;

function str(raw: Raw, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`${key}: expected a string, got ${JSON.stringify(v)}`);
  return String(v);
}

function bool(raw: Raw, key: string): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ConfigError(`${key}: expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

function strings(raw: Raw, key: string): string[] {
  const v = raw[key];
  if (v === undefined || v === null) return [];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  if (typeof v === 'string') return [v];
  throw new ConfigError(`${key}: expected a string or a list of strings`);
}

/** Reads --config FILE: a JSON object with the flags' keys. */
export function readConfigFile(file: string): Raw {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config ${file}: ${(err as Error).message}`, { cause: err });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`--config ${file}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`--config ${file}: expected a JSON object of option names to values`);
  return v as Raw;
}

/** Merges flags over the config file (aliases resolved), and validates. */
export function buildRunConfig(flags: Raw, file: Raw = {}): RunConfig {
  const norm = (r: Raw): Raw => {
    const o: Raw = {};
    for (const [k, v] of Object.entries(r)) {
      if (v === undefined) continue;
      o[FLAG_ALIASES[k] ?? k] = v;
    }
    return o;
  };
  const f = norm(file);
  const c = norm(flags);
  const known = new Set([
    'audit-log', 'checkpoint', 'from-start', 'once', 'proc-root', 'cri-socket', 'node-name', 'output', 'format', 'events', 'raw',
    'record', 'recording-name', 'record-namespace', 'record-container', 'record-base', 'merge', 'profile-dir', 'listen', 'kafka-brokers',
    'kafka-config', 'spool-dir', 'no-progress', 'container-poll-ms', 'config', 'no-track-forks', 'no-install-fork-rule', 'no-task-events', 'task-events', 'kube-fallback', 'kubeconfig',
    'shutdown-grace',
    // the oci:// base policy: taken from the file here, read by the CLI (src/cli/oci-flags.ts)
    'oci-verify-key', 'oci-insecure-skip-verify', 'oci-allowed-registry', 'oci-ca-file', 'oci-docker-config', 'oci-cache-size', 'oci-cache-ttl',
  ]);
  for (const k of Object.keys(f)) if (!known.has(k)) throw new ConfigError(`config file: unknown key "${k}"`);
  const raw: Raw = { ...f, ...c };
  // repeatable flags replace the file's list when given on the command line
  const format = str(raw, 'format') ?? 'v1';
  if (!isEventFormat(format)) throw new ConfigError(`--format must be one of ${EVENT_FORMATS.join(', ')}`);
  const events = str(raw, 'events') ?? 'denials';
  if (events !== 'all' && events !== 'denials') throw new ConfigError('--events must be all or denials');
  const taskEventSource = str(raw, 'task-events') ?? 'auto';
  if (taskEventSource !== 'auto' && taskEventSource !== 'cri') throw new ConfigError('--task-events must be auto or cri');
  const merge = str(raw, 'merge') ?? 'containers';
  if (merge !== 'containers' && merge !== 'none') throw new ConfigError('--merge must be containers or none');
  const checkpoint = str(raw, 'checkpoint') ?? RUN_DEFAULTS.checkpoint;
  const listen = str(raw, 'listen') ?? RUN_DEFAULTS.listen;
  const pollMs = Number(str(raw, 'container-poll-ms') ?? 2000);
  if (!Number.isFinite(pollMs) || pollMs < 100) throw new ConfigError('--container-poll-ms must be a number of ms >= 100');
  const grace = Number(str(raw, 'shutdown-grace') ?? 10);
  if (!Number.isFinite(grace) || grace < 1) throw new ConfigError('--shutdown-grace must be a number of seconds >= 1');
  const brokerFlags = strings(raw, 'kafka-brokers');
  const kafkaConfigFile = str(raw, 'kafka-config');
  let brokers: string[] = [];
  let kafkaConfig: KafkaConfigFile | null = null;
  try {
    if (brokerFlags.length) brokers = parseBrokers(brokerFlags.join(','));
    if (kafkaConfigFile !== undefined) kafkaConfig = readKafkaConfig(kafkaConfigFile);
  } catch (e) {
    if (e instanceof KafkaConfigError) throw new ConfigError(e.message);
    throw e;
  }
  const ns = str(raw, 'record-namespace');
  const recOpts: RecordingFlagOptions = { ...RUN_RECORD_FLAG, defaultName: str(raw, 'recording-name') ?? RUN_RECORD_FLAG.defaultName, merge: merge as MergeStrategy, namespace: ns ?? null, containers: strings(raw, 'record-container') };
  const rb = str(raw, 'record-base');
  if (rb !== undefined) {
    const bad = baseNameError(rb);
    if (bad) throw new ConfigError(`--record-base "${rb.slice(0, 300)}": ${bad}`);
    recOpts.base = rb;
  }
  let recordings: RecordingSpec[];
  try {
    recordings = parseRecordingFlags(strings(raw, 'record'), recOpts);
  } catch (e) {
    if (e instanceof RecordingSpecError) throw new ConfigError(e.message, { cause: e });
    throw e;
  }
  const output = str(raw, 'output');
  const kubeFallback = bool(raw, 'kube-fallback');
  const kubeconfig = str(raw, 'kubeconfig') ?? null;
  if (kubeconfig !== null && !kubeFallback) throw new ConfigError('--kubeconfig is only used with --kube-fallback');
  return {
    auditLog: str(raw, 'audit-log') ?? RUN_DEFAULTS.auditLog,
    checkpoint: checkpoint === 'none' ? null : checkpoint,
    fromStart: bool(raw, 'from-start'),
    once: bool(raw, 'once'),
    procRoot: str(raw, 'proc-root') ?? '/proc',
    criSocket: str(raw, 'cri-socket') ?? 'auto',
    node: str(raw, 'node-name') ?? os.hostname(),
    // the event stream is on by default (stdout) unless Kafka carries the events; "none" turns it off
    output: output === 'none' ? null : output ?? (brokers.length ? null : '-'),
    format,
    events,
    raw: bool(raw, 'raw'),
    recordings,
    profileDir: str(raw, 'profile-dir') ?? RUN_DEFAULTS.profileDir,
    listen: listen === 'none' ? null : listen,
    kafkaBrokers: brokers,
    kafkaConfig,
    spoolDir: str(raw, 'spool-dir') ?? RUN_DEFAULTS.spoolDir,
    progress: !bool(raw, 'no-progress'),
    trackForks: !bool(raw, 'no-track-forks'),
    installForkRule: !bool(raw, 'no-install-fork-rule'),
    taskEvents: !bool(raw, 'no-task-events'),
    taskEventSource,
    containerPollMs: pollMs,
    kubeFallback,
    kubeconfig,
    shutdownGraceMs: Math.round(grace * 1000),
  };
}
