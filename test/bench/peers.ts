// Peer tools for `npm run bench`: run each one on the same real audit log as auditflow's parser, in the
// same process run, and report throughput.
//
// The peers are installed/built and cached by test/bench/peers.sh (run from here; a no-op when cached):
//   - ausearch (Debian auditd): `ausearch -m SECCOMP --format raw -if FILE`, on a 50k-line slice only: it
//     is quadratic in the input (measured here on 25k and 50k lines; the note gives the exponent and the
//     extrapolation to the full file);
//   - go-libaudit's cmd/auparse, twice: raw (header parse + event reassembly, prints each record back)
//     and `-i -format json` (coalesce + interpret + JSON, the mode comparable to auditflow's events);
//   - laurel, the auditd plugin: it reads records on stdin and writes one JSON line per event to the file
//     its config names; with `[auditlog] file = "-"` that is stdout, in a throw-away config directory;
//   - a naive Node baseline: readline + `line.split(' ')` + an object of key=value pairs per line.
// Every peer writes its output to a file on tmpfs (/dev/shm; a pipe into this process would slow the peers
// down ~2x, /dev/null would leave nothing to check), which is then counted and deleted and checked against
// what the input holds (lines, SECCOMP records, events), so a peer that fails quickly is reported as
// failed, never timed as fast. Wall time is process.hrtime from spawn to exit; MB means 10^6 bytes.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

export interface PeerResult {
  name: string;
  /** the command line as run (shell notation, for the report) */
  command: string;
  /** input lines the peer processed */
  lines: number;
  seconds: number;
  linesPerSec: number;
  mbPerSec: number;
  note?: string;
  /** set when the peer could not be built or did not process the input; the numbers are then 0 */
  unavailable?: string;
}

export interface RunPeersOptions {
  /** a file holding the first 50,000 lines of logFile (ausearch runs on it) */
  slice50k: string;
  /** run only these peers (names as in PeerResult.name; default all) */
  only?: string[];
  /** progress messages (default: stderr) */
  log?: (msg: string) => void;
  /** kill a peer after this long (default 30 min) */
  timeoutMs?: number;
}

export const PEER_NAMES = ['naive-node', 'ausearch', 'auparse', 'auparse-interpret', 'laurel'] as const;

/** Throughput numbers the same way for every row of the bench (MB = 10^6 bytes). */
export function throughput(lines: number, bytes: number, seconds: number): { linesPerSec: number; mbPerSec: number } {
  if (!(seconds > 0)) return { linesPerSec: 0, mbPerSec: 0 };
  return { linesPerSec: Math.round(lines / seconds), mbPerSec: Math.round((bytes / 1e6 / seconds) * 100) / 100 };
}

function elapsed(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function shellQuote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

// ---- what the input holds (not timed) ---------------------------------------------------------------

export interface InputStats {
  bytes: number;
  lines: number;
  seccomp: number;
  /** distinct audit(ts:serial) ids: the number of events a coalescing peer emits */
  events: number;
}

const HEADER = /^(?:node=\S+ )?type=(\S+) msg=audit\(([0-9]+\.[0-9]+:[0-9]+)\)/;

export async function inputStats(file: string): Promise<InputStats> {
  const bytes = (await fs.promises.stat(file)).size;
  let lines = 0;
  let seccomp = 0;
  const ids = new Set<string>();
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    lines++;
    const m = HEADER.exec(line);
    if (!m) continue;
    if (m[1] === 'SECCOMP') seccomp++;
    ids.add(m[2]!);
  }
  return { bytes, lines, seccomp, events: ids.size };
}

// ---- peers.sh ---------------------------------------------------------------------------------------

interface PeerPaths {
  bins: Record<string, string>;
  unavailable: Record<string, string>;
}

function peersScript(): string {
  // compiled: dist/test/bench/peers.js -> <repo>/test/bench/peers.sh; from source: beside this file
  const candidates = [path.resolve(__dirname, '../../../test/bench/peers.sh'), path.join(__dirname, 'peers.sh')];
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0]!;
}

