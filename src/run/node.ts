// `auditflow run` assembled: tailer, enrichment (procfs + CRI), sinks (NDJSON, recorder, Kafka), container
// watch, HTTP endpoint, start-up environment check, and an orderly stop on SIGTERM/SIGINT (finish what was
// read, write profiles, final checkpoint, exit 0).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerTasks } from '../enrich/container-tasks';
import { ContainerWatch } from '../enrich/container-watch';
import { CriClient, DEFAULT_CRI_SOCKETS } from '../enrich/cri/client';
import { installForkRules } from '../enrich/audit-rules';
import { Enricher } from '../enrich/enricher';
import { KubePodFallback } from '../enrich/kube-fallback';
import { ProcessLineage } from '../enrich/lineage';
import { startEnvCheck } from '../audit/envcheck';
import { timedCri } from '../enrich/metrics';
import { PodResolver } from '../enrich/pod-resolver';
import { ProcCache } from '../enrich/proc-cache';
import { HttpServer } from '../http/server';
import { KubeClient } from '../k8s/client';
import { countIoError, PermanentOutputError } from '../io/errors';
import { describeError } from '../io/input';
import type { Logger } from '../log';
import { enableDefaultMetrics } from '../metrics';
import { baseLookup } from '../recording/base';
import { ProfileDirectory } from '../recording/profile-dir';
import { Recorder } from '../recording/recorder';
import { NdjsonSink } from '../sink/ndjson';
import type { ContainerEnd, EventSink } from '../event/sink';
import { openTailer } from '../tail';
import type { LostStats } from '../tail/types';
import type { RunConfig } from './config';
import { Pipeline, type Route } from './pipeline';
import { eventFilter } from './route';
import { StatusLine } from './status-line';
import { runMetrics } from './metrics';

/** Waits this long after CRI reports a container ended before telling the sinks, for its last records to arrive. */
const END_GRACE_MS = 1500;

/** The CRI socket to use: the given path, the first default that exists ('auto'), or none. */
export function pickCriSocket(setting: string): string | null {
  if (setting === 'none') return null;
  if (setting !== 'auto') return setting;
  for (const p of Object.values(DEFAULT_CRI_SOCKETS)) if (fs.existsSync(p)) return p;
  return null;
}

export interface RunningNode {
  pipeline: Pipeline;
  http: HttpServer | null;
  /** resolves with the exit code once the node has stopped */
  done: Promise<number>;
  /** the stop did not finish within the shutdown grace period: the caller must end the process now */
  forced: boolean;
  stop(): void;
}

/**
 * Checks at start-up that recorded profiles can be written in `dir` (created when missing): a regular file, a
 * dangling symlink, a read-only filesystem there is a PermanentOutputError now, not a retry loop later.
 */
export async function checkProfileDir(dir: string): Promise<void> {
  const fail = (why: string, cause?: unknown) => {
    if (cause !== undefined) countIoError('profile', cause);
    return new PermanentOutputError(`--profile-dir ${dir}: ${why}`, cause);
  };
  const l = await fs.promises.lstat(dir).catch(() => undefined);
  if (l?.isSymbolicLink()) {
    const target = await fs.promises.readlink(dir).catch(() => '?');
    const st = await fs.promises.stat(dir).catch(() => undefined);
    if (!st) throw fail(`a dangling symbolic link (to ${target})`, Object.assign(new Error('dangling symlink'), { code: 'ENOENT' }));
  }
  if (l && !l.isSymbolicLink() && !l.isDirectory()) throw fail('not a directory', Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR', syscall: 'mkdir' }));
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (err) {
    throw fail(describeError(err), err);
  }
  const st = await fs.promises.stat(dir);
  if (!st.isDirectory()) throw fail('not a directory', Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }));
  // a probe file: read-only filesystems, permissions (root passes access() checks that writes then fail)
  const probe = path.join(dir, `.auditflow-probe-${process.pid}`);
  try {
    const fh = await fs.promises.open(probe, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o600);
    await fh.close();
    await fs.promises.unlink(probe);
  } catch (err) {
    throw fail(`cannot create files there: ${describeError(err)}`, err);
  }
}

export interface NodeParts {
  /** pulls and verifies `oci://` recording bases (the CLI's --oci-* policy); none: such a base is an error */
  ociBase?: (ref: string) => Promise<unknown>;
}

