// Keeps the task table (task-table.ts) fed from the runtime's events: each task's pid and start bound when it is
// created or started, its exit when it ends. Also warms the pod cache for each new container while the runtime
// still knows it (a Job's pod may be gone before its records are read), and tells the container watch that it ran
// (a container that lived 50 ms is never seen running by a 2 s poll).
//
// Two sources, best first:
// - containerd's task events (containerd-events.ts): they carry the pid, even of a task that exits a millisecond
//   after it starts. Nothing is missed while the stream is open.
// - CRI's GetContainerEvents (cri/container-events.ts; containerd >= 1.7, CRI-O), used when the first is not served
//   (a CRI-O socket) or not wanted (`source: 'cri'`). Its events carry no pid, so each start is answered with one
//   ContainerStatus (verbose: info.pid) at once. The gap left: a container that has exited before that call
//   returns — the runtime then reports pid 0 — and processes exec'd into a container (no event names them). Both
//   are counted (auditflow_enrich_task_events_total{kind="cri-start-missed"}) and their records stay unresolved
//   unless /proc or the lineage records name them. Pod sandboxes are not followed on this path: the sandbox event
//   gives no exact exit time, and a window closed late could hand a reused pid the old pod.
//
// After a gap in a stream (the runtime restarting), windows left open are closed from CRI: the container's
// finishedAt when it has exited, or the moment the stream closed when CRI no longer knows it — records after
// that moment are then left unresolved rather than risk a reused pid.
//
// Runtimes that serve neither stream (Debian's containerd 1.6 serves containerd's; only much older ones neither)
// fall back to what the node has always done: /proc while processes live, and ContainerWatch's polling for ends.
// The gap then is every container that exits before its records are read.
import * as fs from 'node:fs';
import type { Logger } from '../log';
import { ContainerdEvents, type TaskEvent } from './containerd-events';
import type { CriClient } from './cri/client';
import { CriError } from './cri/client';
import type { CriContainerStatus } from './cri/types';
import { CriContainerEvents, type CriContainerEvent } from './cri/container-events';
import { enrichMetrics, registerCacheSize } from './metrics';
import type { PodResolver } from './pod-resolver';
import type { ProcCache } from './proc-cache';
import { START_SLACK_MS, TaskTable, taskStartBound } from './task-table';

export interface ContainerTasksOptions {
  socketPath: string;
  procs: ProcCache;
  /** for resync after a gap (ContainerStatus finishedAt), and the pid of each start on CRI's stream */
  cri: Pick<CriClient, 'containerStatus'> | null;
  /**
   * 'auto' (default): containerd's task events, and CRI's GetContainerEvents when the socket does not serve those;
   * 'cri': CRI's only (a runtime whose task events are not wanted, and tests of that path)
   */
  source?: 'auto' | 'cri';
  resolver: PodResolver | null;
  /** a container's task started (its id is the CRI container or sandbox id) */
  onStarted?: (containerId: string) => void;
  log: Logger;
  table?: TaskTable;
  /**
   * Where the table is saved (every few seconds and at stop) and loaded from at start, so that a restarted
   * `auditflow run` re-reading records from its checkpoint still knows the containers it saw before; null: not kept
   */
  statePath?: string | null;
}

/** What a restart can still attribute (see README "Short-lived containers"): the saved table, closed from CRI. */
interface SavedState {
  version: 1;
  savedAtMs: number;
  entries: unknown;
}

const SAVE_EVERY_MS = 5000;
/** After CRI said a container still runs (or no longer knows it), its open windows are not asked about again for this long. */
const RECHECK_MS = 1000;

export class ContainerTasks {
  readonly table: TaskTable;
  private readonly events: ContainerdEvents;
  private criEvents: CriContainerEvents | null = null;
  private stopped = false;
  private criWarned = 0;
  private chain: Promise<void> = Promise.resolve();
  private closedAtMs: number | null = null;
  private pruneTimer: NodeJS.Timeout | undefined;
  private everOpen = false;
  private saveTimer: NodeJS.Timeout | undefined;
  private savedStats = '';
  /** confirmExit calls in flight, by container and pid: one CRI call however many records ask */
  private readonly confirming = new Map<string, Promise<void>>();
  /** container → until when CRI's last answer that closed nothing stands (bounded) */
  private readonly askedUntil = new Map<string, number>();