async function resolvePeers(log: (m: string) => void): Promise<PeerPaths> {
  const script = peersScript();
  const out: PeerPaths = { bins: {}, unavailable: {} };
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let so = '';
    let se = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (so += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      se += d;
      for (const l of d.split('\n')) if (l.trim()) log(l);
    });
    child.on('error', (e) => resolve({ code: -1, stdout: so, stderr: `${se}\n${e.message}` }));
    child.on('close', (c) => resolve({ code: c, stdout: so, stderr: se }));
  });
  for (const line of stdout.split('\n')) {
    const m = /^([a-z0-9-]+)(\.unavailable)?=(.*)$/.exec(line);
    if (!m) continue;
    if (m[2]) out.unavailable[m[1]!] = m[3]!;
    else if (m[3]) out.bins[m[1]!] = m[3];
  }
  if (code !== 0) {
    const why = `${script} exited ${code}: ${stderr.trim().split('\n').slice(-2).join(' ')}`;
    for (const name of ['ausearch', 'auparse', 'laurel']) if (!out.bins[name]) out.unavailable[name] ??= why;
  }
  for (const name of ['ausearch', 'auparse', 'laurel']) {
    if (!out.bins[name] && !out.unavailable[name]) out.unavailable[name] = `${script} reported no ${name}`;
  }
  return out;
}

// ---- running one command with its output counted ---------------------------------------------------

interface RunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  /** output lines (all, or only those starting with `countPrefix`) */
  outLines: number;
  /** the output lines that did not start with countPrefix, up to a few KB (laurel's own log) */
  otherOut: string;
  stderrTail: string;
  error?: string;
}

/**
 * Runs CMD with stdout to a file in `outDir` (tmpfs when there is room: a pipe into this process would
 * slow the peer down by 2x, measured, and /dev/null would leave nothing to check), timed from spawn to
 * exit; then counts the output lines (all, or those starting with the byte `countPrefix`) and deletes it.
 */
async function runCounted(
  cmd: string,
  args: string[],
  opts: { stdinFile?: string; countPrefix?: number; timeoutMs: number; outDir: string },
): Promise<RunOutcome> {
  const outFile = path.join(opts.outDir, `peer-out-${process.pid}-${Date.now()}`);
  const outFd = fs.openSync(outFile, 'w', 0o600);
  try {
    const run = await new Promise<Omit<RunOutcome, 'outLines' | 'otherOut'>>((resolve) => {
      const stdinFd = opts.stdinFile ? fs.openSync(opts.stdinFile, 'r') : 'ignore';
      const start = process.hrtime.bigint();
      const child = spawn(cmd, args, { stdio: [stdinFd, outFd, 'pipe'] });
      if (typeof stdinFd === 'number') fs.closeSync(stdinFd);
      let stderrTail = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        stderrTail = (stderrTail + d).slice(-16384);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
      let error: string | undefined;
      child.on('error', (e) => (error = e.message));
      child.on('close', (code, signal) => {
        const seconds = elapsed(start);
        clearTimeout(timer);
        resolve({ code, signal, seconds, stderrTail, ...(error ? { error } : {}) });
      });
    });
    fs.closeSync(outFd);
    const { lines, other } = await countOutput(outFile, opts.countPrefix);
    return { ...run, outLines: lines, otherOut: other };
  } finally {
    try {
      fs.closeSync(outFd);
    } catch {
      /* closed above */
    }
    await fs.promises.rm(outFile, { force: true });
  }
}

/** Lines in FILE (or those whose first byte is `prefix`), plus the first 8 KB of the other lines. */
async function countOutput(file: string, prefix?: number): Promise<{ lines: number; other: string }> {
  let lines = 0;
  let other = '';
  let atLineStart = true;
  let collectingOther = false;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    if (prefix === undefined) {
      let i = -1;
      while ((i = buf.indexOf(10, i + 1)) !== -1) lines++;
      continue;
    }
    let pos = 0;
    while (pos < buf.length) {
      if (atLineStart) {
        collectingOther = buf[pos] !== prefix;
        if (!collectingOther) lines++;
        atLineStart = false;
      }
      const nl = buf.indexOf(10, pos);
      const end = nl === -1 ? buf.length : nl + 1;
      if (collectingOther && other.length < 8192) other += buf.toString('utf8', pos, end);
      if (nl === -1) break;
      atLineStart = true;
      pos = nl + 1;
    }
  }
  return { lines, other };
}

