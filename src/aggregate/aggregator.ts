// The aggregator: a kafkajs consumer group over the recordings topic; any number of instances share its
// partitions. Per batch: apply the tuples and end markers to recording sessions, store the sessions that
// changed (state-store.ts), write the profiles whose sessions ended, and only then commit the offsets.
// Malformed messages are counted, logged and skipped; their offsets advance with the rest.

import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { ContainerRef, PodRef } from '../event/v1';
import { type Logger, worthLogging } from '../log';
import type { ProfileSink, RecordingSource, RecordingSpec } from '../profile/recording';
import { createKafka, type ClientOptions } from '../kafka/client';
import { DEFAULT_RECORDINGS_TOPIC, MalformedMessage, type EndMessage, type TuplesMessage } from '../kafka/messages';
import { RecordingDecoder } from '../kafka/recording-decoder';
import { aggregateMetrics } from './metrics';
import { BASE_UNRESOLVED, baseFor, type BaseLookup } from '../recording/base';
import { buildProfile, ProfileNameError } from '../recording/build';
import { groupKey } from '../recording/naming';
import { recordingSelects } from '../recording/select';
import { applyAvc, applySeccomp, newSession, type SessionState } from '../recording/session';
import { defaultStateTopic, ensureTopic, FileStateStore, KafkaStateStore, type StateStore } from './state-store';

export interface AggregatorOptions extends ClientOptions {
  /** Consumer group shared by the instances; default auditflow-aggregator. */
  group?: string;
  recordingsTopic?: string;
  /** Compacted topic for session state (default), unless stateDir is given. */
  stateTopic?: string;
  /** Local state files instead of the state topic (single instance, or a shared volume). */
  stateDir?: string;
  /** Which containers to record; the Kubernetes controller plugs in its own. */
  source: RecordingSource;
  /** Where profiles go: a profile directory, or the Kubernetes API (the recording controller's sink). */
  sink: ProfileSink;
  /** Resolves the base profiles recordings name (src/recording/base.ts); without one, or when it cannot resolve a base, that profile is not written. */
  bases?: BaseLookup;
  /** How fast a dead instance's partitions move to the others; default 10 s. */
  sessionTimeoutMs?: number;
}

export interface AggregatorStats {
  messages: number;
  malformed: number;
  sessions: number;
  ended: number;
  profilesWritten: number;
  assigned: number[];
}

export class Aggregator {
  private readonly kafka: Kafka;
  private readonly store: StateStore;
  private consumer: Consumer | null = null;
  private readonly sessions = new Map<string, SessionState>();
  private assigned = new Set<number>();
  private loaded = new Set<number>();
  private chain: Promise<void> = Promise.resolve();
  private known = new Map<string, RecordingSpec>();
  private readonly counts = { messages: 0, malformed: 0, profilesWritten: 0 };
  /** Keeps the container/pod texts it has checked: one per aggregator. */
  private readonly decoder = new RecordingDecoder();
  private joined = false;
  readonly group: string;
  readonly topic: string;

  constructor(
    private readonly opts: AggregatorOptions,
    private readonly log: Logger,
    kafka?: Kafka,
  ) {
    this.kafka = kafka ?? createKafka(opts, log, { clientId: 'auditflow-aggregator' });
    this.group = opts.group ?? 'auditflow-aggregator';
    this.topic = opts.recordingsTopic ?? DEFAULT_RECORDINGS_TOPIC;
    this.store = opts.stateDir
      ? new FileStateStore(opts.stateDir, log)
      : new KafkaStateStore(this.kafka, opts.stateTopic ?? defaultStateTopic(this.group), this.group, log);
  }

