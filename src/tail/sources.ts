// Which log to tail when none is configured. auditd running → its log_file (from auditd.conf); otherwise
// the kernel prints audit records to its log, which rsyslog copies to kern.log / syslog / messages; with
// no syslog daemon either, the kernel ring buffer itself (/dev/kmsg).

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export const DEFAULT_AUDIT_LOG = '/var/log/audit/audit.log';
export const AUDITD_CONF = '/etc/audit/auditd.conf';
export const SYSLOG_CANDIDATES: readonly string[] = ['/var/log/kern.log', '/var/log/syslog', '/var/log/messages'];
export const KMSG = '/dev/kmsg';
/** TailerOptions.path values with a meaning of their own. */
export const STDIN_PATH = '-';
export const AUTO_PATH = 'auto';

export type SourceKind = 'auditd' | 'syslog' | 'kmsg' | 'stdin' | 'file';

export interface DetectedSource {
  kind: SourceKind;
  path: string;
  /** Why this one, for the startup log. */
  reason: string;
}

export interface DetectOptions {
  /** Where to look for a running auditd (default /proc). */
  procRoot?: string;
  auditdConf?: string;
  syslogCandidates?: readonly string[];
  kmsgPath?: string;
}

/** Whether a process named exactly `auditd` runs (what `pgrep -x auditd` says). */
export async function auditdRunning(procRoot = '/proc'): Promise<boolean> {
  let entries: string[];
  try {
    entries = await fsp.readdir(procRoot);
  } catch {
    return false;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if ((await fsp.readFile(path.join(procRoot, e, 'comm'), 'utf8')).trim() === 'auditd') return true;
    } catch {
      // the process ended while we looked
    }
  }
  return false;
}

/** auditd's `log_file` setting; the default when the file or the setting is missing. */
export async function auditdLogFile(conf = AUDITD_CONF): Promise<string> {
  let text: string;
  try {
    text = await fsp.readFile(conf, 'utf8');
  } catch {
    return DEFAULT_AUDIT_LOG;
  }
  let file = DEFAULT_AUDIT_LOG;
  for (const line of text.split('\n')) {
    const m = /^\s*log_file\s*=\s*([^\s#]+)/.exec(line);
    if (m) file = m[1]!;
  }
  return file;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

export async function detectSource(opts: DetectOptions = {}): Promise<DetectedSource> {
  if (await auditdRunning(opts.procRoot)) {
    const conf = opts.auditdConf ?? AUDITD_CONF;
    return { kind: 'auditd', path: await auditdLogFile(conf), reason: `auditd is running (log_file from ${conf})` };
  }
  for (const p of opts.syslogCandidates ?? SYSLOG_CANDIDATES) {
    if (await isFile(p)) return { kind: 'syslog', path: p, reason: `auditd is not running; the kernel's audit records go to ${p}` };
  }
  const kmsg = opts.kmsgPath ?? KMSG;
  return { kind: 'kmsg', path: kmsg, reason: 'neither auditd nor a syslog file: reading the kernel ring buffer' };
}

/** How a configured path is read: "-" stdin, a character device the kmsg reader, anything else a file. */
export async function sourceKindOf(p: string): Promise<'stdin' | 'kmsg' | 'file'> {
  if (p === STDIN_PATH) return 'stdin';
  if (p === KMSG) return 'kmsg';
  try {
    if ((await fsp.stat(p)).isCharacterDevice()) return 'kmsg';
  } catch {
    // a missing file: the file tailer reports it
  }
  return 'file';
}
