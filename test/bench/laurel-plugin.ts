// laurel as auditd's plugin for one run of the live bench (test/bench/live.ts), the way its users deploy it
// (laurel(8): /etc/audit/plugins.d/laurel.conf, `type = always`, auditd starts it and writes every record to
// its stdin). auditd 3.x runs plugins itself. The removal is the file and a SIGHUP: auditd re-reads plugins.d
// and stops the plugin whose file went away. The install cannot be: auditd 3.0.9 (Debian 12) starts a plugin
// that appeared and then, within milliseconds, sends SIGHUP to every plugin, the new one included, before
// laurel has installed its handler, so laurel dies of it and auditd does not restart it (seen with strace:
// execve laurel, kill(laurel, SIGHUP) 7 ms later from the new dispatcher thread, "killed by SIGHUP"; the
// dispatcher starts with the reload's flag still set and reloads at once, signalling every plugin). So auditd
// is restarted with the file in place (SIGTERM, then the rig's test/env/auditd.sh starts and registers it
// again), as laurel's users do with `service auditd restart`. That is not free on a shared machine: the
// records of the gap wait in the kernel (backlog 65536), but those the kernel had already handed to the old
// auditd's socket are lost with it, and the kernel's `lost` does not count them (70-570 serials missing per
// restart while other sessions' tests were writing, 2026-12-03). LIVE_LAUREL=none runs without laurel and
// without restarts.
//
// The rig's auditd is shared by every test on the machine, so the plugin is there only while a run measures:
// removed in the run's `finally`, and also, synchronously, on process exit and on SIGINT/SIGTERM/SIGHUP (see
// guard()). A bench killed with SIGKILL leaves the file behind: the next install removes it (the file names
// the pid of the bench that wrote it), and by hand:
//   rm /etc/audit/plugins.d/auditflow-bench-laurel.conf && kill -HUP "$(pgrep -x auditd)"
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { auditdConfValue, envScriptDir } from '../env/rig';

