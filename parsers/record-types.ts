// Audit record type numbers (linux/audit.h, libaudit.h) to the names auditd writes. The kernel's own log
// lines (`audit: type=1326 …`) carry only the number; auditd's carry the name. A number not listed here is
// reported as `UNKNOWN[n]`, as auditd itself does, never as a guessed name.

import type { RecordKind } from './types';

const RANGES: Array<[number, string[]]> = [
  [1005, ['USER', 'LOGIN']],
  [1100, ['USER_AUTH', 'USER_ACCT', 'USER_MGMT', 'CRED_ACQ', 'CRED_DISP', 'USER_START', 'USER_END', 'USER_AVC',
    'USER_CHAUTHTOK', 'USER_ERR', 'CRED_REFR', 'USYS_CONFIG', 'USER_LOGIN', 'USER_LOGOUT', 'ADD_USER', 'DEL_USER',
    'ADD_GROUP', 'DEL_GROUP', 'DAC_CHECK', 'CHGRP_ID', 'TEST', 'TRUSTED_APP', 'USER_SELINUX_ERR', 'USER_CMD',
    'USER_TTY', 'CHUSER_ID', 'GRP_AUTH', 'SYSTEM_BOOT', 'SYSTEM_SHUTDOWN', 'SYSTEM_RUNLEVEL', 'SERVICE_START',
    'SERVICE_STOP', 'GRP_MGMT', 'GRP_CHAUTHTOK', 'MAC_CHECK', 'ACCT_LOCK', 'ACCT_UNLOCK', 'USER_DEVICE',
    'SOFTWARE_UPDATE']],
  [1200, ['DAEMON_START', 'DAEMON_END', 'DAEMON_ABORT', 'DAEMON_CONFIG', 'DAEMON_RECONFIG', 'DAEMON_ROTATE',
    'DAEMON_RESUME', 'DAEMON_ACCEPT', 'DAEMON_CLOSE', 'DAEMON_ERR']],
  [1300, ['SYSCALL', 'FS_WATCH', 'PATH', 'IPC', 'SOCKETCALL', 'CONFIG_CHANGE', 'SOCKADDR', 'CWD', '', 'EXECVE', '',
    'IPC_SET_PERM', 'MQ_OPEN', 'MQ_SENDRECV', 'MQ_NOTIFY', 'MQ_GETSETATTR', 'KERNEL_OTHER', 'FD_PAIR', 'OBJ_PID',
    'TTY', 'EOE', 'BPRM_FCAPS', 'CAPSET', 'MMAP', 'NETFILTER_PKT', 'NETFILTER_CFG', 'SECCOMP', 'PROCTITLE',
    'FEATURE_CHANGE', 'REPLACE', 'KERN_MODULE', 'FANOTIFY', 'TIME_INJOFFSET', 'TIME_ADJNTPVAL', 'BPF',
    'EVENT_LISTENER', 'URINGOP', 'OPENAT2', 'DM_CTRL', 'DM_EVENT']],
  [1400, ['AVC', 'SELINUX_ERR', 'AVC_PATH', 'MAC_POLICY_LOAD', 'MAC_STATUS', 'MAC_CONFIG_CHANGE', 'MAC_UNLBL_ALLOW',
    'MAC_CIPSOV4_ADD', 'MAC_CIPSOV4_DEL', 'MAC_MAP_ADD', 'MAC_MAP_DEL', 'MAC_IPSEC_ADDSA', 'MAC_IPSEC_DELSA',
    'MAC_IPSEC_ADDSPD', 'MAC_IPSEC_DELSPD', 'MAC_IPSEC_EVENT', 'MAC_UNLBL_STCADD', 'MAC_UNLBL_STCDEL',
    'MAC_CALIPSO_ADD', 'MAC_CALIPSO_DEL', 'MAC_TASK_CONTEXTS', 'MAC_OBJ_CONTEXTS']],
  [1500, ['APPARMOR', 'APPARMOR_AUDIT', 'APPARMOR_ALLOWED', 'APPARMOR_DENIED', 'APPARMOR_HINT', 'APPARMOR_STATUS',
    'APPARMOR_ERROR', 'APPARMOR_KILL']],
  [1700, ['ANOM_PROMISCUOUS', 'ANOM_ABEND', 'ANOM_LINK', 'ANOM_CREAT']],
  [1800, ['INTEGRITY_DATA', 'INTEGRITY_METADATA', 'INTEGRITY_STATUS', 'INTEGRITY_HASH', 'INTEGRITY_PCR',
    'INTEGRITY_RULE', 'INTEGRITY_EVM_XATTR', 'INTEGRITY_POLICY_RULE']],
  [2000, ['KERNEL']],
  [2300, ['USER_ROLE_CHANGE', 'ROLE_ASSIGN', 'ROLE_REMOVE', 'LABEL_OVERRIDE', 'LABEL_LEVEL_CHANGE', 'USER_LABELED_EXPORT',
    'USER_UNLABELED_EXPORT', 'DEV_ALLOC', 'DEV_DEALLOC', 'FS_RELABEL', 'USER_MAC_POLICY_LOAD', 'ROLE_MODIFY',
    'USER_MAC_CONFIG_CHANGE']],
];

