// The real test rig, part 1: real auditd, real seccomp filters, real kernel records.
//
// Everything here runs against this machine's kernel and auditd (root needed). Each helper fails with an
// Error that says what is missing and how to get it; nothing is mocked or skipped.
//
//   await ensureAuditd();                               // test/env/auditd.sh, once per process
//   const mark = await auditMark();                     // position in audit.log (inode + size)
//   const run = await runUnderSeccomp(['/bin/busybox', 'echo', 'hi'], { bits: 64 });
//   const lines = await readAuditSince(mark);           // flushes auditd first, follows rotation
//   const mine = recordsForPid(lines, run.pid);
//
// readAuditSince() knows it has everything because it first sends a marker record through the kernel's
// audit queue (`auditctl -m`) and polls (bounded) until auditd has written it: the kernel queue and
// auditd are FIFO, so every record queued before the marker is in the file by then.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';

export const CACHE_DIR = process.env.AUDITFLOW_CACHE || '/var/cache/auditflow';
const DEFAULT_LOG = '/var/log/audit/audit.log';
const AUDITD_CONF = '/etc/audit/auditd.conf';

// ---------------------------------------------------------------------------------------------------
// small process helpers

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion and collects its output. Never rejects for a non-zero exit. */
export function execCapture(
  file: string,
  args: readonly string[],
  opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${file} ${args.join(' ')} did not finish within ${opts.timeoutMs} ms; stderr: ${tail(stderr)}`));
      }, opts.timeoutMs);
    }
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${file}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a child that does not read its input: not our error
      child.stdin.end(opts.input);
    }
  });
}

function tail(s: string, n = 2000): string {
  s = s.trim();
  return s.length > n ? '…' + s.slice(-n) : s;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The directory holding auditd.sh, build-helpers.sh and seclog.c (works from test/env and dist/test/env). */
export function envScriptDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const cand = path.join(dir, 'test', 'env');
    if (existsSync(path.join(cand, 'auditd.sh'))) return cand;
    if (existsSync(path.join(dir, 'auditd.sh')) && existsSync(path.join(dir, 'seclog.c'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`test/env/auditd.sh not found above ${__dirname}: run the tests from an auditflow checkout`);
}

async function runEnvScript(name: string, timeoutMs: number): Promise<string> {
  const script = path.join(envScriptDir(), name);
  if (!existsSync('/bin/bash')) throw new Error(`/bin/bash is required to run ${script}`);
  const r = await execCapture('/bin/bash', [script], { timeoutMs });
  if (r.code !== 0) {
    throw new Error(`${script} failed (exit ${r.code ?? r.signal}): ${tail(r.stderr) || tail(r.stdout)}`);
  }
  return r.stdout;
}

function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${what} needs root (audit control, seccomp logging, apt-get): run the tests as root`);
  }
}

// ---------------------------------------------------------------------------------------------------
// auditd

let auditdReady: Promise<string> | undefined;

/** Runs test/env/auditd.sh once per process: packages, auditd running and registered, backlog, rate 0. */
export function ensureAuditd(): Promise<string> {
  if (!auditdReady) {
    auditdReady = (async () => {
      requireRoot('ensureAuditd()');
      return (await runEnvScript('auditd.sh', 20 * 60_000)).trim();
    })();
    auditdReady.catch(() => (auditdReady = undefined)); // a later call may try again
  }
  return auditdReady;
}

/** `auditctl -s` as numbers (enabled, pid, rate_limit, backlog_limit, lost, backlog, …). */
export async function auditStatus(): Promise<Record<string, number>> {
  const r = await execCapture('auditctl', ['-s'], { timeoutMs: 10_000 }).catch((e: Error) => {
    throw new Error(`${e.message}: auditctl is missing; run test/env/auditd.sh (installs auditd)`);
  });
  if (r.code !== 0) throw new Error(`auditctl -s failed (exit ${r.code}): ${tail(r.stderr)}; are we root?`);
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(\w+)\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  if (out.lost === undefined) throw new Error(`auditctl -s printed no "lost" line: ${tail(r.stdout)}`);
  return out;
}

