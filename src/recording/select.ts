// Which containers a recording records, and which events make recording tuples: one rule for the embedded
// recorder, the Kafka node sink's dedup and the aggregator.
//
// Recordings select the workload containers of pods, as SPO's ProfileRecording does: a container outside
// any pod, and a pod's sandbox (pause) container, are never recorded.

import type { ContainerRef, EventV1, PodRef } from '../event/v1';
import type { RecordingSpec } from '../profile/recording';
import { matchesSelector } from '../profile/selector';
import type { AvcKey, SeccompKey } from './tuples';

/** Whether any recording could record this container. */
export function recordable(container: ContainerRef, pod: PodRef | null): pod is PodRef {
  return pod !== null && !container.sandbox;
}

/** Whether `rec` records this container: its namespace, pod selector and container allow-list. */
export function recordingSelects(rec: RecordingSpec, container: ContainerRef, pod: PodRef | null): boolean {
  if (!recordable(container, pod)) return false;
  if (rec.namespace !== null && rec.namespace !== pod.namespace) return false;
  if (rec.containers?.length && !rec.containers.includes(container.name ?? '')) return false;
  return matchesSelector(rec.podSelector, pod.labels);
}

/**
 * Whether some recording of `recordings` (a node's own list) selects this container; with an empty list,
 * any recordable one (the node does not know the recordings; the aggregator decides).
 */
export function selectedByRecordings(recordings: readonly RecordingSpec[], container: ContainerRef, pod: PodRef | null): boolean {
  if (recordings.length === 0) return recordable(container, pod);
  return recordings.some((r) => recordingSelects(r, container, pod));
}

/** Whether the event has a seccomp tuple (seccompTupleOf), without building it: the node sink asks for every event. */
export function hasSeccompTuple(ev: EventV1): boolean {
  return ev.enrichment === 'resolved' && ev.kind === 'seccomp' && (ev.action === 'log' || ev.action === 'allow') && ev.syscallNr !== undefined;
}

/** The seccomp tuple of an event: a syscall the filter let through (log/allow) of a resolved container. */
export function seccompTupleOf(ev: EventV1): SeccompKey | undefined {
  if (!hasSeccompTuple(ev)) return undefined;
  return { arch: ev.arch ?? null, syscall: ev.syscall ?? null, nr: ev.syscallNr! };
}

/**
 * The AVC tuples of an event, one per permission. Only the kernel's AVC denials make tuples: a USER_AVC's
 * text is whatever its sender wrote (any process with CAP_AUDIT_WRITE, as a pod's processes have by
 * default), so a pod could allow itself anything by reporting it. An event cut at the coalescer's caps is
 * not whole: not used either.
 */
export function avcTuplesOf(ev: EventV1): AvcKey[] | undefined {
  const s = ev.selinux;
  if (ev.enrichment !== 'resolved' || ev.type !== 'AVC' || ev.truncated || !s || s.decision !== 'denied') return undefined;
  if (!s.source?.type || !s.target?.type || !s.tclass || s.permissions.length === 0) return undefined;
  return s.permissions.map((perm) => ({ stype: s.source!.type, ttype: s.target!.type, tclass: s.tclass!, perm }));
}
