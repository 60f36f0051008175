// Short-lived container workloads and their truth from the raw audit log (tests and the bench): each killed
// process is an `sh -c "busybox sync" TAG` whose EXECVE record carries the tag (the pod) as an argument, and the
// SECCOMP kill record names its pid; the tag is found through the pid's own exec or its parent's.
import * as fs from 'node:fs';
import { runPod, waitContainerExited, type RunningPod } from './cri';
import { auditField, auditMark, auditType, readAuditSince } from './rig';

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


/**
 * Pid reuse across two containers: container A's init (pid P) exits, then the host hands P to a process forked
 * inside container B (ns_last_pid = P - 1 just before B forks), which is killed on `sync`. When another process
 * on the shared machine takes P first, it tries again (15 times at most). Every pod it runs is pushed on `pods`
 * (the caller removes them). Returns A, B, P and B's one denial, whose pid is P.
 */
export async function reusePidAcrossPods(o: { name: string; namespace: string; tagPrefix: string; profile: string; socketPath: string; pods: RunningPod[] }): Promise<{ a: RunningPod; b: RunningPod; pid: number; denial: Denial; tries: number }> {
  for (let tries = 0; ; tries++) {
    const mark = await auditMark();
    const a = await runPod({ name: `${o.name}-a-${process.pid}-${tries}`, namespace: o.namespace, containers: [{ name: 'a', command: ['sleep', '1'] }], seccompProfilePath: o.profile, socketPath: o.socketPath });
    o.pods.push(a);
    const P = a.containers[0]!.pid;
    await waitContainerExited(o.socketPath, a.containers[0]!.id);
    // B waits for a file, then forks the killed process
    const b = await runPod({
      name: `${o.name}-b-${process.pid}-${tries}`,
      namespace: o.namespace,
      containers: [{ name: 'b', command: ['sh', '-c', `while [ ! -e /go ]; do :; done; sh -c "busybox sync" ${o.tagPrefix}b; true`] }],
      seccompProfilePath: o.profile,
      socketPath: o.socketPath,
    });
    o.pods.push(b);
    fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(P - 1));
    fs.writeFileSync(`/proc/${b.containers[0]!.pid}/root/go`, '');
    await waitContainerExited(o.socketPath, b.containers[0]!.id);
    const ds = denialsFromRaw(await readAuditSince(mark), o.tagPrefix).filter((d) => d.tag === `${o.tagPrefix}b`);
    if (ds.length !== 1) throw new Error(`B made ${ds.length} denials, not one`);
    if (ds[0]!.pid === P) return { a, b, pid: P, denial: ds[0]!, tries };
    // another process on this shared machine took P first: try again
    if (tries >= 14) throw new Error(`could not get pid ${P} reused in 15 tries (last got ${ds[0]!.pid})`);
  }
}
