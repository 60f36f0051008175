// The Kafka wire format shared by the node sink (producer) and the aggregator (consumer). Values are JSON
// (UTF-8); every message carries the headers `auditflow-schema` (what the value is) and `auditflow-node`.
//
// Topic auditflow.events: one full enriched event (schema auditflow.event/v1) per message, keyed by pod uid
// (container id when no pod, node name for host events), plus `auditflow.suppressed/v1` summaries of what
// the per-container rate limit held back.
// Topic auditflow.recordings: deduplicated recording tuples and end markers (schema auditflow.recording/v1),
// keyed by `<namespace>/<container name>` so that every replica that a merge strategy may combine, and the
// end marker after a container's tuples, land on one partition (one aggregator instance, in order).

import type { ContainerRef, PodRef } from '../event/v1';

export const HEADER_SCHEMA = 'auditflow-schema';
export const HEADER_NODE = 'auditflow-node';
export const RECORDING_SCHEMA = 'auditflow.recording/v1';
export const SUPPRESSED_SCHEMA = 'auditflow.suppressed/v1';
export const DEFAULT_EVENTS_TOPIC = 'auditflow.events';
export const DEFAULT_RECORDINGS_TOPIC = 'auditflow.recordings';

/** One distinct seccomp observation of a container: (syscall, arch, action). */
export interface SeccompTuple {
  arch: string | null;
  syscall: string | null;
  nr: number;
  action: string;
  /** Cumulative count since `epoch` started tracking this container (so redelivery never double counts). */
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** The executable of the first observation. */
  exe: string | null;
  /** Some sighting was by the container runtime's init (runc:[2:INIT]) before it exec'd the workload. */
  runtimeInit?: true;
}

/** One distinct AVC permission of a container: (scontext type, tcontext type, tclass, permission). */
export interface AvcTuple {
  stype: string;
  ttype: string;
  tclass: string;
  perm: string;
  decision: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  exe: string | null;
}

export interface TuplesMessage {
  schema: typeof RECORDING_SCHEMA;
  type: 'tuples';
  node: string;
  /** Identifies one run of the node sink (counts restart with it). */
  epoch: string;
  container: ContainerRef;
  pod: PodRef | null;
  seccomp: SeccompTuple[];
  avc: AvcTuple[];
}

export interface EndMessage {
  schema: typeof RECORDING_SCHEMA;
  type: 'end';
  node: string;
  container: ContainerRef;
  pod: PodRef | null;
  at: string;
  reason: 'exited' | 'pod-removed' | 'stop';
}

export type RecordingMessage = TuplesMessage | EndMessage;

export interface SuppressedMessage {
  schema: typeof SUPPRESSED_SCHEMA;
  node: string;
  container: ContainerRef | null;
  pod: PodRef | null;
  /** Events held back by the rate limit in [since, until], by record type. */
  count: number;
  byType: Record<string, number>;
  since: string;
  until: string;
}

/** The events-topic key: one container's events stay ordered on one partition. */
export function eventKey(pod: PodRef | null, container: ContainerRef | null, node: string): string {
  return pod?.uid || container?.id || node;
}

/** The recordings-topic key (see the header comment for why it is not the pod uid). */
export function recordingKey(pod: PodRef | null, container: ContainerRef): string {
  return pod ? `${pod.namespace}/${container.name ?? container.id}` : container.id;
}

export class MalformedMessage extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const strOrNull = (v: unknown): boolean => v === null || typeof v === 'string';

export function checkContainer(v: unknown): ContainerRef {
  if (!isObj(v) || !isStr(v.id) || v.id === '' || !strOrNull(v.name ?? null)) throw new MalformedMessage('container must be {id, name}');
  return { id: v.id, name: (v.name as string | null) ?? null, runtime: isStr(v.runtime) ? v.runtime : null, image: isStr(v.image) ? v.image : null };
}

