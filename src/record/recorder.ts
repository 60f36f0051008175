// The embedded recorder (`auditflow run --record`): an EventSink that folds the events of selected
// containers into profiles and writes them (ProfileSink) when a container ends and on shutdown.
//
// A profile group is what one profile is built from: with merge strategy `containers`, every container of
// one name selected by a recording (all replicas); with `none`, one container. Its content is a set of
// (arch, syscall) and (source type, target type, class, permission) tuples with counts.
//
// Durability: write() resolves once every tuple *new* to its group is in the group's state file (written
// atomically), so the pipeline's checkpoint never moves past an observation a crash could lose; later
// sightings only raise counts, which are persisted with the next new tuple, on container end and on
// shutdown (after a crash counts may be low; the set of syscalls is complete). State is reloaded at start.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Counter, Gauge } from 'prom-client';
import type { AvcInfo } from '../../parsers';
import type { ContainerRef, EventV1, PodRef } from '../event/v1';
import type { Logger } from '../log';
import { registry } from '../metrics';
import { invalidProfileName } from '../profile/names';
import type { Evidence, ProfileSink, RecordedProfile, RecordingSpec } from '../profile/recording';
import { RUNC_BASE_SYSCALLS, RUNC_INIT_COMM } from '../profile/runtime-base';
import { LABEL_CONTAINER_ID, LABEL_RECORDING_ID, LABEL_RECORDING_NAMESPACE, SeccompProfileBuilder } from '../profile/seccomp';
import { SELF, SelinuxProfileBuilder } from '../profile/selinux';
import type { ContainerEnd, EventSink } from '../sink/types';
import { containerNameOf, profileName, recordingSelects } from './naming';
import { writeFileAtomic } from '../io/atomic';
import { AbortedError, countIoError, PermanentOutputError } from '../io/errors';
import { retry } from '../retry';
import { profileFiles } from './profile-dir';

/** NAME_MAX of Linux filesystems (ext4, xfs, btrfs, tmpfs): the longest file name, in bytes. */
const NAME_MAX = 255;

function stateFile(dir: string, st: { kind: string; name: string }): string {
  return path.join(dir, `${st.kind}.${st.name}.json`);
}

/** Why a profile of this kind and name cannot have its files (state, profile, evidence), or undefined. */
function tooLongForFiles(kind: RecordingSpec['kind'], name: string): string | undefined {
  const f = profileFiles('', name, kind);
  const longest = Math.max(...[stateFile('', { kind, name }), f.body, f.resource, f.evidence].map((p) => Buffer.byteLength(path.basename(p))));
  return longest > NAME_MAX ? `too long for a file name (${longest} bytes with its suffix; the limit is ${NAME_MAX})` : undefined;
}