  async start(): Promise<void> {
    await this.store.start();
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopic(admin, this.topic, []);
    } finally {
      await admin.disconnect();
    }
    this.known = new Map(this.opts.source.list().map((r) => [r.name, r]));
    this.opts.source.onChange(() => {
      this.serialize(() => this.recordingsChanged()).catch((e: unknown) => this.log.error({ err: e }, 'cannot finish removed recordings'));
    });
    const consumer = this.kafka.consumer({
      groupId: this.group,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 30_000,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: true,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const parts = e.payload.memberAssignment[this.topic] ?? [];
      this.serialize(async () => this.reassigned(parts)).catch(() => undefined);
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.serialize(() => this.onBatch(payload)),
    });
    this.log.info({ group: this.group, topic: this.topic, state: this.store.description }, 'aggregator started');
  }

  /** Resolves once this instance has joined the group (has an assignment, possibly empty). */
  async ready(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.joined) {
      if (Date.now() > end) throw new Error(`aggregator did not join group ${this.group} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  stats(): AggregatorStats {
    let ended = 0;
    for (const s of this.sessions.values()) if (s.ended) ended++;
    return { ...this.counts, sessions: this.sessions.size, ended, assigned: [...this.assigned].sort((a, b) => a - b) };
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    await this.chain.catch(() => undefined);
    await this.store.close();
  }

  /** Batches, rebalances and recording changes touch the sessions one at a time. */
  private serialize(fn: () => Promise<void>): Promise<void> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private reassigned(parts: number[]): void {
    this.joined = true;
    this.assigned = new Set(parts);
    for (const p of this.loaded) if (!this.assigned.has(p)) this.loaded.delete(p);
    // sessions of partitions that moved away belong to their new owner now (it loads them from the store)
    for (const [id, s] of this.sessions) if (!this.assigned.has(s.partition)) this.sessions.delete(id);
    this.updateGauges();
    this.log.info({ partitions: [...parts].sort((a, b) => a - b) }, 'partitions assigned');
  }

  private async ensureLoaded(partition: number): Promise<void> {
    if (this.loaded.has(partition)) return;
    const stored = await this.store.load([partition]);
    for (const s of stored) if (!this.sessions.has(s.id)) this.sessions.set(s.id, s);
    this.loaded.add(partition);
    if (stored.length) this.log.info({ partition, sessions: stored.length }, 'loaded stored sessions');
  }

  private recording(name: string): RecordingSpec | undefined {
    return this.opts.source.list().find((r) => r.name === name);
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const partition = batch.partition;
    await this.ensureLoaded(partition);
    const dirty = new Set<string>();
    const emit = new Set<string>();
    // once per batch, not per message: the Kubernetes source rebuilds, checks and sorts its list on every call
    // (the list cannot change while this synchronous loop runs)
    const sel = new Selection(this.opts.source.list());
    let ok = 0;
    for (const m of batch.messages) {
      this.counts.messages++;
      try {
        const msg = this.decoder.decode(m.value);
        if (msg.type === 'tuples') this.applyTuples(msg, partition, dirty, emit, sel);
        else this.applyEnd(msg, dirty, emit);
        ok++;
      } catch (e) {
        const malformed = e instanceof MalformedMessage;
        this.counts.malformed++;
        aggregateMetrics.messages.inc({ result: malformed ? 'malformed' : 'error' });
        if (malformed) aggregateMetrics.malformed.inc();
        if (worthLogging(this.counts.malformed, 20)) {
          this.log.warn({ partition, offset: m.offset, err: e, skipped: this.counts.malformed }, 'skipping a message that is not a recording message');
        }
      }
    }
    // counted once a batch: a labelled inc() per message was a measurable share of the loop
    aggregateMetrics.messages.inc({ result: 'ok' }, ok);
    // durability order: sessions stored → profiles written → offsets committed
    await this.store.save([...dirty].map((id) => this.sessions.get(id)!).filter((s) => s !== undefined));
    aggregateMetrics.stateWrites.inc(dirty.size);
    await heartbeat();
    for (const key of emit) await this.emitGroup(key);
    const last = batch.messages[batch.messages.length - 1]!.offset;
    await this.consumer!.commitOffsets([{ topic: batch.topic, partition, offset: String(Number(last) + 1) }]);
    resolveOffset(last);
    await heartbeat();
    this.updateGauges();
  }

  private applyTuples(msg: TuplesMessage, partition: number, dirty: Set<string>, emit: Set<string>, sel: Selection): void {
    const source = `${msg.node}/${msg.epoch}`;
    for (const { rec, id } of sel.of(msg.container, msg.pod)) {
      const tuples = rec.kind === 'SeccompProfile' ? msg.seccomp : msg.avc;
      if (tuples.length === 0) continue;
      let s = this.sessions.get(id);
      if (!s) {
        let first = tuples[0]!.firstSeen;
        for (const t of tuples) if (t.firstSeen < first) first = t.firstSeen;
        s = newSession(rec.name, rec.kind, partition, msg.node, msg.container, msg.pod, first);
        this.sessions.set(id, s);
        this.log.info({ session: id, pod: msg.pod ? `${msg.pod.namespace}/${msg.pod.name}` : null }, 'recording session started');
      }
      const r = rec.kind === 'SeccompProfile' ? applySeccomp(s, msg.seccomp, source) : applyAvc(s, msg.avc, source);
      if (r.changed) dirty.add(id);
      // late tuples for an ended session (e.g. replayed from a node's spool): the profile grows, write it again
      if (s.ended && r.added) emit.add(groupKey(rec, s.container, s.pod));
    }
  }

  private applyEnd(msg: EndMessage, dirty: Set<string>, emit: Set<string>): void {
    for (const s of this.sessions.values()) {
      if (s.container.id !== msg.container.id) continue;
      if (!s.ended) {
        s.ended = { at: msg.at, reason: msg.reason };
        dirty.add(s.id);
        this.log.info({ session: s.id, reason: msg.reason }, 'recording session ended');
      }
      const rec = this.recording(s.recording);
      // a redelivered end marker writes the (same) profile again: harmless, and covers a crash between
      // storing the ended session and writing its profile
      if (rec) emit.add(groupKey(rec, s.container, s.pod));
    }
  }

  /** Writes the profile of a group (naming.ts groupKey), with `spec` when the recording left the source. */
  private async emitGroup(key: string, spec?: RecordingSpec): Promise<void> {
    const head = key.slice(0, key.indexOf('\0'));
    const rec = spec ?? this.recording(head.slice(head.indexOf('/') + 1));
    if (!rec) return;
    const members = [...this.sessions.values()].filter((s) => s.recording === rec.name && groupKey(rec, s.container, s.pod) === key);
    if (members.length === 0) return;
    const final = members.every((s) => s.ended);
    const base = await baseFor(rec, this.opts.bases, this.log);
    // a base that cannot be resolved: nothing is written (counted and logged by baseFor); the sessions keep
    // what was recorded, and the group's next emit (late records, a redelivered end, the recording's removal)
    // tries again
    if (base && 'error' in base) {
      await this.opts.sink.notWritten?.(rec, BASE_UNRESOLVED, `${key.slice(key.indexOf('\0') + 1)}: ${base.error}`);
      return;
    }
    let profile;
    try {
      profile = buildProfile(rec, members, final, { log: this.log, base });
    } catch (e) {
      if (!(e instanceof ProfileNameError)) throw e;
      aggregateMetrics.profileErrors.inc();
      this.log.error({ recording: rec.name, err: e.message }, 'cannot name the profile; not written');
      return;
    }
    if (!profile) return;
    await this.opts.sink.write(profile);
    this.counts.profilesWritten++;
    aggregateMetrics.profiles.inc({ kind: profile.kind, final: String(final) });
    this.log.info({ profile: profile.name, final, sessions: members.length, entries: Object.keys(profile.evidence).length }, 'profile written');
  }

  /** A recording that disappeared from the source is stopped: its sessions end and its profiles are written. */
  private async recordingsChanged(): Promise<void> {
    const now = new Map(this.opts.source.list().map((r) => [r.name, r]));
    const removed = [...this.known.values()].filter((r) => !now.has(r.name));
    this.known = now;
    for (const rec of removed) {
      const mine = [...this.sessions.values()].filter((s) => s.recording === rec.name);
      for (const s of mine) if (!s.ended) s.ended = { at: new Date().toISOString(), reason: 'stop' };
      await this.store.save(mine);
      // the spec is gone from the source: build with the one the sessions were recorded under
      for (const key of new Set(mine.map((s) => groupKey(rec, s.container, s.pod)))) await this.emitGroup(key, rec);
      for (const s of mine) this.sessions.delete(s.id);
      this.log.info({ recording: rec.name, sessions: mine.length }, 'recording stopped');
    }
    this.updateGauges();
  }

  private updateGauges(): void {
    let ended = 0;
    for (const s of this.sessions.values()) if (s.ended) ended++;
    aggregateMetrics.sessions.set({ state: 'active' }, this.sessions.size - ended);
    aggregateMetrics.sessions.set({ state: 'ended' }, ended);
  }
}

/**
 * The recordings of one batch that select a container, with their session ids, remembered for the container
 * and pod of the last message: the recording decoder hands out one shared pair per container, so a run of
 * one container's messages asks recordingSelects (label selectors) once.
 */
class Selection {
  /**
   * Per container object: the recording decoder hands over the same container and pod objects for every
   * message of a container, and nodes interleave containers, so a last-one memo would miss on most messages.
   */
  private readonly memo = new Map<ContainerRef, { pod: PodRef | null; matches: Array<{ rec: RecordingSpec; id: string }> }>();

  constructor(private readonly recs: readonly RecordingSpec[]) {}

  of(container: ContainerRef, pod: PodRef | null): ReadonlyArray<{ rec: RecordingSpec; id: string }> {
    const m = this.memo.get(container);
    if (m && m.pod === pod) return m.matches;
    const matches = this.recs.filter((rec) => recordingSelects(rec, container, pod)).map((rec) => ({ rec, id: `${rec.name}/${container.id}` }));
    this.memo.set(container, { pod, matches });
    return matches;
  }
}