/** tmpfs (/dev/shm) when it has room for `need` bytes, else the OS temp dir */
async function outputDir(need: number, fallback: string): Promise<string> {
  try {
    const st = await fs.promises.statfs('/dev/shm');
    if (st.bavail * st.bsize > need) {
      return await fs.promises.mkdtemp('/dev/shm/auditflow-peers-');
    }
  } catch {
    /* no /dev/shm */
  }
  return fallback;
}

function failed(r: RunOutcome, okCodes: number[] = [0]): string | undefined {
  if (r.error) return `could not start: ${r.error}`;
  if (r.signal) return `killed by ${r.signal} after ${r.seconds.toFixed(1)} s`;
  if (r.code === null || !okCodes.includes(r.code)) {
    return `exited ${r.code}: ${r.stderrTail.trim().split('\n').slice(-3).join(' | ') || '(no stderr)'}`;
  }
  return undefined;
}

function row(name: string, command: string, lines: number, bytes: number, seconds: number, note?: string): PeerResult {
  return { name, command, lines, seconds: Math.round(seconds * 1000) / 1000, ...throughput(lines, bytes, seconds), ...(note ? { note } : {}) };
}

function unavailableRow(name: string, command: string, why: string): PeerResult {
  return { name, command, lines: 0, seconds: 0, linesPerSec: 0, mbPerSec: 0, unavailable: why };
}

/** `count` within 0.1% of `want` (a peer may legitimately drop a partial event at the very end) */
function close(count: number, want: number): boolean {
  return want > 0 && Math.abs(count - want) <= Math.max(2, want * 0.001);
}

// ---- the naive baseline ------------------------------------------------------------------------------

/** readline over the file, `line.split(' ')`, one object of key=value pairs per line. */
export async function naiveBaseline(file: string): Promise<{ lines: number; seconds: number; keys: number; typed: number }> {
  const start = process.hrtime.bigint();
  let lines = 0;
  let keys = 0;
  let typed = 0;
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    lines++;
    const rec: Record<string, string> = {};
    for (const tok of line.split(' ')) {
      const eq = tok.indexOf('=');
      if (eq > 0) rec[tok.slice(0, eq)] = tok.slice(eq + 1);
    }
    if (rec['type'] !== undefined) typed++;
    keys += Object.keys(rec).length;
  }
  return { lines, seconds: elapsed(start), keys, typed };
}

// ---- the peers ------------------------------------------------------------------------------------