const recorderMetrics = {
  events: new Counter({
    name: 'auditflow_record_events_total',
    help: 'Events folded into a recording (seccomp log/allow records and AVC denials of selected containers)',
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
  rejected: new Counter({
    name: 'auditflow_record_rejected_total',
    help: 'Selected containers not recorded, by reason (invalid-name: the profile name would not be a DNS-1123 subdomain; name-too-long: its files would exceed NAME_MAX; write-failed: a permanent error writing them)',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  profilesWritten: new Counter({
    name: 'auditflow_record_profiles_written_total',
    help: 'Recorded profiles written, by kind and trigger (container-end, late-records, shutdown)',
    labelNames: ['kind', 'trigger'] as const,
    registers: [registry],
  }),
  writeErrors: new Counter({
    name: 'auditflow_record_write_errors_total',
    help: 'Failed writes of recorded profiles or recorder state (transient: retried; permanent: the profile is dropped)',
    registers: [registry],
  }),
  groups: new Gauge({ name: 'auditflow_record_groups', help: 'Profile groups being recorded', registers: [registry] }),
};

interface Seen {
  count: number;
  firstSeen: string;
  lastSeen: string;
  exe: string | null;
  pod: string | null;
  namespace: string | null;
}
interface SeccompSeen extends Seen {
  arch: string | null;
  syscall: string | null;
  nr: number;
}
interface AvcSeen extends Seen {
  stype: string;
  ttype: string;
  tclass: string;
  perm: string;
}

/** A group's whole state, as JSON: what the state file holds. */
interface GroupState {
  v: 1;
  recording: string;
  kind: RecordingSpec['kind'];
  name: string;
  containerName: string;
  namespace: string | null;
  sawRunc: boolean;
  /** containers contributing that have not ended */
  active: string[];
  seccomp: Record<string, SeccompSeen>;
  avc: Record<string, AvcSeen>;
}

interface Group {
  rec: RecordingSpec;
  st: GroupState;
  active: Set<string>;
  /** counts or tuples changed since the last profile write */
  dirty: boolean;
  /** a tuple was added since the last state write */
  fresh: boolean;
}

export interface RecorderOptions {
  recordings: RecordingSpec[];
  out: ProfileSink;
  /** where group state is kept across restarts; null: memory only */
  stateDir: string | null;
  log: Logger;
  /** add runc's base syscalls when runc's init shows in the records (as `auditflow profile --base auto`); default true */
  runcBase?: boolean;
}

export class Recorder implements EventSink {
  readonly name = 'recorder';
  private readonly groups = new Map<string, Group>();
  /** container id → keys of the groups it feeds */
  private readonly byContainer = new Map<string, Set<string>>();
  private readonly rejectedContainers = new Set<string>();
  /** containers whose end was reported: late records still count, but do not reopen the session */
  private readonly ended = new Set<string>();
  private readonly recordings: Map<string, RecordingSpec>;
  private readonly aborter = new AbortController();

  constructor(private readonly opts: RecorderOptions) {
    this.recordings = new Map(opts.recordings.map((r) => [`${r.kind}/${r.name}`, r]));
  }

  /** Reloads the state of groups recorded before a restart. */
  async load(): Promise<void> {
    if (!this.opts.stateDir) return;
    let names: string[];
    try {
      names = await fsp.readdir(this.opts.stateDir);
    } catch {
      return;
    }
    for (const f of names.filter((n) => n.endsWith('.json'))) {
      try {
        const st = JSON.parse(await fsp.readFile(path.join(this.opts.stateDir, f), 'utf8')) as GroupState;
        const rec = this.recordings.get(`${st.kind}/${st.recording}`);
        if (st.v !== 1 || !rec) continue; // a recording no longer asked for
        const key = `${st.kind}/${st.name}`;
        const g: Group = { rec, st, active: new Set(st.active), dirty: false, fresh: false };
        this.groups.set(key, g);
        for (const id of g.active) this.link(id, key);
      } catch (err) {
        this.opts.log.warn({ file: f, err: (err as Error).message }, 'unreadable recorder state: ignored');
      }
    }
    recorderMetrics.groups.set(this.groups.size);
    if (this.groups.size) this.opts.log.info({ groups: this.groups.size }, 'recorder state reloaded');
  }

  /** Containers that contribute to an unfinished group (to watch for their end after a restart). */
  activeContainers(): string[] {
    return [...this.byContainer.keys()];
  }

  /** Whether some recording selects this container (so its events matter even when not emitted). */
  selects(container: ContainerRef | null, pod: PodRef | null): boolean {
    if (!container || container.sandbox) return false;
    for (const rec of this.recordings.values()) if (recordingSelects(rec, container, pod)) return true;
    return false;
  }

  private link(containerId: string, key: string): void {
    let s = this.byContainer.get(containerId);
    if (!s) this.byContainer.set(containerId, (s = new Set()));
    s.add(key);
  }

  private groupFor(rec: RecordingSpec, container: ContainerRef, pod: PodRef | null): Group | null {
    const name = profileName(rec, container, pod);
    // one recording name may exist for both kinds (the CLI records seccomp and SELinux under one name)
    const key = `${rec.kind}/${name}`;
    let g = this.groups.get(key);
    if (g) {
      if (!g.active.has(container.id) && !this.ended.has(container.id)) {
        g.active.add(container.id);
        this.link(container.id, key);
      }
      return g;
    }
    const bad = invalidProfileName(name) ?? tooLongForFiles(rec.kind, name);
    if (bad) {
      if (!this.rejectedContainers.has(container.id)) {
        this.rejectedContainers.add(container.id);
        recorderMetrics.rejected.inc({ reason: bad.startsWith('too long') ? 'name-too-long' : 'invalid-name' });
        this.opts.log.warn({ container: container.id, name: name.slice(0, 300), problem: bad }, 'not recording a container: its profile name is invalid');
      }
      return null;
    }
    const st: GroupState = {
      v: 1,
      recording: rec.name,
      kind: rec.kind,
      name,
      containerName: containerNameOf(container),
      namespace: rec.namespace ?? pod?.namespace ?? null,
      sawRunc: false,
      active: [container.id],
      seccomp: {},
      avc: {},
    };
    g = { rec, st, active: new Set(this.ended.has(container.id) ? [] : [container.id]), dirty: true, fresh: true };
    this.groups.set(key, g);
    if (g.active.size) this.link(container.id, key);
    recorderMetrics.groups.set(this.groups.size);
    return g;
  }

  async write(events: readonly EventV1[]): Promise<void> {
    let seccomp = 0;
    let avcs = 0;
    for (const ev of events) {
      const c = ev.container;
      if (ev.enrichment !== 'resolved' || !c || c.sandbox || this.rejectedContainers.has(c.id)) continue;
      const isSeccomp = ev.kind === 'seccomp' && (ev.action === 'log' || ev.action === 'allow') && ev.syscallNr !== undefined;
      // Only the kernel's AVC records make tuples: a USER_AVC's text is whatever its sender wrote (any
      // process with CAP_AUDIT_WRITE, as a pod's processes have by default), so a pod could allow itself
      // anything by reporting it. An event cut at the coalescer's caps is not whole: not used either.
      const avc = ev.type === 'AVC' && !ev.truncated && ev.selinux && ev.selinux.decision === 'denied' ? ev.selinux : undefined;
      if (!isSeccomp && !avc) continue;
      for (const rec of this.recordings.values()) {
        if (!recordingSelects(rec, c, ev.pod)) continue;
        if (rec.kind === 'SeccompProfile' && isSeccomp) {
          const g = this.groupFor(rec, c, ev.pod);
          if (!g) continue;
          if (ev.comm === RUNC_INIT_COMM && !g.st.sawRunc) {
            g.st.sawRunc = true;
            g.fresh = true;
          }
          this.bump(g, g.st.seccomp, `${ev.arch ?? ''}:${ev.syscallNr}`, ev, () => ({ arch: ev.arch ?? null, syscall: ev.syscall ?? null, nr: ev.syscallNr! }));
          seccomp++;
        } else if (rec.kind === 'SelinuxProfile' && avc && avc.source && avc.target && avc.tclass) {
          const g = this.groupFor(rec, c, ev.pod);
          if (!g) continue;
          for (const perm of avc.permissions) {
            const t = { stype: avc.source.type, ttype: avc.target.type, tclass: avc.tclass, perm };
            this.bump(g, g.st.avc, `${t.stype}:${t.ttype}:${t.tclass}:${perm}`, ev, () => t);
          }
          avcs++;
        }
      }
    }
    if (seccomp) recorderMetrics.events.inc({ kind: 'seccomp' }, seccomp);
    if (avcs) recorderMetrics.events.inc({ kind: 'selinux' }, avcs);
    for (const g of this.groups.values()) {
      if (!g.fresh) continue;
      // news for a profile already written at its containers' end (late records): write it again now
      if (g.active.size === 0) await this.writeProfile(g, 'late-records');
      else await this.saveState(g);
    }
  }

  private bump<T extends Seen>(g: Group, map: Record<string, T>, key: string, ev: EventV1, make: () => Omit<T, keyof Seen>): void {
    g.dirty = true;
    const s = map[key];
    if (s) {
      s.count++;
      if (ev.timestamp > s.lastSeen) s.lastSeen = ev.timestamp;
      return;
    }
    map[key] = { ...make(), count: 1, firstSeen: ev.timestamp, lastSeen: ev.timestamp, exe: ev.exe, pod: ev.pod?.name ?? null, namespace: ev.pod?.namespace ?? null } as T;
    g.fresh = true;
  }

  private async saveState(g: Group): Promise<void> {
    g.fresh = false;
    if (!this.opts.stateDir) return;
    g.st.active = [...g.active];
    const dir = this.opts.stateDir;
    try {
      await retry(
        async () => {
          await fsp.mkdir(dir, { recursive: true });
          await writeFileAtomic(stateFile(dir, g.st), JSON.stringify(g.st));
        },
        (err, attempt) => {
          recorderMetrics.writeErrors.inc();
          if (countIoError('recorder-state', err) === 'permanent') throw new PermanentOutputError(`cannot write the recorder state of ${g.st.name}`, err);
          // transient (disk full): the pipeline waits (no ack) rather than lose a tuple; logged and counted
          if (attempt % 20 === 0) this.opts.log.error({ group: g.st.name, err }, 'writing recorder state failed; retrying');
        },
        { signal: this.aborter.signal },
      );
    } catch (err) {
      if (!(err instanceof PermanentOutputError)) throw err;
      // this group's state can never be written (its name too long for the filesystem, a planted file):
      // it is dropped and counted, the other groups and the pipeline go on
      this.drop(g, err.cause);
    }
  }

  /** Stops recording a group that cannot be written at all. */
  private drop(g: Group, err: unknown): void {
    const key = `${g.st.kind}/${g.st.name}`;
    if (this.groups.get(key) !== g) return;
    this.groups.delete(key);
    for (const id of g.active) {
      this.byContainer.get(id)?.delete(key);
      this.rejectedContainers.add(id);
    }
    recorderMetrics.groups.set(this.groups.size);
    recorderMetrics.rejected.inc({ reason: 'write-failed' });
    this.opts.log.error({ profile: g.st.name, kind: g.st.kind, err }, 'not recording a profile: its files cannot be written (permanent error)');
  }

  /** Ends a state-write retry in progress (the shutdown grace period is over). */
  abort(): void {
    this.aborter.abort(new AbortedError('writing recorder state'));
  }

  /** The profile(s) of a group as they stand. */
  build(g: Group, final: boolean): RecordedProfile | null {
    const { rec, st } = g;
    const labels: Record<string, string> = { [LABEL_RECORDING_ID]: rec.name, [LABEL_CONTAINER_ID]: st.containerName };
    if (st.namespace) labels[LABEL_RECORDING_NAMESPACE] = st.namespace;
    const evidence: Record<string, Evidence> = {};
    const ev = (s: Seen): Evidence => ({ firstSeen: s.firstSeen, lastSeen: s.lastSeen, count: s.count, exe: s.exe, pod: s.pod, namespace: s.namespace });
    if (rec.kind === 'SeccompProfile') {
      const seen = Object.values(st.seccomp);
      if (seen.length === 0) return null;
      const b = new SeccompProfileBuilder();
      for (const s of seen) {
        b.add(s.arch ?? undefined, s.syscall ?? undefined, s.nr, s.count);
        evidence[s.syscall ?? `${s.arch ?? 'unknown-arch'}:${s.nr}`] = ev(s);
      }
      if (st.sawRunc && this.opts.runcBase !== false) for (const n of RUNC_BASE_SYSCALLS) b.add(undefined, n, undefined, 0);
      for (const [k, n] of b.unnamed) this.opts.log.warn({ profile: st.name, syscall: k, count: n }, 'syscall number without a name on its arch: left out of the profile');
      return {
        recording: rec,
        name: st.name,
        containerName: st.containerName,
        kind: 'SeccompProfile',
        resource: b.toResource({ name: st.name, labels }),
        oci: b.toOci() as unknown as Record<string, unknown>,
        evidence,
        final,
      };
    }
    const seen = Object.values(st.avc);
    if (seen.length === 0) return null;
    const b = new SelinuxProfileBuilder();
    for (const s of seen) {
      b.add({
        decision: 'denied',
        permissions: [s.perm],
        scontext: undefined,
        tcontext: undefined,
        tclass: s.tclass,
        permissive: undefined,
        source: { user: '', role: '', type: s.stype, level: undefined },
        target: { user: '', role: '', type: s.ttype, level: undefined },
      } satisfies AvcInfo);
      evidence[`${s.ttype === s.stype ? SELF : s.ttype}:${s.tclass}:${s.perm}`] = ev(s);
    }
    return { recording: rec, name: st.name, containerName: st.containerName, kind: 'SelinuxProfile', resource: b.toResource(st.name, labels), cil: b.toCil(st.name), evidence, final };
  }

  private async writeProfile(g: Group, trigger: 'container-end' | 'shutdown' | 'late-records'): Promise<void> {
    const p = this.build(g, g.active.size === 0 || trigger === 'shutdown');
    if (p) {
      try {
        await this.opts.out.write(p);
        g.dirty = false;
        recorderMetrics.profilesWritten.inc({ kind: p.kind, trigger });
        this.opts.log.info({ profile: p.name, kind: p.kind, final: p.final, trigger, syscalls: Object.keys(g.st.seccomp).length || undefined }, 'recorded profile written');
      } catch (err) {
        recorderMetrics.writeErrors.inc();
        const kind = countIoError('profile', err);
        this.opts.log.error({ profile: g.st.name, err, kind }, kind === 'permanent' ? 'writing a recorded profile failed (permanent error)' : 'writing a recorded profile failed; written again on the next trigger');
      }
    }
    await this.saveState(g);
  }

  async containerEnded(end: ContainerEnd): Promise<void> {
    this.ended.add(end.container.id);
    if (this.ended.size > 100_000) this.ended.clear(); // bounded; a forgotten id at worst reopens a group
    const keys = this.byContainer.get(end.container.id);
    if (!keys) return;
    this.byContainer.delete(end.container.id);
    for (const key of keys) {
      const g = this.groups.get(key);
      if (!g) continue;
      g.active.delete(end.container.id);
      await this.writeProfile(g, 'container-end');
    }
  }

  /** Profiles of every group with news, as they stand (shutdown). */
  async flush(): Promise<void> {
    for (const g of this.groups.values()) if (g.dirty) await this.writeProfile(g, 'shutdown');
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
