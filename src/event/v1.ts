// The versioned event contract (schema auditflow.event/v1): the CLI's NDJSON and the Kafka events topic's value.
// Field names are the contract (docs: README "Event schema"); add fields freely, never rename one
// without bumping `schema`.

import type { AuditEvent, AuditRecord, RecordKind, SourceFormat } from '../../parsers';
// the table alone, not the parsers' index: loading event/v1 (the denials query does) must not load the syscall tables
import { primaryRank } from '../../parsers/record-types';
import { formatTimestamp } from './timestamp';

export const SCHEMA_V1 = 'auditflow.event/v1';

export type Enrichment = 'resolved' | 'host' | 'unresolved';

/** `container` of an event; the one definition (src/enrich produces it). Unresolved events may carry only the id. */
export interface ContainerRef {
  id: string;
  name: string | null;
  /** containerd, cri-o, docker (from the cgroup path or the runtime's CRI Version) */
  runtime: string | null;
  image: string | null;
  /** true when the id is a pod sandbox (the pause/infra container), named "POD" as kubelet did */
  sandbox?: true;
  /** CRI metadata.attempt: which restart of the container this is (0 first; a crash loop counts up) */
  attempt?: number;
}

/** `pod` of an event; `labels` are the pod's own (kubelet's io.kubernetes.* bookkeeping removed). */
export interface PodRef {
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
}

export interface EventV1 {
  schema: typeof SCHEMA_V1;
  type: string;
  kind: RecordKind;
  timestamp: string;
  serial: number;
  node: string;
  source: { file: string | null; format: SourceFormat };
  pid: number | null;
  ppid?: number | null;
  comm: string | null;
  exe: string | null;
  uid: number | null;
  gid: number | null;
  auid: number | null;
  ses: number | null;
  arch?: string | null;
  syscall?: string | null;
  syscallNr?: number;
  action?: string;
  actionData?: number;
  selinux?: {
    decision: string;
    permissions: string[];
    scontext: string | null;
    tcontext: string | null;
    tclass: string | null;
    permissive: boolean | null;
    source: { user: string; role: string; type: string; level: string | null } | null;
    target: { user: string; role: string; type: string; level: string | null } | null;
  };
  selinuxError?: { op: string | null; reason: string | null; scontext: string | null; tcontext: string | null; tclass: string | null };
  apparmor?: {
    apparmor: string;
    operation: string | null;
    profile: string | null;
    name: string | null;
    requestedMask: string | null;
    deniedMask: string | null;
  };
  /** Other records of the same audit event (coalesced events only): their types, in order. */
  records?: string[];
  proctitle?: string | null;
  cwd?: string | null;
  paths?: string[];
  /** All raw fields of the record, hex-decoded (not for SECCOMP, whose fields are all above). */
  fields?: Record<string, string | null>;
  /** auditd ENRICHED interpreted fields, as auditd wrote them (not for SECCOMP). */
  interpreted?: Record<string, string | null>;
  container: ContainerRef | null;
  pod: PodRef | null;
  enrichment: Enrichment;
  enrichmentError?: string;
  raw?: string;
  /**
   * The audit event had more records than one event may hold (parsers' Coalescer caps): this event has
   * only some of them, and other events with the same timestamp and serial carry the rest.
   */
  truncated?: true;
}

export interface EventContext {
  node: string;
  file: string | null;
  /** Include the original line(s) as `raw`. */
  raw: boolean;
  /** Set on events that were not enriched (offline parsing): the reason given in enrichmentError. */
  notEnriched?: string;
}

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

function ctxOf(c: { user: string; role: string; type: string; level: string | undefined } | undefined) {
  return c ? { user: c.user, role: c.role, type: c.type, level: orNull(c.level) } : null;
}

