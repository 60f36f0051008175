// A recording session: what one recording saw of one container (one replica), as a plain JSON-able state
// so it can be stored durably and reloaded: by the embedded recorder after a restart, by whichever
// aggregator instance owns the session's partition next. Applying an observation is a set union with
// max-per-source counts: applying the same message twice (redelivery after a crash or rebalance) leaves the
// state unchanged.

import type { ContainerRef, PodRef } from '../event/v1';
import type { RecordingKind } from '../profile/recording';
import { avcKey, seccompKey, type AvcKey, type AvcObservation, type SeccompKey, type SeccompObservation, type Sighting } from './tuples';

/** A tuple as a session holds it: first/last seen over all sources, and a cumulative count per source. */
interface Seen extends Sighting {
  /** Cumulative count per source (`<node>/<epoch>`, or the embedded recorder's): the maximum reported, summed over sources. */
  counts: Record<string, number>;
}

export interface SeccompSeen extends SeccompKey, Seen {}
export interface AvcSeen extends AvcKey, Seen {}

export interface SessionState {
  v: 1;
  /** `<recording>/<container id>` */
  id: string;
  recording: string;
  kind: RecordingKind;
  /** The recordings-topic partition whose messages feed this session (its owner loads it on rebalance); 0 in the embedded recorder. */
  partition: number;
  node: string;
  container: ContainerRef;
  pod: PodRef | null;
  startedAt: string;
  ended: { at: string; reason: string } | null;
  seccomp: Record<string, SeccompSeen>;
  /** runc's init ran under the filter: the profile gets runc's base syscalls (profile/runtime-base.ts) */
  runtimeInit?: boolean;
  avc: Record<string, AvcSeen>;
}

export function newSession(
  recording: string,
  kind: RecordingKind,
  partition: number,
  node: string,
  container: ContainerRef,
  pod: PodRef | null,
  startedAt: string,
): SessionState {
  return { v: 1, id: `${recording}/${container.id}`, recording, kind, partition, node, container, pod, startedAt, ended: null, seccomp: {}, avc: {} };
}

function merge(seen: Seen, t: { firstSeen: string; lastSeen: string; exe: string | null; count: number }, source: string): boolean {
  let changed = false;
  if (t.firstSeen < seen.firstSeen || (t.firstSeen === seen.firstSeen && (t.exe ?? '') < (seen.exe ?? ''))) {
    seen.firstSeen = t.firstSeen;
    seen.exe = t.exe;
    changed = true;
  }
  if (t.lastSeen > seen.lastSeen) {
    seen.lastSeen = t.lastSeen;
    changed = true;
  }
  if ((seen.counts[source] ?? 0) < t.count) {
    seen.counts[source] = t.count;
    changed = true;
  }
  return changed;
}

/** Applies seccomp tuples; returns whether the session changed and whether a new syscall appeared. */
export function applySeccomp(s: SessionState, tuples: readonly SeccompObservation[], source: string): { changed: boolean; added: boolean } {
  let changed = false;
  let added = false;
  for (const t of tuples) {
    const key = seccompKey(t);
    const seen = s.seccomp[key];
    if (t.runtimeInit && !s.runtimeInit) s.runtimeInit = changed = true;
    if (!seen) {
      s.seccomp[key] = { arch: t.arch, syscall: t.syscall, nr: t.nr, firstSeen: t.firstSeen, lastSeen: t.lastSeen, exe: t.exe, counts: { [source]: t.count } };
      changed = added = true;
    } else if (merge(seen, t, source)) changed = true;
  }
  return { changed, added };
}

export function applyAvc(s: SessionState, tuples: readonly AvcObservation[], source: string): { changed: boolean; added: boolean } {
  let changed = false;
  let added = false;
  for (const t of tuples) {
    const key = avcKey(t);
    const seen = s.avc[key];
    if (!seen) {
      s.avc[key] = { stype: t.stype, ttype: t.ttype, tclass: t.tclass, perm: t.perm, firstSeen: t.firstSeen, lastSeen: t.lastSeen, exe: t.exe, counts: { [source]: t.count } };
      changed = added = true;
    } else if (merge(seen, t, source)) changed = true;
  }
  return { changed, added };
}

export function totalCount(seen: Seen): number {
  let n = 0;
  for (const c of Object.values(seen.counts)) n += c;
  return n;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A stored snapshot back into a session, or null when it is not one (counted by the caller). */
export function parseSession(text: string): SessionState | null {
  try {
    const v = JSON.parse(text) as unknown;
    if (!isObj(v) || v.v !== 1 || typeof v.id !== 'string' || typeof v.recording !== 'string' || typeof v.partition !== 'number') return null;
    if (!isObj(v.container) || !isObj(v.seccomp) || !isObj(v.avc)) return null;
    return v as unknown as SessionState;
  } catch {
    return null;
  }
}
