// The embedded recorder (`auditflow run --record`): an EventSink that folds the events of selected
// containers into recording sessions and writes their profiles (ProfileSink) when a container ends and on
// shutdown. Sessions, selection, naming, the profile builder and the profile directory are the ones the
// Kafka aggregator uses (this directory): a profile comes out the same through either path.
//
// A profile group is what one profile is built from: with merge strategy `containers`, the sessions of
// every container of one name selected by a recording (all replicas); with `none`, one container's.
//
// Durability: write() resolves once every tuple *new* to its group is in the group's state file (written
// atomically), so the pipeline's checkpoint never moves past an observation a crash could lose; later
// sightings only raise counts, which are persisted with the next new tuple, on container end and on
// shutdown (after a crash counts may be low; the set of syscalls is complete). State is reloaded at start.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Counter, Gauge } from 'prom-client';
import type { ContainerEnd } from '../event/container-end';
import type { SeccompRun } from '../event/sink';
import type { ContainerRef, EventV1, PodRef } from '../event/v1';
import { writeFileAtomic } from '../io/atomic';
import { AbortedError, countIoError, PermanentOutputError } from '../io/errors';
import type { Logger } from '../log';
import { registry } from '../metrics';
import { retry } from '../retry';
import type { ProfileSink, RecordedProfile, RecordingSpec } from '../profile/recording';
import { RUNC_INIT_COMM } from '../profile/runtime-base';
import { BASE_UNRESOLVED, baseFor, type BaseLookup } from './base';
import { buildProfile } from './build';
import { groupKey, profileName } from './naming';
import { NAME_MAX, profileNameProblem } from './profile-dir';
import { avcTuplesOf, recordingSelects, seccompTupleOf } from './select';
import { applyAvc, applySeccomp, newSession, type SessionState } from './session';
import { avcKey, seccompKey, type SeccompKey } from './tuples';

/** The source of the embedded recorder's counts in its sessions (the aggregator's are `<node>/<epoch>`). */
const SOURCE = 'embedded';

function stateFile(dir: string, st: { kind: string; name: string }): string {
  return path.join(dir, `${st.kind}.${st.name}.json`);
}

