// Public types of the parsers library. Pure data: nothing here does I/O.

import type { AuditRecord } from './record';

/** How the line reached us; decides which header form was recognised. */
export type SourceFormat = 'auditd' | 'auditd-enriched' | 'syslog' | 'kmsg' | 'journal';

export type RecordKind = 'seccomp' | 'selinux' | 'apparmor' | 'other';

/** Seccomp filter return actions, named as the kernel's SECCOMP_RET_* (lower case, as in the event schema). */
export type SeccompAction =
  | 'kill_process'
  | 'kill_thread'
  | 'trap'
  | 'errno'
  | 'user_notif'
  | 'trace'
  | 'log'
  | 'allow'
  | 'unknown';

export interface SeccompInfo {
  action: SeccompAction;
  /** The low 16 bits of `code` (errno value, trap/trace data); 0 when none. */
  actionData: number;
  /** The raw `code=` value, e.g. `0x7ffc0000`. */
  code: string;
  sig: number | undefined;
  compat: boolean | undefined;
  ip: string | undefined;
}

/** An SELinux security context split into its parts. `level` keeps the MCS/MLS range as written. */
export interface SelinuxContext {
  user: string;
  role: string;
  type: string;
  level: string | undefined;
}

export interface AvcInfo {
  decision: 'denied' | 'granted';
  permissions: string[];
  scontext: string | undefined;
  tcontext: string | undefined;
  tclass: string | undefined;
  permissive: boolean | undefined;
  source: SelinuxContext | undefined;
  target: SelinuxContext | undefined;
  /** Set when the record was cut short (its line is a `truncated` ParseError): never a profile tuple. */
  truncated?: true;
}

export interface SelinuxErrInfo {
  op: string | undefined;
  reason: string | undefined;
  scontext: string | undefined;
  tcontext: string | undefined;
  tclass: string | undefined;
}

export interface AppArmorInfo {
  apparmor: string;
  operation: string | undefined;
  profile: string | undefined;
  name: string | undefined;
  requestedMask: string | undefined;
  deniedMask: string | undefined;
}

/** Syscall identity as audit reports it: arch from `arch=`, number from `syscall=`, name from our tables. */
export interface SyscallInfo {
  /** libseccomp arch name (`x86_64`, `x86`, `x32`, `aarch64`, …) or undefined when `arch=` is unknown. */
  arch: string | undefined;
  /** The raw `arch=` value (hex AUDIT_ARCH_* or an interpreted name). */
  auditArch: string | undefined;
  nr: number;
  /** Undefined when the number is not in the table: never a guessed name. */
  name: string | undefined;
}

export type ParseErrorReason =
  | 'empty'
  | 'line-too-long'
  | 'nul-byte'
  | 'no-audit-header'
  | 'bad-type'
  | 'bad-timestamp'
  | 'truncated'
  | 'bad-field';

/** A line that looked like it should be an audit record but could not be parsed. Never thrown. */
export interface ParseError {
  readonly error: ParseErrorReason;
  readonly message: string;
  /** At most the first 256 characters of the offending line, for the log. */
  readonly excerpt: string;
  /**
   * `truncated` only: what could still be read from a record cut short, marked `truncated` (the last field,
   * which the cut may have shortened, dropped). For logs and forensics; never a profile tuple.
   */
  readonly partial?: AuditRecord;
}

/**
 * A line that is not an audit record (ordinary syslog/kmsg traffic). Not an error. The kernel's
 * `kauditd_printk_skb: N callbacks suppressed` is reported as `suppressed: N` so callers can count
 * those audit records as lost.
 */
export interface NonAudit {
  readonly skip: 'not-audit' | 'printk-suppressed';
  readonly suppressed: number;
}
