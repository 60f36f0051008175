// type=SECCOMP (1326): the kernel's record of a seccomp filter decision, one per logged syscall.

import type { Fields } from './fields';
import type { SeccompAction, SeccompInfo } from './types';

// SECCOMP_RET_* action values (include/uapi/linux/seccomp.h); the low 16 bits are data.
const ACTIONS: ReadonlyArray<[number, SeccompAction]> = [
  [0x80000000, 'kill_process'],
  [0x00000000, 'kill_thread'],
  [0x00030000, 'trap'],
  [0x00050000, 'errno'],
  [0x7fc00000, 'user_notif'],
  [0x7ff00000, 'trace'],
  [0x7ffc0000, 'log'],
  [0x7fff0000, 'allow'],
];
const byValue = new Map<number, SeccompAction>(ACTIONS);

/** Decode a `code=` value (`0x7ffc0000`, `0x50001`) into action and data; undefined if it is not hex. */
export function decodeSeccompCode(code: string): { action: SeccompAction; actionData: number } | undefined {
  const hex = code.startsWith('0x') || code.startsWith('0X') ? code.slice(2) : code;
  if (hex.length === 0 || hex.length > 8 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  const v = parseInt(hex, 16);
  const action = byValue.get((v - (v % 0x10000)) >>> 0) ?? 'unknown';
  return { action, actionData: v & 0xffff };
}

export function seccompInfo(f: Fields): SeccompInfo | undefined {
  const code = f.get('code');
  if (code === undefined) return undefined;
  const d = decodeSeccompCode(code);
  if (!d) return undefined;
  const compat = f.get('compat');
  return {
    action: d.action,
    actionData: d.actionData,
    code,
    sig: f.int('sig'),
    compat: compat === undefined ? undefined : compat === '1',
    ip: f.get('ip'),
  };
}