  constructor(private readonly opts: ContainerTasksOptions) {
    this.table = opts.table ?? new TaskTable();
    this.events = new ContainerdEvents({
      socketPath: opts.socketPath,
      log: opts.log,
      onEvent: (ev) => this.serial(() => this.handle(ev)),
      onGap: () => this.serial(() => this.resync()),
      onClose: (atMs) => {
        this.closedAtMs ??= atMs;
      },
      onUnsupported: () => this.startCri(),
    });
    registerCacheSize('task-tombstones', () => this.table.tombstones);
    registerCacheSize('tasks', () => this.table.size);
  }

  /** The stream is open: a container that starts now will be named even if it exits at once. */
  streaming(): boolean {
    return this.events.state === 'streaming' || this.criEvents?.state === 'streaming';
  }

  get state(): string {
    return this.criEvents ? `cri-${this.criEvents.state}` : this.events.state;
  }

  start(): void {
    this.load();
    if (this.opts.source === 'cri') this.startCri();
    else this.events.start();
    this.pruneTimer = setInterval(() => this.table.prune(), 30_000).unref();
    if (this.opts.statePath) this.saveTimer = setInterval(() => this.save(), SAVE_EVERY_MS).unref();
  }

  stop(): void {
    clearInterval(this.pruneTimer);
    clearInterval(this.saveTimer);
    this.stopped = true;
    this.events.stop();
    this.criEvents?.stop();
    this.save();
  }

  /**
   * The saved table of an earlier run. Its windows still open are the tasks that were running at the stop: their
   * exit (if any) happened while nobody listened, so the first resync closes them from CRI (finishedAt), or at
   * the stop when CRI no longer knows the container — after that moment the pid may have been anyone's.
   */
  private load(): void {
    const file = this.opts.statePath;
    if (!file) return;
    let st: SavedState;
    try {
      st = JSON.parse(fs.readFileSync(file, 'utf8')) as SavedState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.warn({ file, err }, 'cannot read the saved task table: starting without it');
      return;
    }
    if (st?.version !== 1 || typeof st.savedAtMs !== 'number') {
      this.opts.log.warn({ file }, 'the saved task table is not one this version writes: starting without it');
      return;
    }
    const n = this.table.restore(st.entries);
    this.closedAtMs = st.savedAtMs;
    this.everOpen = true; // the first stream open is then a gap to close, not a fresh start
    this.opts.log.info({ file, tasks: n, savedAt: new Date(st.savedAtMs).toISOString() }, 'task table of the previous run loaded');
  }