export async function runPeers(logFile: string, opts: RunPeersOptions): Promise<PeerResult[]> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const timeoutMs = opts.timeoutMs ?? 30 * 60 * 1000;
  const want = (name: string) => !opts.only || opts.only.includes(name);
  const results: PeerResult[] = [];

  const full = await inputStats(logFile);
  const slice = await inputStats(opts.slice50k);
  log(`peers: input ${logFile}: ${full.lines} lines (${full.seccomp} SECCOMP, ${full.events} events), ${(full.bytes / 1e6).toFixed(1)} MB; slice ${opts.slice50k}: ${slice.lines} lines`);
  const peers = want('ausearch') || want('auparse') || want('auparse-interpret') || want('laurel')
    ? await resolvePeers(log)
    : { bins: {}, unavailable: {} };
  const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'auditflow-peers-'));
  // auparse -i -format json writes ~5x its input
  const outDir = await outputDir(full.bytes * 6, tmp);
  const sink = `> ${outDir}/peer-out-… (lines counted, then deleted)`;
  try {
    // -- naive Node baseline
    if (want('naive-node')) {
      const cmd = `node: readline ${logFile} + line.split(' ') + {key: value} per line`;
      log('peers: naive-node ...');
      const r = await naiveBaseline(logFile);
      results.push(
        r.lines === full.lines && r.typed === full.lines
          ? row('naive-node', cmd, r.lines, full.bytes, r.seconds, `${r.keys} key=value pairs, in-process`)
          : unavailableRow('naive-node', cmd, `read ${r.lines} lines (${r.typed} with type=) of ${full.lines}`),
      );
    }

    // -- ausearch: quadratic, so on the 50k slice; also on its first 25k lines to measure the growth
    if (want('ausearch')) {
      const bin = peers.bins['ausearch'];
      const args = (f: string) => ['-m', 'SECCOMP', '--format', 'raw', '-if', f];
      const cmd = `${bin ?? 'ausearch'} ${args(opts.slice50k).map(shellQuote).join(' ')} ${sink}`;
      if (!bin) results.push(unavailableRow('ausearch', cmd, peers.unavailable['ausearch'] ?? 'not built'));
      else {
        const half = path.join(tmp, 'slice-half.log');
        const halfLines = Math.floor(slice.lines / 2);
        await writeHead(opts.slice50k, half, halfLines);
        const halfStats = await inputStats(half);
        log(`peers: ausearch on ${halfLines} and ${slice.lines} lines ...`);
        const r1 = await runCounted(bin, args(half), { timeoutMs, outDir });
        const r2 = await runCounted(bin, args(opts.slice50k), { timeoutMs, outDir });
        // ausearch exits 1 when nothing matched: with SECCOMP records in the input that is a failure
        const bad = failed(r2) ?? (!close(r2.outLines, slice.seccomp) ? `printed ${r2.outLines} records, the slice holds ${slice.seccomp} SECCOMP records` : undefined);
        if (bad) results.push(unavailableRow('ausearch', cmd, `ran but ${bad}`));
        else {
          let note = `on the first ${slice.lines} lines only (quadratic)`;
          if (!failed(r1) && close(r1.outLines, halfStats.seccomp) && r1.seconds > 0) {
            const k = Math.log(r2.seconds / r1.seconds) / Math.log(slice.lines / halfLines);
            const est = r2.seconds * Math.pow(full.lines / slice.lines, k);
            note += `: ${halfLines} lines ${r1.seconds.toFixed(2)} s, ${slice.lines} lines ${r2.seconds.toFixed(2)} s, time ~ n^${k.toFixed(2)}; the full ${full.lines}-line file would take ~${fmtDuration(est)}`;
          }
          results.push(row('ausearch', cmd, slice.lines, slice.bytes, r2.seconds, note));
        }
      }
    }

    // -- go-libaudit auparse: raw and interpreted
    for (const [name, extra, what] of [
      ['auparse', [] as string[], 'raw: header parse + reassembly, records printed back'],
      ['auparse-interpret', ['-i', '-format', 'json'], 'coalesce + interpret (ids resolved) + JSON per event'],
    ] as const) {
      if (!want(name)) continue;
      const bin = peers.bins['auparse'];
      const args = [...extra, '-in', logFile];
      const cmd = `${bin ?? 'auparse'} ${args.map(shellQuote).join(' ')} ${sink}`;
      if (!bin) {
        results.push(unavailableRow(name, cmd, peers.unavailable['auparse'] ?? 'not built'));
        continue;
      }
      log(`peers: ${name} ...`);
      // raw mode prints "---" between events and "type=… msg=…" per record: count the records;
      // -format json prints one object per event
      const r = await runCounted(bin, args, { countPrefix: extra.length ? 0x7b /* { */ : 0x74 /* t */, timeoutMs, outDir });
      const expect = extra.length ? full.events : full.lines;
      const parseErrors = (r.stderrTail.match(/failed to parse message header/g) ?? []).length;
      const bad = failed(r) ?? (!close(r.outLines, expect) ? `printed ${r.outLines} ${extra.length ? 'events' : 'records'}, the input holds ${expect}` : undefined);
      if (bad) results.push(unavailableRow(name, cmd, `ran but ${bad}`));
      else {
        let note = `${what}; ${r.outLines} ${extra.length ? 'events' : 'records'} out`;
        if (parseErrors) note += `; ${parseErrors}+ header parse errors`;
        if (extra.length) note += `; does not split auditd's ENRICHED part (\\x1d…) from the last field`;
        results.push(row(name, cmd, full.lines, full.bytes, r.seconds, note));
      }
    }

    // -- laurel: stdin -> JSON lines on stdout ("-"), config and state in a throw-away directory
    if (want('laurel')) {
      const bin = peers.bins['laurel'];
      const dir = path.join(tmp, 'laurel');
      const config = path.join(dir, 'config.toml');
      const cmd = `${bin ?? 'laurel'} -c ${shellQuote(config)} < ${shellQuote(logFile)} ${sink}`;
      if (!bin) results.push(unavailableRow('laurel', cmd, peers.unavailable['laurel'] ?? 'not built'));
      else {
        await fs.promises.mkdir(dir, { mode: 0o700 });
        // default translation/enrichment settings; only where it reads and writes is changed. laurel
        // refuses a world-writable config; its own log messages also go to stdout (not starting with "{")
        await fs.promises.writeFile(
          config,
          [
            `directory = ${JSON.stringify(dir)}`,
            'input = "stdin"',
            '[auditlog]',
            'file = "-"',
            '[state]',
            'file = ""',
            '',
          ].join('\n'),
          { mode: 0o600 },
        );
        log('peers: laurel ...');
        const r = await runCounted(bin, ['-c', config], { stdinFile: logFile, countPrefix: 0x7b, timeoutMs, outDir });
        const stats = /processed (\d+) lines \d+ events with (\d+) errors/.exec(r.otherOut + r.stderrTail);
        const seen = stats ? Number(stats[1]) : undefined;
        const errors = stats ? Number(stats[2]) : undefined;
        const bad =
          failed(r) ??
          (!close(r.outLines, full.events)
            ? `printed ${r.outLines} events, the input holds ${full.events}`
            : seen !== undefined && seen !== full.lines
              ? `says it processed ${seen} lines of ${full.lines}`
              : undefined);
        if (bad) results.push(unavailableRow('laurel', cmd, `ran but ${bad}; its log: ${r.otherOut.trim().split('\n').slice(-2).join(' | ')}`));
        else {
          const note = `auditd plugin on stdin, JSON per event to stdout, default enrichment; ${r.outLines} events out${errors ? `, ${errors} parse errors` : ''}`;
          results.push(row('laurel', cmd, full.lines, full.bytes, r.seconds, note));
        }
      }
    }
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true });
    if (outDir !== tmp) await fs.promises.rm(outDir, { recursive: true, force: true });
  }
  return results;
}

/**
 * The first `lines` lines of logFile, in a file beside it (`audit-600k.head50k.log`), made once and
 * reused while it is newer than logFile: the `slice50k` input for runPeers.
 */
export async function ensureSlice(logFile: string, lines = 50_000): Promise<string> {
  const out = `${logFile.replace(/\.log$/, '')}.head${lines % 1000 === 0 ? `${lines / 1000}k` : lines}.log`;
  try {
    const [a, b] = await Promise.all([fs.promises.stat(out), fs.promises.stat(logFile)]);
    if (a.mtimeMs >= b.mtimeMs && a.size > 0) return out;
  } catch {
    /* not there yet */
  }
  const tmp = `${out}.tmp.${process.pid}`;
  await writeHead(logFile, tmp, lines);
  await fs.promises.rename(tmp, out);
  return out;
}

async function writeHead(src: string, dst: string, lines: number): Promise<void> {
  const out = fs.createWriteStream(dst);
  const rl = readline.createInterface({ input: fs.createReadStream(src), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    if (n++ >= lines) break;
    if (!out.write(`${line}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  rl.close();
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

function fmtDuration(s: number): string {
  if (s < 120) return `${s.toFixed(0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
