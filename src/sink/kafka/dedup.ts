// Node-side dedup for recording: a busy recorded container makes tens of thousands of seccomp records a
// second, but a profile only needs each distinct (syscall, arch, action) or AVC (scontext type, tcontext
// type, tclass, permission) once. Each container's tuples are kept here with a cumulative count and
// first/last seen.
//
// Durability: a tuple seen for the first time is handed out at once (takeFresh) and the write that
// carried it waits for its acknowledgement, so the profile's content never depends on memory; later
// sightings only raise the count and are sent once per flush interval (takeChanged). Counts are
// cumulative per (node, epoch, container, tuple), so the aggregator takes the maximum per source and a
// redelivered message never double counts.

import type { ContainerRef, EventV1, PodRef } from '../../event/v1';
import { RUNC_INIT_COMM } from '../../profile/runtime-base';
import type { RecordingSpec } from '../../profile/recording';
import { avcTuplesOf, hasSeccompTuple, selectedByRecordings } from '../../recording/select';
import { RECORDING_SCHEMA, type AvcTuple, type SeccompTuple, type TuplesMessage } from '../../kafka/messages';

interface Entry<T> {
  tuple: T;
  fresh: boolean;
  dirty: boolean;
}

interface ContainerState {
  container: ContainerRef;
  pod: PodRef | null;
  seccomp: Map<string, Entry<SeccompTuple>>;
  avc: Map<string, Entry<AvcTuple>>;
  fresh: boolean;
  dirty: boolean;
}

/** Tuples per message: keeps a message far below the broker's 1 MB default limit. */
const MAX_TUPLES = 500;

export class RecordingDedup {
  private readonly containers = new Map<string, ContainerState>();
  /** Recordable events folded in since the start (for the bench and metrics). */
  events = 0;

  constructor(
    readonly node: string,
    readonly epoch: string,
    private readonly recordings: readonly RecordingSpec[],
  ) {}

  /**
   * Folds a recordable event into its container's tuples. Returns true when the event is fully represented
   * by the tuples (seccomp log/allow), false when it must also go out as a full event (not recordable, or
   * an AVC, which is a denial worth seeing on its own).
   */
  add(ev: EventV1): boolean {
    return this.addRun(ev, 1, ev.timestamp, ev.timestamp);
  }

  /** add() for `n` records that differ from `ev` only in their stamps, the earliest `first` and the latest `last`. */
  addRun(ev: EventV1, n: number, first: string, last: string): boolean {
    const container = ev.container;
    if (!container || ev.enrichment !== 'resolved') return false;
    // the rules the embedded recorder applies (src/recording/select.ts): seccomp log/allow, whole kernel AVC denials
    const isSeccomp = hasSeccompTuple(ev);
    const avc = ev.selinux;
    const isAvc = avcTuplesOf(ev) !== undefined;
    if (!isSeccomp && !isAvc) return false;
    if (!selectedByRecordings(this.recordings, container, ev.pod)) return false;
    let st = this.containers.get(container.id);
    if (!st) {
      st = { container, pod: ev.pod, seccomp: new Map(), avc: new Map(), fresh: false, dirty: false };
      this.containers.set(container.id, st);
    }
    this.events += n;
    if (isSeccomp) {
      const key = `${ev.arch ?? ''}\0${ev.syscallNr}\0${ev.action}`;
      this.bump(st, st.seccomp, key, n, first, last, () => ({
        arch: ev.arch ?? null,
        syscall: ev.syscall ?? null,
        nr: ev.syscallNr!,
        action: ev.action!,
        count: 0,
        firstSeen: first,
        lastSeen: last,
        exe: ev.exe,
      }));
      // the aggregator stacks runc's base syscalls on profiles of containers started through runc's init
      if (ev.comm === RUNC_INIT_COMM) {
        const e = st.seccomp.get(key)!;
        if (!e.tuple.runtimeInit) {
          e.tuple.runtimeInit = true;
          if (!e.fresh) st.dirty = e.dirty = true;
        }
      }
      return true;
    }
    for (const perm of avc!.permissions) {
      const key = `${avc!.source!.type}\0${avc!.target!.type}\0${avc!.tclass}\0${perm}`;
      this.bump(st, st.avc, key, n, first, last, () => ({
        stype: avc!.source!.type,
        ttype: avc!.target!.type,
        tclass: avc!.tclass!,
        perm,
        decision: avc!.decision,
        count: 0,
        firstSeen: first,
        lastSeen: last,
        exe: ev.exe,
      }));
    }
    return false;
  }

  private bump<T extends { count: number; firstSeen: string; lastSeen: string }>(
    st: ContainerState,
    map: Map<string, Entry<T>>,
    key: string,
    n: number,
    first: string,
    last: string,
    make: () => T,
  ): void {
    let e = map.get(key);
    if (!e) {
      map.set(key, (e = { tuple: make(), fresh: true, dirty: false }));
      st.fresh = true;
    } else if (!e.fresh) {
      e.dirty = true;
      st.dirty = true;
    }
    e.tuple.count += n;
    // events may come slightly out of order across files; keep the true extremes
    if (first < e.tuple.firstSeen) e.tuple.firstSeen = first;
    if (last > e.tuple.lastSeen) e.tuple.lastSeen = last;
  }

  /** Messages for the tuples seen for the first time since the last call (send them before acking). */
  takeFresh(): TuplesMessage[] {
    const out: TuplesMessage[] = [];
    for (const st of this.containers.values()) {
      if (!st.fresh) continue;
      st.fresh = false;
      out.push(...this.messages(st, (e) => e.fresh));
    }
    return out;
  }

  /** Messages for every tuple whose count moved since it was last sent (once per flush interval). */
  takeChanged(): TuplesMessage[] {
    const out: TuplesMessage[] = [];
    for (const st of this.containers.values()) {
      if (!st.dirty && !st.fresh) continue;
      st.dirty = st.fresh = false;
      out.push(...this.messages(st, (e) => e.fresh || e.dirty));
    }
    return out;
  }

  /** The container's unsent changes, and forget it (it ended; the end marker follows these). */
  takeContainer(id: string): TuplesMessage[] {
    const st = this.containers.get(id);
    if (!st) return [];
    this.containers.delete(id);
    return this.messages(st, (e) => e.fresh || e.dirty);
  }

  get containerCount(): number {
    return this.containers.size;
  }

  private messages(st: ContainerState, pick: (e: Entry<unknown>) => boolean): TuplesMessage[] {
    const seccomp: SeccompTuple[] = [];
    const avc: AvcTuple[] = [];
    for (const e of st.seccomp.values()) {
      if (!pick(e)) continue;
      e.fresh = e.dirty = false;
      seccomp.push({ ...e.tuple });
    }
    for (const e of st.avc.values()) {
      if (!pick(e)) continue;
      e.fresh = e.dirty = false;
      avc.push({ ...e.tuple });
    }
    const out: TuplesMessage[] = [];
    for (let i = 0; i < seccomp.length || i < avc.length; i += MAX_TUPLES) {
      out.push({
        schema: RECORDING_SCHEMA,
        type: 'tuples',
        node: this.node,
        epoch: this.epoch,
        container: st.container,
        pod: st.pod,
        seccomp: seccomp.slice(i, i + MAX_TUPLES),
        avc: avc.slice(i, i + MAX_TUPLES),
      });
    }
    return out;
  }
}
