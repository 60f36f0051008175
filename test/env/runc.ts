// Real containers for tests: runc + a busybox-static rootfs, with a caller-given seccomp section.
//
//   const r = await runcRun({ args: ['sh', '-c', 'echo hi'], seccomp: { defaultAction: 'SCMP_ACT_LOG' } });
//   const lines = await readAuditSince(mark);
//   const mine = recordsForSession(lines, r.ses!);   // every process of the container, runc:[2:INIT] too
//
// Picking the container's records out of audit.log: SECCOMP records carry no container id, and busybox
// applets fork (`ls`, `id` get new pids) and re-exec themselves (comm `exe`), so neither pid nor comm
// covers the whole run. The audit *session* does: runc is started from a shell that first writes
// /proc/self/loginuid, which makes the kernel assign a fresh session id (`ses=` in every record) that
// all descendants inherit, across the container's namespaces. `pid` (runc's --pid-file) is the host pid
// of the container's init, i.e. `runc:[2:INIT]` and then the workload it execs.
//
// Facts about this VM (Debian 12, runc 1.1.5, kernel 6.18, cgroup v1 hybrid, no systemd):
//  - `runc spec` gives private pid/net/ipc/uts/mount namespaces, so `hostname` works; it is removed when
//    the spec has no private UTS namespace (runc: "unable to set hostname without a private UTS namespace").
//  - CAP_SYS_RESOURCE is missing from the bounding set, so a spec lowering oomScoreAdj below ours makes
//    runc's nsexec die ("failed to update /proc/self/oom_score_adj"); runcRun refuses such a spec.
//  - runc 1.1.5 rejects `linux.seccomp.flags` ("seccomp flags are not yet supported by runc"), so
//    SECCOMP_FILTER_FLAG_LOG cannot be set: under `SCMP_ACT_ERRNO` the kernel does *not* log denials
//    (only SCMP_ACT_LOG and SCMP_ACT_KILL* are logged without that flag). Use SCMP_ACT_LOG as the default
//    action to see what a profile would deny.
//  - runc installs the filter in runc:[2:INIT] before the final execve, so the first records of every
//    run (comm="runc:[2:INIT]" exe="/") are runc's own syscalls; a profile must allow them too.

import { randomBytes, createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CACHE_DIR, ensureAuditd, envScriptDir, execCapture, spawnTracked } from './rig';

const RUNC_ROOT = '/run/auditflow-runc';

/** runc's base syscalls, from the product (src/profile/runtime-base.ts): one list for both. */
export { RUNC_BASE_SYSCALLS as RUNC_INIT_SYSCALLS } from '../../src/profile/runtime-base';

let runcReady: Promise<string> | undefined;

/** Path of runc, installed with apt (under $CACHE/apt.lock, like the shell scripts) when missing. */
export function ensureRunc(): Promise<string> {
  if (!runcReady) {
    runcReady = (async () => {
      const find = async () => (await execCapture('/bin/sh', ['-c', 'command -v runc'])).stdout.trim();
      let p = await find();
      if (p) return p;
      if (process.getuid?.() !== 0) throw new Error('runc is missing; install it as root: apt-get install -y runc');
      await fsp.mkdir(CACHE_DIR, { recursive: true });
      const r = await execCapture('/bin/bash', [path.join(envScriptDir(), 'packages.sh'), 'runc'], { timeoutMs: 20 * 60_000 });
      if (r.code !== 0) throw new Error(`installing runc failed (exit ${r.code}): ${r.stderr.trim().slice(-2000)}`);
      p = await find();
      if (!p) throw new Error('runc still not found after apt-get install runc');
      return p;
    })();
    runcReady.catch(() => (runcReady = undefined));
  }
  return runcReady;
}

let rootfsReady: Promise<string> | undefined;

/**
 * A read-only-usable rootfs: /bin/busybox (busybox-static) plus a symlink per applet, /etc/passwd and
 * /etc/group for root, empty mount points. Cached in $CACHE/rootfs/busybox-<hash of the binary>; built in
 * a temporary directory and renamed into place, so concurrent builders never see a partial tree.
 */