const byNumber = new Map<number, string>();
const byName = new Map<string, number>();
for (const [base, names] of RANGES) {
  names.forEach((name, i) => {
    if (!name) return;
    byNumber.set(base + i, name);
    byName.set(name, base + i);
  });
}

export function recordTypeName(nr: number): string {
  return byNumber.get(nr) ?? `UNKNOWN[${nr}]`;
}

export function recordTypeNumber(name: string): number | undefined {
  const n = byName.get(name);
  if (n !== undefined) return n;
  const m = /^UNKNOWN\[(\d+)\]$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * What the pipeline knows about a record type beyond its name and number. Every field is optional: a type
 * absent from RECORD_TYPES is kind `other`, ranks last, waits for its siblings and keeps its labels whole
 * only when quoted. Whether a record is an access decision is not here: it is read from the record's
 * content (src/event/decision.ts), since one type may carry several (AppArmor writes AVC records).
 * See README, Layout: "Adding a record type".
 */
export interface RecordTypeTraits {
  /** The kind by type alone; AVC and USER_AVC are refined by their content (AppArmor also writes AVC). */
  kind?: RecordKind;
  /** Which record of a multi-record event the event is about: the lowest rank (0: the decision). */
  primaryRank?: number;
  /** An event of its own, not held back for siblings (the coalescer's default standalone set). */
  standalone?: boolean;
  /**
   * The key the kernel writes right after the task's label (`subj=`), which may contain spaces: the
   * tokenizer takes the label up to it (fields.ts labelEnd).
   */
  labelNext?: string;
}

/** The record types auditflow treats specially. AppArmor's `APPARMOR*` types come from apparmorTraits(). */
export const RECORD_TYPES: Readonly<Record<string, Readonly<RecordTypeTraits>>> = {
  SECCOMP: { kind: 'seccomp', primaryRank: 0, standalone: true, labelNext: ' pid=' },
  AVC: { kind: 'selinux', primaryRank: 0 },
  USER_AVC: { kind: 'selinux', primaryRank: 0 },
  SELINUX_ERR: { kind: 'selinux', primaryRank: 0 },
  USER_SELINUX_ERR: { kind: 'selinux', primaryRank: 0 },
  AVC_PATH: { kind: 'selinux' },
  MAC_POLICY_LOAD: { kind: 'selinux' },
  MAC_STATUS: { kind: 'selinux' },
  USER_MAC_POLICY_LOAD: { kind: 'selinux' },
  ANOM_ABEND: { primaryRank: 1, labelNext: ' pid=' },
  SYSCALL: { primaryRank: 2, labelNext: ' key=' },
  LOGIN: { labelNext: ' old-auid=' },
};

const APPARMOR_TRAITS: Readonly<RecordTypeTraits> = { kind: 'apparmor', primaryRank: 0 };
const NONE: Readonly<RecordTypeTraits> = {};

export function recordTypeTraits(type: string): Readonly<RecordTypeTraits> {
  return Object.hasOwn(RECORD_TYPES, type) ? RECORD_TYPES[type]! : type.startsWith('APPARMOR') ? APPARMOR_TRAITS : NONE;
}

/** The kind by type alone; AVC and USER_AVC are refined by their content (AppArmor also writes AVC). */
export function kindOfType(type: string): RecordKind {
  return recordTypeTraits(type).kind ?? 'other';
}

/** Rank of a record with no rank of its own: after every ranked type. */
export const UNRANKED = 3;

/** Which record of a multi-record event the event is about (lowest first); AppArmor's AVC by its kind. */
export function primaryRank(type: string, kind: RecordKind): number {
  const r = recordTypeTraits(type).primaryRank;
  if (r !== undefined) return r;
  return kind === 'apparmor' ? APPARMOR_TRAITS.primaryRank! : UNRANKED;
}

/** The types that are an event of their own (the coalescer's default). */
export const STANDALONE_TYPES: ReadonlySet<string> = new Set(Object.keys(RECORD_TYPES).filter((t) => RECORD_TYPES[t]!.standalone));

/**
 * Whether records of this type carry user-space text: AUDIT_USER (1005) and the user message ranges
 * AUDIT_FIRST_USER_MSG…AUDIT_LAST_USER_MSG (1100–1199) and AUDIT_FIRST_USER_MSG2…AUDIT_LAST_USER_MSG2
 * (2100–2999), which the kernel accepts from any process with CAP_AUDIT_WRITE and writes as
 * `pid= uid= auid= ses= [subj=] msg='<text as sent>'` (kernel/audit.c audit_receive_msg). For a name this
 * table does not know (auditd names more types than it lists), undefined: the caller decides by content.
 */
export function isUserSpaceType(type: string, typeNr: number | undefined): boolean | undefined {
  const nr = typeNr ?? recordTypeNumber(type);
  if (nr !== undefined) return nr === 1005 || (nr >= 1100 && nr <= 1199) || (nr >= 2100 && nr <= 2999);
  if (type.startsWith('USER') || type.startsWith('CRED_')) return true;
  return undefined;
}
