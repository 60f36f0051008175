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
  const v = parseHex32(code);
  if (v < 0) return undefined;
  const action = byValue.get(v - (v % 0x10000)) ?? 'unknown';
  return { action, actionData: v % 0x10000 };
}

/** `0x7ffc0000` → 2147221504; -1 unless it is 1–8 hex digits with an optional 0x. */
function parseHex32(s: string): number {
  let i = s.length > 1 && s.charCodeAt(0) === 0x30 && (s.charCodeAt(1) | 0x20) === 0x78 ? 2 : 0;
  const digits = s.length - i;
  if (digits < 1 || digits > 8) return -1;
  let v = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20; // ASCII lower case
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

export function seccompInfo(f: Fields, code: string): SeccompInfo | undefined {
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