export async function startNode(cfg: RunConfig, log: Logger, parts: NodeParts = {}): Promise<RunningNode> {
  enableDefaultMetrics();
  // first: a bad kubeconfig fails the start before anything needs stopping
  const kube = cfg.kubeFallback ? KubeClient.load(cfg.kubeconfig ?? undefined, 'auditflow-tailer') : null;
  const env = await startEnvCheck(log, { procRoot: cfg.procRoot });

  const socket = pickCriSocket(cfg.criSocket);
  if (!socket) log.warn({ setting: cfg.criSocket }, cfg.criSocket === 'none' ? 'CRI disabled: events carry container ids only' : 'no CRI socket found (containerd, CRI-O): events carry container ids only');
  const cri = socket ? new CriClient({ socketPath: socket, timeoutMs: 2000 }) : null;
  const resolver = cri ? new PodResolver({ client: timedCri(cri), procRoot: cfg.procRoot }) : null;
  const procs = new ProcCache({ procRoot: cfg.procRoot });
  // a one-shot read of a finished log gains nothing from new fork records
  if (cfg.trackForks && cfg.installForkRule && !cfg.once) await installForkRules(log);
  const lineage = cfg.trackForks ? new ProcessLineage() : null;
  if (kube) log.info({ apiserver: kube.access.server, via: kube.access.source, node: cfg.node }, 'Kubernetes API fallback: pods on this node');
  const fallback = kube ? new KubePodFallback({ client: kube, nodeName: cfg.node, log: log.child({ component: 'kube-fallback' }) }) : null;
  let watch: ContainerWatch | null = null;
  // containerd's task events: every container's pid as it starts, kept after it exits (enrich/container-tasks.ts)
  const tasks = cri && socket && cfg.taskEvents
    ? new ContainerTasks({
        socketPath: socket,
        source: cfg.taskEventSource,
        procs,
        cri,
        resolver,
        log: log.child({ component: 'tasks' }),
        statePath: cfg.checkpoint ? `${cfg.checkpoint}.tasks.json` : null,
        onStarted: (id) =>
          void resolver?.resolve(id, 'containerd').then((r) => {
            if (r.enrichment === 'resolved' && !r.container.sandbox) watch?.started(id);
          }),
      })
    : null;
  const enricher = new Enricher({ procs, resolver, fallback, lineage, tasks: tasks ? { table: tasks.table, streaming: () => tasks.streaming(), confirmExit: (id, pid) => tasks.confirmExit(id, pid) } : null, log: log.child({ component: 'enrich' }) });

  const routes: Route[] = [];
  const sinks: EventSink[] = [];
  const filter = eventFilter(cfg.events);
  let recorder: Recorder | null = null;
  let ndjson: NdjsonSink | null = null;
  try {
    if (cfg.output !== null) {
      const s = new NdjsonSink({ output: cfg.output, format: cfg.format, log: log.child({ component: 'ndjson' }), groupCommit: true });
      // opened now: an output that cannot be written fails the start (exit 1), before anything is read
      await s.open();
      ndjson = s;
      routes.push({ sink: s, accept: filter, denialsOnly: cfg.events === 'denials', acceptsAll: cfg.events === 'all' });
      sinks.push(s);
    }
    if (cfg.recordings.length) {
      await checkProfileDir(cfg.profileDir);
      recorder = new Recorder({
        recordings: cfg.recordings,
        out: new ProfileDirectory(cfg.profileDir),
        stateDir: path.join(cfg.profileDir, '.auditflow-state'),
        log: log.child({ component: 'recorder' }),
        bases: baseLookup(cfg.profileDir, parts.ociBase),
      });
      await recorder.load();
      const r = recorder;
      routes.push({ sink: r, accept: (ev) => r.selects(ev.container, ev.pod) });
      sinks.push(r);
    }
    if (cfg.kafkaBrokers.length) {
      // loaded only when asked for: the embedded default never loads kafkajs
      const kafka = await import('../sink/kafka/index.js');
      const fromFile = cfg.kafkaConfig ?? {};
      const k = await kafka.createKafkaSink(
        {
          ...fromFile,
          brokers: cfg.kafkaBrokers,
          node: cfg.node,
          spoolDir: fromFile.spoolDir ?? cfg.spoolDir,
          recordings: cfg.recordings.filter((r) => r.kind === 'SeccompProfile'),
          groupCommit: true,
        },
        log,
      );
      routes.push({ sink: k, accept: () => true });
      sinks.push(k);
    }
  } catch (err) {
    for (const s of sinks) await s.close().catch(() => undefined);
    cri?.close();
    kube?.close();
    env.stop();
    throw err;
  }

  const tailer = await openTailer(
    // "auto" looks for auditd among the host's processes: in a pod, /proc is the pod's own
    // reuseBuffers: the pipeline is done with a batch before it asks for the next (Pipeline.run)
    { path: cfg.auditLog, checkpointPath: cfg.checkpoint, startAt: cfg.fromStart ? 'start' : 'end', follow: !cfg.once, detectProcRoot: cfg.procRoot, reuseBuffers: true },
    log.child({ component: 'tail' }),
  );

  const pendingEnds = new Map<NodeJS.Timeout, ContainerEnd>();
  const pipeline: Pipeline = new Pipeline({
    tailer,
    enricher,
    routes,
    node: cfg.node,
    sourceFile: cfg.auditLog === 'auto' ? null : path.resolve(cfg.auditLog),
    raw: cfg.raw,
    // a one-shot read ends with a full flush; waiting on a static file is never the end of an event
    idleFlushMs: cfg.once ? Infinity : 1000,
    log: log.child({ component: 'pipeline' }),
    onContainer: (id) => watch?.track(id),
  });
  // polled whether or not a sink wants container ends: it is also how /readyz knows the runtime answers
  if (cri && resolver) {
    watch = new ContainerWatch({
      client: cri,
      resolver,
      intervalMs: cfg.containerPollMs,
      log: log.child({ component: 'container-watch' }),
      onEnded: (end) => {
        const t = setTimeout(() => {
          pendingEnds.delete(t);
          void pipeline.containerEnded(end);
        }, END_GRACE_MS);
        pendingEnds.set(t, end);
      },
    });
    for (const id of recorder?.activeContainers() ?? []) watch.track(id);
    watch.start();
  }
  tasks?.start();

  let http: HttpServer | null = null;
  if (cfg.listen) {
    http = new HttpServer({
      listen: cfg.listen,
      log,
      ready: {
        tailer: () => ({ ok: pipeline.running, detail: (pipeline.running ? `following ${cfg.auditLog}` : 'the tailer is not open') + lostDetail(tailer.stats?.().lost) }),
        cri: () =>
          !cri
            ? { ok: true, detail: 'disabled' }
            : { ok: watch?.reachable === true, detail: watch?.reachable ? `${socket} answers` : `${socket}: ${watch?.lastError ?? 'not polled yet'}` },
      },
    });
    try {
      await http.start();
    } catch (err) {
      await tailer.close();
      for (const s of sinks) await s.close().catch(() => undefined);
      await watch?.stop();
      tasks?.stop();
      cri?.close();
      kube?.close();
      env.stop();
      throw new Error(`cannot listen on ${cfg.listen}: ${(err as Error).message}`, { cause: err });
    }
  }

  const status = cfg.progress
    ? new StatusLine(() => ({ lines: pipeline.stats.lines, events: pipeline.stats.events, lagSeconds: null }))
    : null;
  status?.start();
  log.info(
    {
      source: cfg.auditLog,
      checkpoint: cfg.checkpoint,
      cri: socket,
      output: cfg.output,
      format: cfg.format,
      events: cfg.events,
      recordings: [...new Set(cfg.recordings.map((r) => r.name))],
      profileDir: cfg.recordings.length ? cfg.profileDir : undefined,
      kafka: cfg.kafkaBrokers.length ? cfg.kafkaBrokers : undefined,
    },
    'auditflow run started',
  );

  let stopping = false;
  let forceEnd: ((code: number) => void) | null = null;
  const forcedEnd = new Promise<number>((resolve) => (forceEnd = resolve));
  let graceTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Whatever a sink waits for (a disk that stays full), the process ends within the grace period: a while
    // before it, retries are given up (nothing more is acked); then, if the stop still has not finished, the
    // tailer is closed (its checkpoint: what was acked) and the caller exits.
    const graceMs = cfg.shutdownGraceMs;
    const abortAt = Math.max(graceMs / 2, graceMs - 3000);
    graceTimer = setTimeout(() => {
      log.error({ graceSeconds: graceMs / 1000 }, 'shutdown grace period nearly over: giving up on the sinks; what they did not take is not checkpointed, and is read again at the next start');
      pipeline.abort();
      ndjson?.abort();
      recorder?.abort();
      graceTimer = setTimeout(() => {
        log.error('the stop did not finish in time: saving the checkpoint of what was written and exiting');
        node.forced = true;
        const t = setTimeout(() => forceEnd?.(1), Math.max(100, (graceMs - abortAt) / 3));
        void tailer.close().catch((err) => log.error({ err }, 'closing the tailer failed')).finally(() => {
          clearTimeout(t);
          forceEnd?.(1);
        });
      }, Math.max(100, (graceMs - abortAt) / 3));
    }, abortAt);
    log.info('stopping: finishing what was read, writing profiles and the final checkpoint');
    // container ends still in their grace period go out now, ahead of the final flush
    for (const [t, end] of pendingEnds) {
      clearTimeout(t);
      void pipeline.containerEnded(end);
    }
    pendingEnds.clear();
    pipeline.stop();
  };
  const done = (async () => {
    let code = 0;
    try {
      await pipeline.run();
    } catch (err) {
      log.error({ err }, 'pipeline failed');
      code = 1;
    } finally {
      clearTimeout(graceTimer);
      status?.stop();
      await watch?.stop();
      tasks?.stop();
      for (const t of pendingEnds.keys()) clearTimeout(t);
      await http?.close();
      cri?.close();
      kube?.close();
      env.stop();
      log.info({ ...pipeline.stats, endsSeen: (await runMetrics.containerEnds.get()).values.reduce((n, v) => n + v.value, 0) }, 'auditflow run stopped');
    }
    return code;
  })();
  const node: RunningNode = { pipeline, http, done: Promise.race([done, forcedEnd]), forced: false, stop };
  return node;
}

/** The tailer's losses for /readyz: records rotated away before they were read (not a readiness failure). */
function lostDetail(lost: LostStats | undefined): string {
  if (!lost || (lost.records === 0 && lost.unknownGaps === 0)) return '';
  let s = `; lost at most ${lost.records} audit records deleted by rotation before they were read (an upper bound: serial gaps)`;
  if (lost.last) s += ` (last: serials ${lost.last.fromSerial}-${lost.last.toSerial} at ${lost.last.at})`;
  if (lost.unknownGaps) s += `; ${lost.unknownGaps} gaps of unknown size`;
  return s;
}