export function checkPod(v: unknown): PodRef | null {
  if (v === null || v === undefined) return null;
  if (!isObj(v) || !isStr(v.name) || !isStr(v.namespace) || !isStr(v.uid)) throw new MalformedMessage('pod must be {name, namespace, uid, labels}');
  const labels: Record<string, string> = {};
  if (v.labels !== undefined) {
    if (!isObj(v.labels)) throw new MalformedMessage('pod.labels must be an object');
    for (const [k, l] of Object.entries(v.labels)) {
      if (!isStr(l)) throw new MalformedMessage(`pod label ${k} is not a string`);
      labels[k] = l;
    }
  }
  return { name: v.name, namespace: v.namespace, uid: v.uid, labels };
}

function checkTime(v: unknown, what: string): string {
  if (!isStr(v) || Number.isNaN(Date.parse(v))) throw new MalformedMessage(`${what} is not a timestamp`);
  return v;
}

function checkCount(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new MalformedMessage('count must be a positive integer');
  return v;
}

/**
 * Parses and validates a recordings-topic value. Throws MalformedMessage (never anything else) for input
 * that is not JSON or not this schema: the consumer counts and skips it.
 */
export function decodeRecordingMessage(value: Buffer | null): RecordingMessage {
  if (value === null) throw new MalformedMessage('empty value');
  let v: unknown;
  try {
    v = JSON.parse(value.toString('utf8'));
  } catch {
    throw new MalformedMessage('value is not JSON');
  }
  if (!isObj(v)) throw new MalformedMessage('value is not a JSON object');
  if (v.schema !== RECORDING_SCHEMA) throw new MalformedMessage(`schema is ${JSON.stringify(v.schema)}, not ${RECORDING_SCHEMA}`);
  if (!isStr(v.node)) throw new MalformedMessage('node missing');
  const container = checkContainer(v.container);
  const pod = checkPod(v.pod);
  if (v.type === 'end') {
    const reason = v.reason;
    if (reason !== 'exited' && reason !== 'pod-removed' && reason !== 'stop') throw new MalformedMessage('end.reason must be exited, pod-removed or stop');
    return { schema: RECORDING_SCHEMA, type: 'end', node: v.node, container, pod, at: checkTime(v.at, 'at'), reason };
  }
  if (v.type !== 'tuples') throw new MalformedMessage(`type is ${JSON.stringify(v.type)}, not tuples or end`);
  if (!isStr(v.epoch)) throw new MalformedMessage('epoch missing');
  if (!Array.isArray(v.seccomp) || !Array.isArray(v.avc)) throw new MalformedMessage('seccomp and avc must be arrays');
  const seccomp = v.seccomp.map((t: unknown): SeccompTuple => {
    if (!isObj(t) || !strOrNull(t.arch) || !strOrNull(t.syscall) || typeof t.nr !== 'number' || !isStr(t.action) || !strOrNull(t.exe ?? null)) {
      throw new MalformedMessage('bad seccomp tuple');
    }
    return {
      arch: t.arch as string | null,
      syscall: t.syscall as string | null,
      nr: t.nr,
      action: t.action,
      count: checkCount(t.count),
      firstSeen: checkTime(t.firstSeen, 'firstSeen'),
      lastSeen: checkTime(t.lastSeen, 'lastSeen'),
      exe: (t.exe as string | null) ?? null,
      ...(t.runtimeInit === true ? { runtimeInit: true as const } : {}),
    };
  });
  const avc = v.avc.map((t: unknown): AvcTuple => {
    if (!isObj(t) || !isStr(t.stype) || !isStr(t.ttype) || !isStr(t.tclass) || !isStr(t.perm) || !isStr(t.decision) || !strOrNull(t.exe ?? null)) {
      throw new MalformedMessage('bad avc tuple');
    }
    return {
      stype: t.stype,
      ttype: t.ttype,
      tclass: t.tclass,
      perm: t.perm,
      decision: t.decision,
      count: checkCount(t.count),
      firstSeen: checkTime(t.firstSeen, 'firstSeen'),
      lastSeen: checkTime(t.lastSeen, 'lastSeen'),
      exe: (t.exe as string | null) ?? null,
    };
  });
  return { schema: RECORDING_SCHEMA, type: 'tuples', node: v.node, epoch: v.epoch, container, pod, seccomp, avc };
}