/** The kernel's count of audit records it dropped (`lost` in `auditctl -s`). */
export async function auditLost(): Promise<number> {
  return (await auditStatus()).lost!;
}

/** A setting of /etc/audit/auditd.conf as written there (undefined: not set, or no such file). */
export function auditdConfValue(key: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(AUDITD_CONF, 'utf8');
  } catch {
    return undefined;
  }
  return new RegExp(`^\\s*${key}\\s*=\\s*(\\S+)`, 'm').exec(text)?.[1];
}

let logPathCache: string | undefined;

/** auditd's log file: `log_file` from /etc/audit/auditd.conf, else /var/log/audit/audit.log. */
export async function auditLogPath(): Promise<string> {
  if (logPathCache) return logPathCache;
  let p = DEFAULT_LOG;
  try {
    const conf = await fsp.readFile(AUDITD_CONF, 'utf8');
    for (const line of conf.split('\n')) {
      const m = /^\s*log_file\s*=\s*([^\s#]+)/.exec(line);
      if (m) p = m[1]!;
    }
  } catch {
    // no auditd.conf: the default; auditMark() reports a missing file clearly
  }
  logPathCache = p;
  return p;
}

// ---------------------------------------------------------------------------------------------------
// marks and reading what auditd wrote since

/** A position in auditd's log. Survives rotation: the file is found again by device + inode. */
export interface AuditMark {
  /** The log path (audit.log); the marked file may since have been renamed to audit.log.N. */
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  /** Byte offset in that file. */
  readonly size: number;
  /** Whether `size` is at the start of a line (else the partial line is skipped when reading). */
  readonly lineStart: boolean;
  /** The file's first bytes (hex), to tell a reused inode from the marked file. */
  readonly head: string;
}

const HEAD_BYTES = 64;

interface ChainFile {
  name: string;
  fh: fsp.FileHandle;
  dev: number;
  ino: number;
  size: number;
  head: string;
}

async function readHead(fh: fsp.FileHandle, size: number): Promise<string> {
  const n = Math.min(size, HEAD_BYTES);
  if (n === 0) return '';
  const buf = Buffer.alloc(n);
  const { bytesRead } = await fh.read(buf, 0, n, 0);
  return buf.subarray(0, bytesRead).toString('hex');
}

function headMatches(markHead: string, fileHead: string): boolean {
  // a file only grows: the marked head is a prefix of the file's head now
  return fileHead.startsWith(markHead);
}

/**
 * Opens audit.log.N … audit.log.1, audit.log (oldest first) consistently: retried when a rotation renames
 * files while they are being opened.
 */
async function openChain(logPath: string): Promise<ChainFile[]> {
  const dir = path.dirname(logPath);
  const base = path.basename(logPath);
  for (let attempt = 0; attempt < 20; attempt++) {
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (e) {
      throw new Error(`cannot list ${dir}: ${(e as Error).message}; run test/env/auditd.sh (as root)`);
    }
    const rotated = names
      .map((n) => (n.startsWith(base + '.') ? /^\d+$/.test(n.slice(base.length + 1)) && Number(n.slice(base.length + 1)) : false))
      .filter((n): n is number => typeof n === 'number')
      .sort((a, b) => b - a)
      .map((n) => `${logPath}.${n}`);
    const order = [...rotated, logPath];
    const files: ChainFile[] = [];
    let raced = false;
    for (const name of order) {
      let fh: fsp.FileHandle;
      try {
        fh = await fsp.open(name, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          if (name === logPath && !raced) {
            // auditd may be between rename and create during a rotation: retry; a missing log otherwise fails below
            raced = true;
          }
          continue;
        }
        throw e;
      }
      const st = await fh.stat();
      files.push({ name, fh, dev: st.dev, ino: st.ino, size: st.size, head: await readHead(fh, st.size) });
    }
    // consistent when every name still refers to the inode we opened under it
    let stable = !raced;
    if (stable) {
      for (const f of files) {
        const st = await fsp.stat(f.name).catch(() => undefined);
        if (!st || st.ino !== f.ino || st.dev !== f.dev) {
          stable = false;
          break;
        }
      }
    }
    if (stable) return files;
    await Promise.all(files.map((f) => f.fh.close()));
    await sleep(10 + attempt * 10);
  }
  if (!existsSync(logPath)) {
    throw new Error(`${logPath} does not exist: auditd is not writing its log; run test/env/auditd.sh (as root)`);
  }
  throw new Error(`${logPath}: files kept changing while opening them (rotation storm?)`);
}

/** The current end of auditd's log, to read later exactly the lines written after this moment. */
export async function auditMark(): Promise<AuditMark> {
  // A mark is only meaningful with auditd writing: whoever asks for one gets auditd brought up (idempotent,
  // once per process), so a test file never depends on an earlier file having started it.
  await ensureAuditd();
  const logPath = await auditLogPath();
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(logPath, 'r');
  } catch (e) {
    throw new Error(
      `cannot open ${logPath}: ${(e as Error).message}; start auditd with test/env/auditd.sh (as root) or ensureAuditd()`,
    );
  }
  try {
    const st = await fh.stat();
    let lineStart = true;
    if (st.size > 0) {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, st.size - 1);
      lineStart = b[0] === 0x0a;
    }
    return { path: logPath, dev: st.dev, ino: st.ino, size: st.size, lineStart, head: await readHead(fh, st.size) };
  } finally {
    await fh.close();
  }
}

