// What the benches read of a process they measure from /proc, and how they ask a node reader for a CPU profile.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** USER_HZ, the unit of /proc/<pid>/stat's times. */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * user + system CPU seconds of a process (/proc/PID: with its waited-for children) or of one thread
 * (/proc/PID/task/TID). With `gone`, a process or thread that has ended reads as that instead of throwing.
 */
export function cpuOf(proc: string, gone?: number): number {
  let stat: string;
  try {
    stat = fs.readFileSync(`${proc}/stat`, 'utf8');
  } catch (e) {
    if (gone !== undefined) return gone;
    throw e;
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** The process's peak resident set (VmHWM), MB; null once it is gone. */
export function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/**
 * BENCH_CPU_PROF=DIR: each reader writes a V8 CPU profile there (node --cpu-prof), to see where the time goes;
 * BENCH_CPU_PROF_INTERVAL=µs samples more often than the default 1000 (a reader at 10k records/s is busy for
 * only a few ms at a time).
 */
export function cpuProfFlags(): string[] {
  const dir = process.env['BENCH_CPU_PROF'];
  const interval = process.env['BENCH_CPU_PROF_INTERVAL'];
  if (!dir) return [];
  return ['--cpu-prof', '--cpu-prof-dir', dir, ...(interval ? ['--cpu-prof-interval', interval] : [])];
}
