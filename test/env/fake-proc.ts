// A fake /proc tree for ProcCache and the enricher (ProcCacheOptions.procRoot): the files they read, no more.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A new tree whose boot was `uptimeS` seconds before the clock the cache is given. Remove it with fs.rmSync. */
export function fakeProcRoot(uptimeS = 1000): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-fakeproc-'));
  fs.writeFileSync(path.join(root, 'uptime'), `${uptimeS.toFixed(2)} ${uptimeS.toFixed(2)}\n`);
  return root;
}

/**
 * Process `pid`, started `startTicks` clock ticks (10 ms) after boot (field 22 of stat), in the cgroup named by
 * `cgroupLine` (one line of /proc/<pid>/cgroup). Writing it again hands the pid to another process.
 */
export function fakeProc(root: string, pid: number, startTicks: number, cgroupLine: string): void {
  fs.mkdirSync(path.join(root, String(pid)), { recursive: true });
  // fields 3 (state) to 21 precede the start time
  const before = ['S', '1', ...Array.from({ length: 17 }, () => '0')];
  fs.writeFileSync(path.join(root, String(pid), 'stat'), `${pid} (sh) ${before.join(' ')} ${startTicks} 0 0\n`);
  fs.writeFileSync(path.join(root, String(pid), 'cgroup'), `${cgroupLine}\n`);
}