/** Why a profile of this kind and name cannot have its files (profile, evidence, state), or undefined. */
function nameProblem(kind: RecordingSpec['kind'], name: string): string | undefined {
  const bad = profileNameProblem(kind, name);
  if (bad) return bad;
  const n = Buffer.byteLength(path.basename(stateFile('', { kind, name })));
  return n > NAME_MAX ? `too long for a file name (${n} bytes with its suffix; the limit is ${NAME_MAX})` : undefined;
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

/** A group's whole state, as JSON: what the state file holds. */
interface GroupState {
  v: 2;
  recording: string;
  kind: RecordingSpec['kind'];
  name: string;
  /** containers contributing that have not ended */
  active: string[];
  sessions: SessionState[];
}

interface Group {
  rec: RecordingSpec;
  kind: RecordingSpec['kind'];
  name: string;
  /** by container id */
  sessions: Map<string, SessionState>;
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
  /** resolves the base profiles recordings name (base.ts baseLookup); none: a profile naming a base is not written */
  bases?: BaseLookup;
}

/** An EventSink (src/sink/types.ts) by its shape: the recording layer sits below the sinks. */
export class Recorder {
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
        if (st.v !== 2 || !rec || !Array.isArray(st.sessions) || st.sessions.length === 0) {
          // v1 (a recorder before the sessions shared with the aggregator) or a recording no longer asked for
          if (st.v !== 2) this.opts.log.warn({ file: f, v: st.v }, 'recorder state of another version: ignored');
          continue;
        }
        const first = st.sessions[0]!;
        const key = groupKey(rec, first.container, first.pod);
        const g: Group = { rec, kind: rec.kind, name: st.name, sessions: new Map(st.sessions.map((x) => [x.container.id, x])), active: new Set(st.active), dirty: false, fresh: false };
        this.groups.set(key, g);
        for (const id of g.active) this.link(id, key);
      } catch (err) {
        this.opts.log.warn({ file: f, err }, 'unreadable recorder state: ignored');
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
    if (!container) return false;
    for (const rec of this.recordings.values()) if (recordingSelects(rec, container, pod)) return true;
    return false;
  }

  private link(containerId: string, key: string): void {
    let s = this.byContainer.get(containerId);
    if (!s) this.byContainer.set(containerId, (s = new Set()));
    s.add(key);
  }

  /** The session of this container in its group (both made on first sight), or null when the profile cannot be named. */
  private sessionFor(rec: RecordingSpec, container: ContainerRef, pod: PodRef | null, at: string): { g: Group; s: SessionState } | null {
    const key = groupKey(rec, container, pod);
    let g = this.groups.get(key);
    if (!g) {
      const name = profileName(rec, container, pod);
      const bad = nameProblem(rec.kind, name);
      if (bad) {
        if (!this.rejectedContainers.has(container.id)) {
          this.rejectedContainers.add(container.id);
          recorderMetrics.rejected.inc({ reason: bad.startsWith('too long') ? 'name-too-long' : 'invalid-name' });
          this.opts.log.warn({ container: container.id, name: name.slice(0, 300), problem: bad }, 'not recording a container: its profile name is invalid');
        }
        return null;
      }
      g = { rec, kind: rec.kind, name, sessions: new Map(), active: new Set(), dirty: true, fresh: true };
      this.groups.set(key, g);
      recorderMetrics.groups.set(this.groups.size);
    }
    if (!g.active.has(container.id) && !this.ended.has(container.id)) {
      g.active.add(container.id);
      this.link(container.id, key);
    }
    let s = g.sessions.get(container.id);
    if (!s) {
      s = newSession(rec.name, rec.kind, 0, 'local', container, pod, at);
      g.sessions.set(container.id, s);
      g.dirty = g.fresh = true;
    }
    return { g, s };
  }

  async write(events: readonly EventV1[]): Promise<void> {
    let seccomp = 0;
    let avcs = 0;
    for (const ev of events) {
      const c = ev.container;
      if (!c || this.rejectedContainers.has(c.id)) continue;
      const sc = seccompTupleOf(ev);
      const avc = sc ? undefined : avcTuplesOf(ev);
      if (!sc && !avc) continue;
      const sighting = { firstSeen: ev.timestamp, lastSeen: ev.timestamp, exe: ev.exe };
      for (const rec of this.recordings.values()) {
        if (!recordingSelects(rec, c, ev.pod)) continue;
        if (rec.kind === 'SeccompProfile' && sc) {
          if (this.addSeccomp(rec, ev, c, sc, sighting, 1)) seccomp++;
        } else if (rec.kind === 'SelinuxProfile' && avc) {
          const gs = this.sessionFor(rec, c, ev.pod, ev.timestamp);
          if (!gs) continue;
          const { g, s } = gs;
          const r = applyAvc(s, avc.map((t) => ({ ...t, ...sighting, count: (s.avc[avcKey(t)]?.counts[SOURCE] ?? 0) + 1 })), SOURCE);
          g.dirty = true;
          if (r.added) g.fresh = true;
          avcs++;
        }
      }
    }
    if (seccomp) recorderMetrics.events.inc({ kind: 'seccomp' }, seccomp);
    if (avcs) recorderMetrics.events.inc({ kind: 'selinux' }, avcs);
    await this.saveFresh();
  }

  /** Runs of logged/allowed SECCOMP records: as their `n` events would be, in one step each (EventSink.writeSeccompRuns). */
  async writeSeccompRuns(runs: readonly SeccompRun[]): Promise<void> {
    let seccomp = 0;
    for (const { ev, n, first, last } of runs) {
      const c = ev.container;
      if (!c || this.rejectedContainers.has(c.id)) continue;
      const sc = seccompTupleOf(ev);
      if (!sc) continue;
      for (const rec of this.recordings.values()) {
        if (rec.kind === 'SeccompProfile' && recordingSelects(rec, c, ev.pod) && this.addSeccomp(rec, ev, c, sc, { firstSeen: first, lastSeen: last, exe: ev.exe }, n)) seccomp += n;
      }
    }
    if (seccomp) recorderMetrics.events.inc({ kind: 'seccomp' }, seccomp);
    await this.saveFresh();
  }

  /** `n` sightings of a syscall by a selected container; false when its profile cannot be named. */
  private addSeccomp(rec: RecordingSpec, ev: EventV1, c: ContainerRef, sc: SeccompKey, sighting: { firstSeen: string; lastSeen: string; exe: string | null }, n: number): boolean {
    const gs = this.sessionFor(rec, c, ev.pod, sighting.firstSeen);
    if (!gs) return false;
    const { g, s } = gs;
    const hadInit = s.runtimeInit === true;
    // counts are cumulative per source: these sightings are n more than the session holds
    const count = (s.seccomp[seccompKey(sc)]?.counts[SOURCE] ?? 0) + n;
    const r = applySeccomp(s, [{ ...sc, ...sighting, count, ...(ev.comm === RUNC_INIT_COMM ? { runtimeInit: true as const } : {}) }], SOURCE);
    g.dirty = true;
    if (r.added || (!hadInit && s.runtimeInit)) g.fresh = true;
    return true;
  }

  /** Groups with news: state saved, or the profile written again when its containers had all ended (late records). */
  private async saveFresh(): Promise<void> {
    for (const g of this.groups.values()) {
      if (!g.fresh) continue;
      if (g.active.size === 0) await this.writeProfile(g, 'late-records');
      else await this.saveState(g);
    }
  }

  private async saveState(g: Group): Promise<void> {
    g.fresh = false;
    if (!this.opts.stateDir) return;
    const st: GroupState = { v: 2, recording: g.rec.name, kind: g.kind, name: g.name, active: [...g.active], sessions: [...g.sessions.values()] };
    const dir = this.opts.stateDir;
    try {
      await retry(
        async () => {
          await fsp.mkdir(dir, { recursive: true });
          await writeFileAtomic(stateFile(dir, st), JSON.stringify(st));
        },
        (err, attempt) => {
          recorderMetrics.writeErrors.inc();
          if (countIoError('recorder-state', err) === 'permanent') throw new PermanentOutputError(`cannot write the recorder state of ${g.name}`, err);
          // transient (disk full): the pipeline waits (no ack) rather than lose a tuple; logged and counted
          if (attempt % 20 === 0) this.opts.log.error({ group: g.name, err }, 'writing recorder state failed; retrying');
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
    const key = [...this.groups].find(([, x]) => x === g)?.[0];
    if (key === undefined) return;
    this.groups.delete(key);
    for (const id of g.active) {
      this.byContainer.get(id)?.delete(key);
      this.rejectedContainers.add(id);
    }
    recorderMetrics.groups.set(this.groups.size);
    recorderMetrics.rejected.inc({ reason: 'write-failed' });
    this.opts.log.error({ profile: g.name, kind: g.kind, err }, 'not recording a profile: its files cannot be written (permanent error)');
  }

  /** Ends a state-write retry in progress (the shutdown grace period is over). */
  abort(): void {
    this.aborter.abort(new AbortedError('writing recorder state'));
  }

  /** The profile of a group as it stands. */
  async build(g: Group, final: boolean): Promise<RecordedProfile | null> {
    const base = await baseFor(g.rec, this.opts.bases, this.opts.log);
    // a base that cannot be resolved: nothing is written (base.ts baseFor says why); the group stays dirty
    if (base && 'error' in base) {
      await this.opts.out.notWritten?.(g.rec, BASE_UNRESOLVED, `${g.name}: ${base.error}`);
      return null;
    }
    return buildProfile(g.rec, [...g.sessions.values()], final, { runcBase: this.opts.runcBase, log: this.opts.log, base });
  }

  private async writeProfile(g: Group, trigger: 'container-end' | 'shutdown' | 'late-records'): Promise<void> {
    const p = await this.build(g, g.active.size === 0 || trigger === 'shutdown');
    if (p) {
      try {
        await this.opts.out.write(p);
        g.dirty = false;
        recorderMetrics.profilesWritten.inc({ kind: p.kind, trigger });
        this.opts.log.info({ profile: p.name, kind: p.kind, final: p.final, trigger, entries: Object.keys(p.evidence).length }, 'recorded profile written');
      } catch (err) {
        recorderMetrics.writeErrors.inc();
        const kind = countIoError('profile', err);
        this.opts.log.error({ profile: g.name, err, kind }, kind === 'permanent' ? 'writing a recorded profile failed (permanent error)' : 'writing a recorded profile failed; written again on the next trigger');
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