const PLUGINS_DIR = '/etc/audit/plugins.d';
export const PLUGIN_CONF = path.join(PLUGINS_DIR, 'auditflow-bench-laurel.conf');
const STATE_REPORT = '/var/run/auditd.state';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LaurelPlugin {
  /** laurel's pid: auditd's child */
  pid: number;
  /** auditd's threads that appeared with the plugin: its dispatcher, writing each record to laurel's stdin */
  dispatcherTids: number[];
  /** laurel's directory (its audit.log, state); removed by removeLaurelPlugin */
  dir: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running auditd (not the kernel thread kauditd: -x). Re-read each time: a test may restart it. */
function auditdPid(): number | null {
  try {
    const pid = Number(execFileSync('pgrep', ['-x', 'auditd'], { encoding: 'utf8' }).trim().split('\n')[0]);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function threads(pid: number): number[] {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** Bytes a thread has written (/proc/PID/task/TID/io wchar). */
function threadWrites(pid: number, tid: number): number {
  try {
    return Number(/^wchar: (\d+)/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Stops auditd (SIGTERM) and has the rig's script start and register it again; returns the new pid. */
async function restartAuditd(): Promise<number> {
  const old = auditdPid();
  if (old) {
    process.kill(old, 'SIGTERM');
    for (let i = 0; i < 150 && alive(old); i++) await sleep(100);
    if (alive(old)) throw new Error(`auditd (pid ${old}) did not exit within 15 s of SIGTERM`);
  }
  execFileSync('bash', [path.join(envScriptDir(), 'auditd.sh')], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10 * 60_000 });
  const pid = auditdPid();
  if (!pid) throw new Error('test/env/auditd.sh succeeded but no auditd runs');
  return pid;
}

/** auditd's children running `bin` (the plugin; auditd starts nothing else here). */
function pluginChildren(auditd: number, bin: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === auditd && fs.readlinkSync(`/proc/${d}/exe`) === bin) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function running(pid: number): boolean {
  return pid > 0 && alive(pid) && !isZombie(pid);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Removes the plugin file (if any) and has the current auditd drop the plugin (laurel, `pid`, exits).
 * Synchronous, for the exit and signal handlers too. A SIGHUP was once seen not to take (laurel still running,
 * the dispatcher thread still there; the next one did), so it is repeated while laurel runs, then laurel is
 * stopped directly.
 */
function uninstallSync(pid: number): void {
  let had = false;
  try {
    fs.unlinkSync(PLUGIN_CONF);
    had = true;
  } catch {
    // not installed
  }
  if (!had) return;
  for (let attempt = 0; attempt < 3; attempt++) {
    const auditd = auditdPid();
    if (!auditd) {
      // the install restarts auditd: if that failed halfway, the rig's script brings it back as tests expect it
      execFileSync('bash', [path.join(envScriptDir(), 'auditd.sh')], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10 * 60_000 });
      return;
    }
    process.kill(auditd, 'SIGHUP');
    for (let i = 0; i < 50 && running(pid); i++) sleepSync(100);
    if (!running(pid)) return;
  }
  process.kill(pid, 'SIGTERM');
  process.stderr.write(`live bench: auditd did not stop laurel (pid ${pid}) on 3 SIGHUPs after its plugin file was removed: sent it SIGTERM\n`);
}

let guarded = false;
/** laurel's directory and pid (0 until started) while the plugin is installed */
let installed: { dir: string; pid: number } | null = null;
/** Removes the plugin (and laurel's directory) however the bench ends, short of SIGKILL. */
function guard(): void {
  if (guarded) return;
  guarded = true;
  const undo = () => {
    if (!installed) return;
    const { dir, pid } = installed;
    installed = null;
    uninstallSync(pid);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', undo);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      undo();
      // the default action (this listener replaced it): end with the signal's conventional status
      process.exit(128 + os.constants.signals[sig]);
    });
  }
}

/** A plugin file left by a bench that died (SIGKILL) is removed; one of a live bench is an error. */
async function removeStale(bin: string): Promise<void> {
  let text: string;
  try {
    text = fs.readFileSync(PLUGIN_CONF, 'utf8');
  } catch {
    return;
  }
  const owner = Number(/^# bench pid (\d+)/m.exec(text)?.[1]);
  if (owner && owner !== process.pid && alive(owner)) {
    throw new Error(`${PLUGIN_CONF} belongs to a live bench running now (pid ${owner}): two live benches at once would measure each other`);
  }
  uninstallSync(0);
  const auditd = auditdPid();
  for (let i = 0; auditd && i < 100 && pluginChildren(auditd, bin).length; i++) await sleep(100);
}

/**
 * Installs laurel as auditd's plugin and waits until auditd has started it and laurel has opened its log.
 * Its configuration is laurel's defaults except: its directory is a fresh temporary one, it runs as `nobody`
 * (its packages create a `_laurel` user; nobody does the same without a lasting change to the shared machine),
 * and its log does not rotate within a run (its default, 10 MiB × 5 generations, would delete what we count).
 */
export async function installLaurelPlugin(laurelBin: string): Promise<LaurelPlugin> {
  const bin = fs.realpathSync(laurelBin);
  if (/\s/.test(bin)) throw new Error(`laurel's path has a space (auditd splits plugin args on whitespace): ${bin}`);
  await removeStale(bin);
  // /tmp itself, not a 0700 directory of ours: laurel opens its log after dropping to `nobody`
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-bench-laurel-'));
  const config = path.join(dir, 'config.toml');
  fs.writeFileSync(config, [`directory = ${JSON.stringify(dir)}`, 'user = "nobody"', 'input = "stdin"', '[auditlog]', 'file = "audit.log"', `size = ${64 * 2 ** 30}`, ''].join('\n'), { mode: 0o600 });
  guard();
  installed = { dir, pid: 0 };
  fs.writeFileSync(
    PLUGIN_CONF,
    [
      `# bench pid ${process.pid}: test/bench/live.ts, removed when its run ends (see test/bench/laurel-plugin.ts)`,
      'active = yes',
      'direction = out',
      `path = ${bin}`,
      'type = always',
      `args = --config ${config}`,
      'format = string',
      '',
    ].join('\n'),
    { mode: 0o640 },
  );
  let auditd: number | null = null;
  try {
    const pid = await restartAuditd();
    auditd = pid;
    const log = path.join(dir, 'audit.log');
    for (let i = 0; i < 100; i++) {
      const kids = pluginChildren(pid, bin);
      if (kids.length === 1 && fs.existsSync(log)) {
        // The dispatcher is the thread other than the main one that writes: the rest (the log's flush
        // thread) only syncs. A record of our own makes sure it has written.
        execFileSync('auditctl', ['-m', 'auditflow live bench: laurel installed as auditd plugin'], { stdio: 'ignore' });
        let dispatcherTids: number[] = [];
        for (let j = 0; j < 30 && !dispatcherTids.length; j++) {
          await sleep(100);
          dispatcherTids = threads(pid).filter((t) => t !== pid && threadWrites(pid, t) > 0);
        }
        installed.pid = kids[0]!;
        return { pid: kids[0]!, dispatcherTids, dir };
      }
      await sleep(100);
    }
    throw new Error(`auditd (pid ${pid}) did not start laurel as its plugin within 10 s (children running ${bin}: ${pluginChildren(pid, bin).join(' ') || 'none'}; ${log} ${fs.existsSync(log) ? 'exists' : 'missing'})`);
  } catch (e) {
    await removeLaurelPlugin({ pid: auditd ? (pluginChildren(auditd, bin)[0] ?? 0) : 0, dispatcherTids: [], dir });
    throw e;
  }
}

/** Removes the plugin, waits for laurel to flush and exit (auditd closes its stdin), then for `after`. */
export async function removeLaurelPlugin(p: LaurelPlugin, after?: (dir: string) => Promise<void>): Promise<void> {
  installed = null;
  try {
    uninstallSync(p.pid); // returns once laurel has exited (auditd closed its stdin: it has written what it held)
    if (after) await after(p.dir);
  } finally {
    fs.rmSync(p.dir, { recursive: true, force: true });
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

export interface PluginQueueState {
  maxDepthUsed: number;
  size: number;
  overflow: boolean;
}

/** auditd's own report on its plugin queue (SIGCONT writes /var/run/auditd.state, auditd ≥ 3.0). */
export async function pluginQueueState(): Promise<PluginQueueState | null> {
  const auditd = auditdPid();
  if (!auditd) return null;
  let m0 = 0;
  try {
    m0 = fs.statSync(STATE_REPORT).mtimeMs;
  } catch {
    // first report
  }
  process.kill(auditd, 'SIGCONT');
  for (let i = 0; i < 30; i++) {
    await sleep(100);
    try {
      if (fs.statSync(STATE_REPORT).mtimeMs === m0) continue;
      const text = fs.readFileSync(STATE_REPORT, 'utf8');
      const num = (k: string) => Number(new RegExp(`^${k} = (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
      return { maxDepthUsed: num('max plugin queue depth used'), size: num('plugin queue size'), overflow: /^plugin queue overflow detected = yes/m.test(text) };
    } catch {
      // being written
    }
  }
  return null;
}

/** auditd.conf's plugin queue settings, for the table's legend. */
export function pluginQueueConf(): { qDepth: string; overflowAction: string } {
  return { qDepth: auditdConfValue('q_depth') ?? '?', overflowAction: auditdConfValue('overflow_action') ?? '?' };
}

/** How many of `serials` (the run's events) laurel wrote to its log in `dir` (its "ID":"<time>:<serial>"). */
export async function laurelEventsOf(dir: string, serials: Set<number>): Promise<number> {
  const seen = new Set<number>();
  const re = /^\{"ID":"\d+\.\d+:(\d+)"/;
  let rest = '';
  // streamed: a flat-out run leaves hundreds of MB
  for await (const chunk of fs.createReadStream(path.join(dir, 'audit.log'), { encoding: 'latin1', highWaterMark: 1 << 20 })) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      const s = Number(re.exec(l)?.[1]);
      if (serials.has(s)) seen.add(s);
    }
  }
  return seen.size;
}