export function busyboxRootfs(): Promise<string> {
  if (!rootfsReady) {
    rootfsReady = (async () => {
      await ensureAuditd(); // installs busybox-static
      const bb = '/bin/busybox';
      if (!existsSync(bb)) throw new Error(`${bb} is missing: apt-get install -y busybox-static`);
      const file = await fsp.readFile(bb);
      if (file.readUInt8(4) !== 2 || file.indexOf(Buffer.from('/lib64/ld-linux')) >= 0) {
        throw new Error(`${bb} is not a static 64-bit binary: install busybox-static (not busybox)`);
      }
      const hash = createHash('sha256').update(file).digest('hex').slice(0, 16);
      const dir = path.join(CACHE_DIR, 'rootfs', `busybox-${hash}`);
      if (existsSync(path.join(dir, '.complete'))) return dir;
      await fsp.mkdir(path.dirname(dir), { recursive: true });
      const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) await fsp.mkdir(path.join(tmp, d), { recursive: true });
      await fsp.copyFile(bb, path.join(tmp, 'bin', 'busybox'));
      await fsp.chmod(path.join(tmp, 'bin', 'busybox'), 0o755);
      const list = await execCapture(bb, ['--list']);
      if (list.code !== 0) throw new Error(`${bb} --list failed: ${list.stderr}`);
      for (const applet of list.stdout.split('\n').map((s) => s.trim())) {
        if (!applet || applet === 'busybox' || applet.includes('/')) continue;
        await fsp.symlink('busybox', path.join(tmp, 'bin', applet));
      }
      await fsp.writeFile(path.join(tmp, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
      await fsp.writeFile(path.join(tmp, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
      await fsp.chmod(path.join(tmp, 'tmp'), 0o1777);
      await fsp.writeFile(path.join(tmp, '.complete'), `busybox ${hash}\n`);
      try {
        await fsp.rename(tmp, dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        await fsp.rm(tmp, { recursive: true, force: true });
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        if (!existsSync(path.join(dir, '.complete'))) throw new Error(`${dir} exists but is incomplete: remove it`);
      }
      return dir;
    })();
    rootfsReady.catch(() => (rootfsReady = undefined));
  }
  return rootfsReady;
}

/** An OCI runtime spec, loosely typed: what `runc spec` prints, edited. */
export type OciSpec = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface RuncRunOptions {
  /** process.args, e.g. ['sh', '-c', 'echo hi']; PATH is /bin inside. */
  args: string[];
  /** linux.seccomp (OCI seccomp section), e.g. { defaultAction: 'SCMP_ACT_LOG' }. Omitted: no filter. */
  seccomp?: Record<string, unknown> | undefined;
  /** Extra environment entries (KEY=VALUE). */
  env?: string[];
  /** Own audit session for the run (records picked with recordsForSession(lines, ses)). Default true. */
  session?: boolean;
  /** loginuid set for the session, default 0. */
  auid?: number;
  /** Last word on the spec before it is written. */
  configure?: (spec: OciSpec) => void;
  /** Kill the container after this long, default 60 s. */
  timeoutMs?: number;
  /** Keep the bundle directory (config.json) for inspection; its path is returned. */
  keepBundle?: boolean;
}

export interface RuncResult {
  /** The container's exit status as runc reports it (128+N when killed by signal N). */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Host pid of the container's init (runc:[2:INIT], then the workload it execs). */
  pid: number | undefined;
  /** The run's audit session id: every process of the container carries `ses=<this>`. */
  ses: number | undefined;
  /** Container id used with runc. */
  id: string;
  bundle: string | undefined;
  /** runc's own log lines (JSON), warnings included. */
  runcLog: string;
  durationMs: number;
}

let counter = 0;

async function currentOomScoreAdj(): Promise<number> {
  try {
    return Number((await fsp.readFile('/proc/self/oom_score_adj', 'utf8')).trim());
  } catch {
    return 0;
  }
}

/** Writes <dir>/config.json from `runc spec`, edited for a non-interactive busybox run. */
export async function makeBundle(dir: string, opts: RuncRunOptions): Promise<OciSpec> {
  const runc = await ensureRunc();
  const rootfs = await busyboxRootfs();
  await fsp.mkdir(dir, { recursive: true });
  const r = await execCapture(runc, ['spec', '--bundle', dir]);
  if (r.code !== 0) throw new Error(`runc spec failed: ${r.stderr.trim()}`);
  const specPath = path.join(dir, 'config.json');
  const spec: OciSpec = JSON.parse(await fsp.readFile(specPath, 'utf8'));
  spec.process.terminal = false;
  spec.process.args = opts.args;
  spec.process.env = ['PATH=/bin', 'HOME=/root', ...(opts.env ?? [])];
  spec.root = { path: rootfs, readonly: true }; // shared cached rootfs: never written
  spec.mounts = [
    ...(spec.mounts ?? []),
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=16m'] },
  ];
  spec.linux = spec.linux ?? {};
  if (opts.seccomp !== undefined) spec.linux.seccomp = opts.seccomp;
  else delete spec.linux.seccomp;
  opts.configure?.(spec);
  const namespaces: Array<{ type: string; path?: string }> = spec.linux.namespaces ?? [];
  if (!namespaces.some((n) => n.type === 'uts' && !n.path)) delete spec.hostname;
  const own = await currentOomScoreAdj();
  if (spec.process.oomScoreAdj !== undefined && spec.process.oomScoreAdj < own) {
    throw new Error(
      `spec sets process.oomScoreAdj=${spec.process.oomScoreAdj}, below ours (${own}): lowering it needs CAP_SYS_RESOURCE, ` +
        'which this machine lacks from its bounding set (runc would fail "failed to update /proc/self/oom_score_adj")',
    );
  }
  const flags = spec.linux.seccomp?.flags;
  if (Array.isArray(flags) && flags.length) {
    const v = await execCapture(runc, ['--version']);
    const m = /runc version (\d+)\.(\d+)/.exec(v.stdout);
    if (m && (Number(m[1]) < 1 || (Number(m[1]) === 1 && Number(m[2]) < 2))) {
      throw new Error(
        `linux.seccomp.flags (${flags.join(', ')}) need runc >= 1.2; this is ${v.stdout.split('\n')[0]}, which refuses them. ` +
          'Drop flags (without SECCOMP_FILTER_FLAG_LOG, ERRNO denials are not logged; use SCMP_ACT_LOG to observe)',
      );
    }
  }
  await fsp.writeFile(specPath, JSON.stringify(spec, null, 2));
  return spec;
}

/** Runs a busybox container with runc, waits for it, returns its exit status, output, pid and session. */
export async function runcRun(opts: RuncRunOptions): Promise<RuncResult> {
  await ensureAuditd();
  const runc = await ensureRunc();
  const id = `af-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`;
  const bundle = await fsp.mkdtemp(path.join(os.tmpdir(), 'auditflow-bundle-'));
  const pidFile = path.join(bundle, 'container.pid');
  const logFile = path.join(bundle, 'runc-log.json');
  const t0 = Date.now();
  let killTimer: NodeJS.Timeout | undefined;
  try {
    await makeBundle(bundle, opts);
    await fsp.mkdir(RUNC_ROOT, { recursive: true });
    const timeoutMs = opts.timeoutMs ?? 60_000;
    let timedOut = false;
    killTimer = setTimeout(() => {
      timedOut = true;
      void execCapture(runc, ['--root', RUNC_ROOT, 'kill', id, 'KILL']);
    }, timeoutMs);
    const argv = [runc, '--root', RUNC_ROOT, '--log', logFile, '--log-format', 'json', 'run', '--bundle', bundle, '--pid-file', pidFile, id];
    const spawnOpts: { session: boolean; auid?: number; timeoutMs: number } = {
      session: opts.session ?? true,
      timeoutMs: timeoutMs + 30_000,
    };
    if (opts.auid !== undefined) spawnOpts.auid = opts.auid;
    const r = await spawnTracked(argv, spawnOpts);
    clearTimeout(killTimer);
    const runcLog = await fsp.readFile(logFile, 'utf8').catch(() => '');
    const errors = runcLog
      .split('\n')
      .filter((l) => /"level":"(error|fatal)"/.test(l))
      .map((l) => {
        try {
          return String(JSON.parse(l).msg);
        } catch {
          return l;
        }
      });
    if (timedOut) throw new Error(`container ${id} (${opts.args.join(' ')}) ran longer than ${timeoutMs} ms and was killed`);
    if (errors.length) {
      throw new Error(`runc could not run the container: ${errors.join('; ')}${r.stderr ? `; stderr: ${r.stderr.trim().slice(-1000)}` : ''}`);
    }
    if (r.exitCode === null) throw new Error(`runc itself was killed by ${r.signal}`);
    const pidText = await fsp.readFile(pidFile, 'utf8').catch(() => '');
    const pid = pidText.trim() ? Number(pidText.trim()) : undefined;
    return {
      exitCode: r.exitCode,
      stdout: r.stdout,
      stderr: r.stderr,
      pid,
      ses: r.ses,
      id,
      bundle: opts.keepBundle ? bundle : undefined,
      runcLog,
      durationMs: Date.now() - t0,
    };
  } finally {
    if (killTimer) clearTimeout(killTimer);
    if (!opts.keepBundle) await fsp.rm(bundle, { recursive: true, force: true });
  }
}