interface ReadChunk {
  lines: string[];
  /** Where the next read continues (always at a line start). */
  next: AuditMark;
  /** Names of the files read, oldest first. */
  files: string[];
}

/** Reads the complete lines written after `mark`, across rotations, without waiting. */
async function readFrom(mark: AuditMark): Promise<ReadChunk> {
  const chain = await openChain(mark.path);
  try {
    const i = chain.findIndex((f) => f.dev === mark.dev && f.ino === mark.ino && headMatches(mark.head, f.head));
    if (i < 0) {
      throw new Error(
        `the marked audit log (inode ${mark.ino}) is gone from ${path.dirname(mark.path)}: rotated out of num_logs since ` +
          `the mark (heavy audit load?). Raise max_log_file/num_logs in ${AUDITD_CONF} or read sooner`,
      );
    }
    const lines: string[] = [];
    const files: string[] = [];
    let next: AuditMark = mark;
    for (let k = i; k < chain.length; k++) {
      const f = chain[k]!;
      const isLast = k === chain.length - 1;
      let start = k === i ? mark.size : 0;
      if (f.size < start) {
        throw new Error(`${f.name} is shorter (${f.size} bytes) than the mark (${start}): was it truncated?`);
      }
      files.push(f.name);
      const skipPartial = k === i && !mark.lineStart;
      const len = f.size - start;
      const buf = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await f.fh.read(buf, got, len - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      let data = buf.subarray(0, got);
      if (skipPartial) {
        const nl = data.indexOf(0x0a);
        if (nl < 0 && isLast) {
          next = { ...mark }; // the partial line is still being written: nothing complete yet
          continue;
        }
        const cut = nl < 0 ? data.length : nl + 1;
        start += cut;
        data = data.subarray(cut);
      }
      // in the live file, stop at the last newline; a rotated file is finished, take all of it
      let end = data.length;
      if (isLast) end = data.lastIndexOf(0x0a) + 1;
      const text = data.subarray(0, end).toString('utf8');
      for (const l of text.split('\n')) if (l.length) lines.push(l);
      if (isLast) next = { path: mark.path, dev: f.dev, ino: f.ino, size: start + end, lineStart: true, head: f.head };
    }
    return { lines, next, files };
  } finally {
    await Promise.all(chain.map((f) => f.fh.close()));
  }
}

export interface ReadAuditOptions {
  /** Flush first: wait until auditd has written everything the kernel queued before this call. Default true. */
  sync?: boolean;
  /** Bound on the wait for auditd, default 30 s. */
  timeoutMs?: number;
}

/**
 * The lines auditd wrote after `mark` (following audit.log → audit.log.1 … if a rotation happened),
 * by default after making sure auditd has flushed everything the kernel had queued before this call.
 */
export async function readAuditSince(mark: AuditMark, opts: ReadAuditOptions = {}): Promise<string[]> {
  const sync = opts.sync ?? true;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (!sync) return (await readFrom(mark)).lines;
  const token = await sendSyncMarker();
  const lines: string[] = [];
  let cursor = mark;
  const t0 = Date.now();
  let delay = 5;
  for (;;) {
    const chunk = await readFrom(cursor);
    cursor = chunk.next;
    let found = false;
    for (const l of chunk.lines) {
      if (l.includes(token)) found = true;
      else lines.push(l);
    }
    if (found) return lines;
    if (Date.now() - t0 > timeoutMs) {
      const st = await auditStatus().catch((e: Error) => ({ error: e.message }));
      throw new Error(
        `auditd did not write the sync record ${token} to ${mark.path} within ${timeoutMs} ms ` +
          `(auditctl -s: ${JSON.stringify(st)}); is auditd running and registered? run test/env/auditd.sh`,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}

/** Sends a USER record through the kernel's audit queue; returns the token it carries. */
async function sendSyncMarker(): Promise<string> {
  await ensureAuditd();
  const token = `auditflow-sync-${process.pid}-${randomBytes(6).toString('hex')}`;
  const r = await execCapture('auditctl', ['-m', token], { timeoutMs: 10_000 }).catch((e: Error) => {
    throw new Error(`${e.message}: install auditd with test/env/auditd.sh`);
  });
  if (r.code !== 0) {
    throw new Error(`auditctl -m failed (exit ${r.code}): ${tail(r.stderr)}; needs root (CAP_AUDIT_WRITE)`);
  }
  return token;
}

/** Waits (bounded) until auditd has written everything the kernel queued before this call. */
export async function auditSync(timeoutMs = 30_000): Promise<void> {
  await readAuditSince(await auditMark(), { timeoutMs });
}

/** Polls the lines written after `mark` until `pred` holds or `timeoutMs` passes (then throws). */
export async function waitForAudit(
  mark: AuditMark,
  pred: (lines: string[]) => boolean,
  timeoutMs = 30_000,
  what = 'the expected audit records',
): Promise<string[]> {
  const t0 = Date.now();
  const lines: string[] = [];
  let cursor = mark;
  let delay = 5;
  for (;;) {
    const chunk = await readFrom(cursor);
    cursor = chunk.next;
    lines.push(...chunk.lines);
    if (pred(lines)) return lines;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} in ${mark.path}`);
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}

// ---------------------------------------------------------------------------------------------------
// picking records out of lines (independent of parsers/, so a parser bug cannot hide a rig bug)

/** A raw field of an audit line (before auditd's 0x1d ENRICHED separator), quotes kept. */
export function auditField(line: string, key: string): string | undefined {
  const gs = line.indexOf('\x1d');
  const raw = gs < 0 ? line : line.slice(0, gs);
  const m = new RegExp(`(?:^|[\\s:])${key.replace(/[^\w-]/g, '\\$&')}=("[^"]*"|'[^']*'|\\S*)`).exec(raw);
  return m ? m[1] : undefined;
}

/** `type=` of an auditd line (`SECCOMP`, `ANOM_ABEND`, …). */
export function auditType(line: string): string | undefined {
  return /^type=(\S+)/.exec(line)?.[1];
}

/** The serial of `msg=audit(SEC.MS:SERIAL)`. */
export function auditSerial(line: string): number | undefined {
  const m = /audit\(\d+\.\d+:(\d+)\)/.exec(line);
  return m ? Number(m[1]) : undefined;
}

function withSameEvents(lines: string[], match: (l: string) => boolean): string[] {
  const serials = new Set<number>();
  for (const l of lines) if (match(l)) serials.add(auditSerial(l) ?? -1);
  return lines.filter((l) => match(l) || serials.has(auditSerial(l) ?? -2));
}

/** The records of process `pid` (`pid=` field), plus the other records of the same events (same serial). */
export function recordsForPid(lines: string[], pid: number): string[] {
  const want = String(pid);
  return withSameEvents(lines, (l) => auditField(l, 'pid') === want);
}

/** The records of audit session `ses` (inherited by every child: the whole process tree of a run). */
export function recordsForSession(lines: string[], ses: number): string[] {
  const want = String(ses);
  return withSameEvents(lines, (l) => auditField(l, 'ses') === want);
}

// ---------------------------------------------------------------------------------------------------
// seclog

let helpers: Promise<{ seclog64: string; seclog32: string }> | undefined;

/** Path of the seclog helper for `bits` (default 64), built into the cache by build-helpers.sh. */
export async function seclog(opts: { bits?: 32 | 64 } = {}): Promise<string> {
  const bits = opts.bits ?? 64;
  if (!helpers) {
    helpers = (async () => {
      const out = await runEnvScript('build-helpers.sh', 20 * 60_000);
      const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1]?.trim() ?? '';
      return { seclog64: get('seclog64'), seclog32: get('seclog32') };
    })();
    helpers.catch(() => (helpers = undefined));
  }
  const h = await helpers;
  const p = bits === 32 ? h.seclog32 : h.seclog64;
  if (!p) {
    throw new Error(
      bits === 32
        ? `no 32-bit seclog: build-helpers.sh builds it only on x86_64 (with gcc-multilib and libc6-dev-i386)`
        : `build-helpers.sh printed no seclog64= path`,
    );
  }
  return p;
}

export interface SeccompRunOptions {
  /** Return EPERM for this syscall number (of the helper's arch) instead of logging it. */
  errno?: number;
  /** Kill the process (SECCOMP_RET_KILL_PROCESS) on this syscall number. */
  kill?: number;
  /** SECCOMP_RET_TRAP (SIGSYS) on this syscall number. */
  trap?: number;
  /** Which seclog build runs the command: 64 (native) or 32 (i386, static). Default 64. */
  bits?: 32 | 64;
  /**
   * Give the run its own audit session: loginuid is set to `auid` (default 0) just before exec, so the
   * kernel assigns a fresh `ses` that every child inherits; pick its records with recordsForSession().
   */
  session?: boolean;
  auid?: number;
  timeoutMs?: number;
}

export interface RunResult {
  /** Host pid of the process that ran under the filter (seclog execs the command, so it keeps the pid). */
  pid: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Audit session id when `session` was asked for. */
  ses: number | undefined;
}

/** Shell prologue: no core files (kill/trap runs dump core), then exec "$@" in place (same pid). */
const PLAIN_SH = 'ulimit -c 0 2>/dev/null; exec "$@"';
/** Same, and first set loginuid (new audit session) and report the session id on fd 3. */
const SESSION_SH =
  'ulimit -c 0 2>/dev/null; ' +
  'echo "$AF_AUID" > /proc/self/loginuid || { echo "auditflow rig: cannot write /proc/self/loginuid ' +
  '(loginuid_immutable set? see auditctl -s)" >&2; exit 126; }; ' +
  'read -r s < /proc/self/sessionid; echo "$s" >&3; exec 3>&-; exec "$@"';

/**
 * Spawns argv through /bin/sh (core dumps off, optionally a fresh audit session) which execs it in place,
 * so `pid` is argv's own pid. Waits for it to end.
 */
export function spawnTracked(
  argv: readonly string[],
  opts: { session?: boolean; auid?: number; timeoutMs?: number; onSpawn?: (pid: number) => void } = {},
): Promise<RunResult> {
  if (argv.length === 0) return Promise.reject(new Error('spawnTracked: empty argv'));
  const session = opts.session ?? false;
  const file = '/bin/sh';
  const args = ['-c', session ? SESSION_SH : PLAIN_SH, 'auditflow-rig', ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe', session ? 'pipe' : 'ignore'],
      env: { ...process.env, AF_AUID: String(opts.auid ?? 0) },
    });
    let stdout = '';
    let stderr = '';
    let sesText = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const fd3 = child.stdio[3] as NodeJS.ReadableStream | null | undefined;
    fd3?.setEncoding('utf8');
    fd3?.on('data', (d: string) => (sesText += d));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${argv.join(' ')} did not finish within ${opts.timeoutMs} ms (killed)`));
      }, opts.timeoutMs);
    }
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${argv[0]}: ${e.message}`));
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const pid = child.pid;
      if (pid === undefined) return reject(new Error(`cannot run ${argv[0]}: no pid`));
      if (session && code === 126 && /loginuid/.test(stderr)) return reject(new Error(tail(stderr)));
      const ses = session ? Number(sesText.trim()) : undefined;
      if (session && !(Number.isInteger(ses) && ses! >= 0 && ses !== 4294967295)) {
        return reject(new Error(`no audit session id came back (got "${sesText.trim()}"): ${tail(stderr)}`));
      }
      resolve({ pid, exitCode: code, signal, stdout, stderr, ses });
    });
  });
}

