// Short-lived container workloads and their truth from the raw audit log (tests and the bench): each killed
// process is an `sh -c "busybox sync" TAG` whose EXECVE record carries the tag (the pod) as an argument, and the
// SECCOMP kill record names its pid; the tag is found through the pid's own exec or its parent's.
import { auditField, auditType } from './rig';

/** A Localhost seccomp profile that allows everything but kills the process on sync(2). */
export const KILL_SYNC_PROFILE = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sync'], action: 'SCMP_ACT_KILL_PROCESS' }] };

const SYNC = 162; // x86_64

/** A container that kills `n` processes of its own (tagged) on `sync`, then exits at once. */
export function job(tag: string, n = 5, then = 'true'): string[] {
  return ['sh', '-c', `i=0; while [ $i -lt ${n} ]; do sh -c "busybox sync" ${tag}; i=$((i+1)); done; ${then}`];
}

export interface Denial {
  serial: number;
  pid: number;
  timeMs: number;
  /** the tag of the process (or its parent) from the raw log's EXECVE records; null: not one of ours */
  tag: string | null;
}

function stampOf(line: string): { timeMs: number; serial: number } | null {
  const m = /audit\((\d+)\.(\d+):(\d+)\)/.exec(line);
  return m ? { timeMs: Number(m[1]) * 1000 + Number(m[2]), serial: Number(m[3]) } : null;
}

function unhex(v: string | undefined): string {
  if (v === undefined) return '';
  if (v.startsWith('"')) return v.slice(1, -1);
  return /^[0-9A-F]+$/.test(v) && v.length % 2 === 0 ? Buffer.from(v, 'hex').toString() : v;
}

/** The `sync` kills in the raw log, each with the tag its process (or parent) was exec'd with. */
export function denialsFromRaw(lines: string[], tagPrefix: string): Denial[] {
  const execBySerial = new Map<number, { pid: number; ppid: number; timeMs: number; tag: string | null }>();
  const argvBySerial = new Map<number, string[]>();
  const kills: { serial: number; pid: number; timeMs: number }[] = [];
  for (const l of lines) {
    const t = auditType(l);
    const st = stampOf(l);
    if (!st) continue;
    if (t === 'SYSCALL' && auditField(l, 'syscall') === '59') {
      execBySerial.set(st.serial, { pid: Number(auditField(l, 'pid')), ppid: Number(auditField(l, 'ppid')), timeMs: st.timeMs, tag: null });
    } else if (t === 'EXECVE') {
      const argc = Number(auditField(l, 'argc'));
      const argv: string[] = [];
      for (let i = 0; i < argc && i < 8; i++) argv.push(unhex(auditField(l, `a${i}`)));
      argvBySerial.set(st.serial, argv);
    } else if (t === 'SECCOMP' && auditField(l, 'syscall') === String(SYNC) && auditField(l, 'code') === '0x80000000') {
      kills.push({ serial: st.serial, pid: Number(auditField(l, 'pid')), timeMs: st.timeMs });
    }
  }
  // pid → its execs in time order, each with the tag when its argv carried one
  const execs = new Map<number, { ppid: number; timeMs: number; tag: string | null }[]>();
  for (const [serial, e] of execBySerial) {
    const tag = (argvBySerial.get(serial) ?? []).find((a) => a.startsWith(tagPrefix)) ?? null;
    const list = execs.get(e.pid) ?? [];
    list.push({ ppid: e.ppid, timeMs: e.timeMs, tag });
    execs.set(e.pid, list);
  }
  for (const l of execs.values()) l.sort((a, b) => a.timeMs - b.timeMs);
  const latest = (pid: number, t: number) => (execs.get(pid) ?? []).filter((e) => e.timeMs <= t);
  return kills.map((k) => {
    const mine = latest(k.pid, k.timeMs);
    let tag = [...mine].reverse().find((e) => e.tag)?.tag ?? null;
    if (!tag && mine.length) {
      const parent = mine[mine.length - 1]!.ppid;
      tag = [...latest(parent, k.timeMs)].reverse().find((e) => e.tag)?.tag ?? null;
    }
    return { ...k, tag };
  });
}