/** One record → one event (what `auditflow parse` writes). */
export function eventFromRecord(rec: AuditRecord, ctx: EventContext): EventV1 {
  const ev: EventV1 = {
    schema: SCHEMA_V1,
    type: rec.type,
    kind: rec.kind,
    timestamp: formatTimestamp(rec.timeMs),
    serial: rec.serial,
    node: rec.host ?? ctx.node,
    source: { file: ctx.file, format: rec.format },
    pid: orNull(rec.int('pid')),
    comm: orNull(rec.str('comm')),
    exe: orNull(rec.str('exe')),
    uid: orNull(rec.int('uid')),
    gid: orNull(rec.int('gid')),
    auid: orNull(rec.int('auid')),
    ses: orNull(rec.int('ses')),
    container: null,
    pod: null,
    enrichment: 'unresolved',
  };
  addTyped(ev, rec);
  // SECCOMP's fields are all above, and its ENRICHED part holds only id names and auditd's ARCH/SYSCALL
  // (the latter `unknown-syscall(-1)`): leaving both out keeps the busiest record type cheap.
  if (rec.type !== 'SECCOMP') {
    ev.fields = rec.fields.toObject();
    if (rec.format === 'auditd-enriched') ev.interpreted = rec.interpreted.toObject();
  }
  if (ctx.notEnriched !== undefined) ev.enrichmentError = ctx.notEnriched;
  if (ctx.raw) ev.raw = rec.line;
  return ev;
}

function addTyped(ev: EventV1, rec: AuditRecord): void {
  if (rec.syscall) {
    ev.arch = orNull(rec.syscall.arch);
    ev.syscall = orNull(rec.syscall.name);
    ev.syscallNr = rec.syscall.nr;
  }
  if (rec.seccomp) {
    ev.action = rec.seccomp.action;
    ev.actionData = rec.seccomp.actionData;
  }
  if (rec.avc) {
    const a = rec.avc;
    ev.selinux = {
      decision: a.decision,
      permissions: a.permissions,
      scontext: orNull(a.scontext),
      tcontext: orNull(a.tcontext),
      tclass: orNull(a.tclass),
      permissive: orNull(a.permissive),
      source: ctxOf(a.source),
      target: ctxOf(a.target),
    };
  }
  if (rec.selinuxErr) {
    const e = rec.selinuxErr;
    ev.selinuxError = { op: orNull(e.op), reason: orNull(e.reason), scontext: orNull(e.scontext), tcontext: orNull(e.tcontext), tclass: orNull(e.tclass) };
  }
  if (rec.apparmor) {
    const a = rec.apparmor;
    ev.apparmor = {
      apparmor: a.apparmor,
      operation: orNull(a.operation),
      profile: orNull(a.profile),
      name: orNull(a.name),
      requestedMask: orNull(a.requestedMask),
      deniedMask: orNull(a.deniedMask),
    };
  }
}

/** Which record of a multi-record event the event is about: the security decision first (record-types.ts). */
export function primaryRecord(event: AuditEvent): AuditRecord {
  let best = event.records[0]!;
  let rank = primaryRank(best.type, best.kind);
  for (const r of event.records) {
    const k = primaryRank(r.type, r.kind);
    if (k < rank) {
      best = r;
      rank = k;
    }
  }
  return best;
}

/**
 * One coalesced audit event → one enriched-event object: the decision record's fields, completed with the
 * process and syscall of its SYSCALL sibling, the command line of PROCTITLE and the names of PATH records.
 */
export function eventFromAuditEvent(event: AuditEvent, ctx: EventContext): EventV1 {
  const primary = primaryRecord(event);
  const ev = eventFromRecord(primary, ctx);
  if (event.overflow) ev.truncated = true;
  if (event.records.length === 1) return ev;
  ev.records = event.records.map((r) => r.type);
  const paths: string[] = [];
  for (const r of event.records) {
    if (r === primary) continue;
    switch (r.type) {
      case 'SYSCALL':
        ev.pid ??= orNull(r.int('pid'));
        ev.ppid = orNull(r.int('ppid'));
        ev.comm ??= orNull(r.str('comm'));
        ev.exe ??= orNull(r.str('exe'));
        ev.uid ??= orNull(r.int('uid'));
        ev.gid ??= orNull(r.int('gid'));
        ev.auid ??= orNull(r.int('auid'));
        ev.ses ??= orNull(r.int('ses'));
        if (ev.syscallNr === undefined && r.syscall) {
          ev.arch = orNull(r.syscall.arch);
          ev.syscall = orNull(r.syscall.name);
          ev.syscallNr = r.syscall.nr;
        }
        break;
      case 'PROCTITLE':
        // Hex-encoded argv with NUL separators; str() decodes it with the NULs as spaces.
        ev.proctitle = orNull(r.str('proctitle'));
        break;
      case 'CWD':
        ev.cwd = orNull(r.str('cwd'));
        break;
      case 'PATH': {
        const name = r.str('name');
        if (name !== undefined) paths.push(name);
        break;
      }
    }
    if (ctx.raw) ev.raw += '\n' + r.line;
  }
  if (paths.length) ev.paths = paths;
  return ev;
}