/**
 * Runs argv under seclog: every syscall logged (SECCOMP_RET_LOG), except the one chosen with
 * errno/kill/trap. Calls ensureAuditd() first.
 */
export async function runUnderSeccomp(argv: readonly string[], opts: SeccompRunOptions = {}): Promise<RunResult> {
  await ensureAuditd();
  const bin = await seclog({ bits: opts.bits ?? 64 });
  const chosen = (['errno', 'kill', 'trap'] as const).filter((k) => opts[k] !== undefined);
  if (chosen.length > 1) throw new Error(`runUnderSeccomp: give at most one of errno/kill/trap (got ${chosen.join(', ')})`);
  const flag = chosen.length ? [`--${chosen[0]}`, String(opts[chosen[0]!])] : [];
  const spawnOpts: { session?: boolean; auid?: number; timeoutMs?: number } = { timeoutMs: opts.timeoutMs ?? 60_000 };
  if (opts.session !== undefined) spawnOpts.session = opts.session;
  if (opts.auid !== undefined) spawnOpts.auid = opts.auid;
  // (build-helpers.sh has checked that seclog can install its filter on this kernel)
  return spawnTracked([bin, ...flag, '--', ...argv], spawnOpts);
}

/**
 * The kernel-record tests read exactly what one process made the kernel log, so they need a node without
 * syscall audit rules: any rule adds SYSCALL/EXECVE/… records and shares serials between records. `auditflow
 * run` leaves its lineage rule (key auditflow-fork, src/enrich/audit-rules.ts) in place when it stops; this
 * removes it (the next `auditflow run` installs it again) and fails, naming them, if other rules remain.
 */
export async function withoutAuditRules(): Promise<void> {
  await execCapture('auditctl', ['-D', '-k', 'auditflow-fork'], { timeoutMs: 10_000 });
  const r = await execCapture('auditctl', ['-l'], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`auditctl -l failed (exit ${r.code}): ${r.stderr.trim()}`);
  if (r.stdout.trim() !== 'No rules') {
    throw new Error(`these tests need a node without syscall audit rules, but auditctl -l lists:\n${r.stdout}remove them (auditctl -D) to run the kernel-record tests`);
  }
}
