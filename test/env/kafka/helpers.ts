// Test helpers for the Kafka suites: schema-v1 events shaped as the node pipeline makes them (input data
// for the sink), and a reader that collects a topic's messages from the real broker.

import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import type { ContainerRef, EventV1, PodRef } from '../../../src/event/v1';

export function pod(name: string, labels: Record<string, string> = {}, namespace = 'default'): PodRef {
  return { name, namespace, uid: randomUUID(), labels };
}

export function container(name: string): ContainerRef {
  return { id: randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '').slice(0, 32), name, runtime: 'containerd', image: 'localhost/busybox:cri-test' };
}

const T0 = Date.parse('2026-11-23T10:00:00.000Z');

/** A SECCOMP event (action log unless given) of a process in `c`/`p` (null: a host process). */
export function seccompEvent(
  serial: number,
  syscall: string,
  nr: number,
  c: ContainerRef | null,
  p: PodRef | null,
  opts: { action?: string; node?: string; exe?: string; arch?: string } = {},
): EventV1 {
  return {
    schema: 'auditflow.event/v1',
    type: 'SECCOMP',
    kind: 'seccomp',
    timestamp: new Date(T0 + serial).toISOString(),
    serial,
    node: opts.node ?? 'node-a',
    source: { file: '/var/log/audit/audit.log', format: 'auditd-enriched' },
    pid: 4242,
    comm: 'app',
    exe: opts.exe ?? '/bin/app',
    uid: 0,
    gid: 0,
    auid: 4294967295,
    ses: 4294967295,
    arch: opts.arch ?? 'x86_64',
    syscall,
    syscallNr: nr,
    action: opts.action ?? 'log',
    actionData: 0,
    container: c,
    pod: p,
    enrichment: c ? 'resolved' : 'host',
  };
}

export function avcEvent(serial: number, c: ContainerRef, p: PodRef, perms: string[], ttype = 'shadow_t', tclass = 'file'): EventV1 {
  return {
    schema: 'auditflow.event/v1',
    type: 'AVC',
    kind: 'selinux',
    timestamp: new Date(T0 + serial).toISOString(),
    serial,
    node: 'node-a',
    source: { file: '/var/log/audit/audit.log', format: 'auditd-enriched' },
    pid: 4242,
    comm: 'app',
    exe: '/bin/app',
    uid: 0,
    gid: 0,
    auid: 4294967295,
    ses: 4294967295,
    selinux: {
      decision: 'denied',
      permissions: perms,
      scontext: 'system_u:system_r:container_t:s0:c1,c2',
      tcontext: `system_u:object_r:${ttype}:s0`,
      tclass,
      permissive: true,
      source: { user: 'system_u', role: 'system_r', type: 'container_t', level: 's0:c1,c2' },
      target: { user: 'system_u', role: 'object_r', type: ttype, level: 's0' },
    },
    container: c,
    pod: p,
    enrichment: 'resolved',
  };
}

export interface Read {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

function headerStrings(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  return out;
}

/**
 * Reads `topic` from the beginning (a fresh consumer group) until `done(messages)` holds or the deadline
 * passes; returns what it read either way (the caller's assertions say what was missing).
 */
export async function readTopic(brokers: string[], topic: string, done: (m: Read[]) => boolean, timeoutMs = 60_000): Promise<Read[]> {
  const kafka = new Kafka({ clientId: 'test-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const out: Read[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        out.push({ key: message.key?.toString('utf8') ?? null, value: message.value?.toString('utf8') ?? null, headers: headerStrings(message.headers), partition, offset: message.offset });
      },
    });
    const end = Date.now() + timeoutMs;
    while (!done(out) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.disconnect();
  }
  return out;
}

export async function poll<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