  private save(): void {
    const file = this.opts.statePath;
    if (!file) return;
    const s = this.table.stats;
    const sig = `${s.started}:${s.exited}:${s.superseded}:${s.pruned}:${this.table.size}`;
    // saved when changed, and always at stop (savedAtMs is then the stop: the moment running tasks were last known)
    if (sig === this.savedStats && !this.stopped) return;
    // only while the stream is (or was, at stop) open: a table kept while it was down may miss exits
    const st: SavedState = { version: 1, savedAtMs: this.closedAtMs ?? Date.now(), entries: this.table.entries() };
    try {
      const tmp = `${file}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(st), { mode: 0o600 });
      fs.renameSync(tmp, file);
      this.savedStats = sig;
    } catch (err) {
      this.opts.log.warn({ file, err }, 'cannot save the task table: a restart will not know the containers seen so far');
    }
  }

  /** Resolves once every event received so far has been applied (tests, and the bench). */
  settled(): Promise<void> {
    return this.chain;
  }

  // events are applied one at a time, in order: a task's exit must not overtake its own start's /proc read
  private serial(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: unknown) => this.opts.log.warn({ err }, 'applying a task event failed'));
  }

  private async handle(ev: TaskEvent): Promise<void> {
    enrichMetrics.taskEvents.inc({ kind: ev.kind });
    if (ev.kind === 'create' || ev.kind === 'start' || ev.kind === 'exec') {
      const b = await taskStartBound(this.opts.procs, ev.pid, ev.containerId, ev.atMs);
      this.table.started(ev.containerId, ev.pid, b.fromMs, b.exact);
      if (ev.kind !== 'exec') {
        this.opts.onStarted?.(ev.containerId);
        // while the runtime still knows the container: its pod is then cached when the records come
        void this.opts.resolver?.resolve(ev.containerId, 'containerd').catch(() => undefined);
      }
      return;
    }
    if (ev.kind === 'exit' || ev.kind === 'delete') this.table.exited(ev.containerId, ev.pid, ev.exitedAtMs ?? ev.atMs);
  }

  private startCri(): void {
    if (this.criEvents || this.stopped || !this.opts.cri) return;
    this.criEvents = new CriContainerEvents({
      socketPath: this.opts.socketPath,
      log: this.opts.log,
      onEvent: (ev) => this.serial(() => this.handleCri(ev)),
      onGap: () => this.serial(() => this.resync()),
      onClose: (atMs) => {
        this.closedAtMs ??= atMs;
      },
    });
    this.criEvents.start();
  }

  /**
   * The enricher found `pid`'s window in `containerId` open while /proc no longer shows that process: it has
   * exited, and its exit is either still on its way through the event stream (a busy runtime, a relay) or was
   * missed. Trusting the open end would hand a later holder of the pid this container, so the runtime is asked:
   * an exited container's window closes at its finishedAt (the same time its stop event carries). A container
   * CRI reports running keeps its window (an exec'd process's, whose exit only containerd's events tell); one
   * CRI no longer knows keeps what the event stream gives it. Either is not asked about again for RECHECK_MS
   * (a pod sandbox's id, which ContainerStatus does not know, included). Resolves once the table holds the
   * answer; never rejects.
   */
  confirmExit(containerId: string, pid: number): Promise<void> {
    const cri = this.opts.cri;
    if (!cri || this.stopped) return Promise.resolve();
    const now = Date.now();
    const until = this.askedUntil.get(containerId);
    if (until !== undefined) {
      if (until > now) return Promise.resolve();
      this.askedUntil.delete(containerId);
    }
    const key = `${containerId}:${pid}`;
    let p = this.confirming.get(key);
    if (!p) {
      p = this.askExit(cri, containerId, pid).finally(() => this.confirming.delete(key));
      this.confirming.set(key, p);
    }
    return p;
  }

  private async askExit(cri: Pick<CriClient, 'containerStatus'>, containerId: string, pid: number): Promise<void> {
    try {
      const exitMs = exitedAtMs(await cri.containerStatus(containerId, { verbose: false }));
      if (exitMs !== null) {
        this.table.exited(containerId, pid, exitMs);
        enrichMetrics.taskEvents.inc({ kind: 'exit-confirmed' });
        return;
      }
    } catch (err) {
      // removed already: its stop event came before the removal, so what the stream has delivered is applied
      // first; else the window stays as the stream leaves it
      if (err instanceof CriError && err.reason === 'not-found') await this.chain;
      else if (this.criWarned++ < 5) this.opts.log.warn({ container: containerId, err }, 'CRI ContainerStatus to confirm an exit failed: the open task window is kept');
    }
    if (this.askedUntil.size > 4096) this.askedUntil.clear();
    this.askedUntil.set(containerId, Date.now() + RECHECK_MS);
  }

  /** A CRI container event: a start asks the runtime for the pid at once, a stop closes the window it opened. */
  private async handleCri(ev: CriContainerEvent): Promise<void> {
    if (ev.sandbox) return;
    if (ev.kind === 'started') {
      let pid: number | undefined;
      let createdMs = -Infinity;
      try {
        const s = await this.opts.cri!.containerStatus(ev.containerId, { verbose: true });
        pid = s.pid;
        if (s.createdAt > 0n) createdMs = Number(s.createdAt / 1_000_000n);
      } catch (err) {
        if (this.criWarned++ < 5) this.opts.log.warn({ container: ev.containerId, err }, 'CRI ContainerStatus after a start failed: the container is named only while it runs');
      }
      if (!pid) {
        // exited before the call returned (the runtime reports pid 0 then): the gap of this path, named so that
        // an unresolved record can be told from a bug
        enrichMetrics.taskEvents.inc({ kind: 'cri-start-missed' });
        this.opts.log.info({ container: ev.containerId }, 'container exited before CRI ContainerStatus gave its pid: its records are attributed only through /proc or lineage');
        return;
      }
      enrichMetrics.taskEvents.inc({ kind: 'cri-start' });
      const b = await taskStartBound(this.opts.procs, pid, ev.containerId, ev.atMs);
      // The init is often gone by now (this event comes after the workload started), and the bound from the
      // event reaches CREATE_BOUND_MS back, over other holders of the pid that the table never saw. CRI's
      // createdAt is tighter: containerd creates the task (and its init) in StartContainer, after CreateContainer
      // stamped createdAt; the slack covers the audit clock. A runtime that creates the init before that stamp
      // (CRI-O runs `runc create` within CreateContainer) only gets a late bound: records of the init's first
      // moments left unresolved, never another process's records taken.
      if (!b.exact) b.fromMs = Math.max(b.fromMs, createdMs - START_SLACK_MS);
      this.table.started(ev.containerId, pid, b.fromMs, b.exact);
      this.opts.onStarted?.(ev.containerId);
      void this.opts.resolver?.resolve(ev.containerId).catch(() => undefined);
      return;
    }
    if (ev.kind !== 'stopped' && ev.kind !== 'deleted') return;
    const open = this.table.open().find((e) => e.containerId === ev.containerId);
    if (!open) return;
    enrichMetrics.taskEvents.inc({ kind: 'cri-stop' });
    // the event's own status carries finished_at (the shim's exited_at); without it, ask
    let exitMs = ev.finishedAtMs;
    if (exitMs === null) {
      const s = await this.opts.cri?.containerStatus(ev.containerId, { verbose: false }).catch(() => null);
      exitMs = s && s.finishedAt > 0n ? Number(s.finishedAt / 1_000_000n) : ev.atMs;
    }
    this.table.exited(ev.containerId, open.pid, exitMs);
  }

  /** After the stream (re)opened: close the windows whose exit may have been missed meanwhile. */
  private async resync(): Promise<void> {
    const first = !this.everOpen;
    this.everOpen = true;
    const closedAt = this.closedAtMs ?? Date.now();
    this.closedAtMs = null;
    if (first) return;
    for (const e of this.table.open()) {
      // still running: /proc says so (same start time → same process)
      const alive = await this.opts.procs.lookup(e.pid, Date.now()).catch(() => null);
      if (alive?.state === 'alive' && !alive.entry.cgroup.host && alive.entry.cgroup.containerId === e.containerId) continue;
      let exitMs = closedAt;
      try {
        const s = await this.opts.cri?.containerStatus(e.containerId, { verbose: false });
        const exited = s ? exitedAtMs(s) : null;
        if (exited !== null) exitMs = exited;
        else if (s && s.state === 'CONTAINER_RUNNING') continue; // an exec'd process, or /proc raced: leave it
      } catch (err) {
        if (!(err instanceof CriError && err.reason === 'not-found')) this.opts.log.warn({ container: e.containerId, err }, 'resync: CRI ContainerStatus failed');
      }
      this.table.exited(e.containerId, e.pid, exitMs);
    }
  }
}

/** When an exited container's task ended (finishedAt, the shim's exited_at), ms; null when CRI does not say it exited. */
function exitedAtMs(s: CriContainerStatus): number | null {
  return s.state === 'CONTAINER_EXITED' && s.finishedAt > 0n ? Number(s.finishedAt / 1_000_000n) : null;
}
