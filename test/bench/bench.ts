// npm run bench: throughput of auditflow's hot path on one real auditd log (≥ 500k records the rig made on
// this machine, cached, not committed), against peer tools run on the same input in the same run.
// It prints figures; it asserts nothing (speed is never a test assertion).
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isRecord, parseLine } from '../../parsers';
import { LineSplitter } from '../../src/io/line-splitter';
import { MAX_LINE } from '../../src/io/record-reader';
import { ensureSlice, runPeers, type PeerResult } from './peers';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'dist/src/cli/main.js');

interface Row {
  name: string;
  input: string;
  lines: number;
  seconds: number;
  note?: string;
}

/** The parser core alone: chunks → lines → parseLine, no output. Best of 3, CPU time of this one thread. */
function parserCore(file: string): Row & { cpuSeconds: number } {
  let best = { seconds: Infinity, cpu: Infinity, lines: 0 };
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let round = 0; round < 3; round++) {
    const fd = fs.openSync(file, 'r');
    let lines = 0;
    let records = 0;
    const splitter = new LineSplitter(MAX_LINE, () => lines++);
    const onLine = (l: string) => {
      lines++;
      if (isRecord(parseLine(l))) records++;
    };
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      splitter.push(buf.subarray(0, n), onLine);
    }
    splitter.end(onLine);
    const cpu = process.cpuUsage(c0);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    fs.closeSync(fd);
    if (records < lines * 0.99) throw new Error(`parser core: only ${records} of ${lines} lines parsed as records`);
    if (seconds < best.seconds) best = { seconds, cpu: (cpu.user + cpu.system) / 1e6, lines };
  }
  return { name: 'auditflow parser core (no output)', input: 'full', lines: best.lines, seconds: best.seconds, cpuSeconds: best.cpu };
}

/** `auditflow parse FILE > /dev/null`, as a user runs it (NDJSON serialisation included). */
async function cliParse(file: string, label: string): Promise<Row> {
  const out = fs.openSync('/dev/null', 'w');
  const t0 = process.hrtime.bigint();
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, [BIN, 'parse', '--no-progress', file], { stdio: ['ignore', out, 'inherit'] });
    p.on('exit', resolve);
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.closeSync(out);
  if (code !== 0) throw new Error(`auditflow parse exited ${code}`);
  return { name: 'auditflow parse > /dev/null', input: label, lines: countLines(file), seconds };
}

function countLines(file: string): number {
  return Number(execFileSync('wc', ['-l', file], { encoding: 'utf8' }).trim().split(/\s+/)[0]);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const genlog = path.join(ROOT, 'test/bench/genlog.sh');
  process.stderr.write('bench: generating (or reusing) the real audit log with the rig…\n');
  const file = execFileSync('bash', ['-c', `"${genlog}" >&2 && echo "\${AUDITFLOW_CACHE:-/var/cache/auditflow}/bench/audit-600k.log"`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const bytes = fs.statSync(file).size;
  const lines = countLines(file);
  const half = await ensureSlice(file, Math.floor(lines / 2));
  const slice50k = await ensureSlice(file, 50_000);
  console.log(`input: ${file}\n       ${fmt(lines)} lines, ${fmt(bytes / 1e6, 1)} MB, real type=SECCOMP records from this machine's kernel\n`);

  const core = parserCore(file);
  const cliHalf = await cliParse(half, 'first half');
  const cliFull = await cliParse(file, 'full');
  process.stderr.write('bench: running the peers on the same input…\n');
  const peers: PeerResult[] = await runPeers(file, { slice50k });

  const mb = (r: Row) => (r.input === 'full' ? bytes : r.input === 'first half' ? fs.statSync(half).size : fs.statSync(slice50k).size) / 1e6;
  const rows: Row[] = [core, cliHalf, cliFull];
  for (const p of peers) {
    rows.push({ name: p.name, input: p.lines <= 50_000 ? '50k slice' : 'full', lines: p.lines, seconds: p.seconds, note: p.unavailable ? `unavailable: ${p.unavailable}` : p.note });
  }
  const ref = cliFull.lines / cliFull.seconds;
  console.log(`${'tool'.padEnd(36)} ${'input'.padEnd(10)} ${'lines'.padStart(9)} ${'seconds'.padStart(8)} ${'lines/s'.padStart(11)} ${'MB/s'.padStart(7)}  auditflow parse is`);
  for (const r of rows) {
    if (r.note?.startsWith('unavailable')) {
      console.log(`${r.name.padEnd(36)} ${r.note}`);
      continue;
    }
    const lps = r.lines / r.seconds;
    const ratio = r === cliFull ? '(reference)' : `${fmt(ref / lps, 2)}× ${ref >= lps ? 'faster' : 'as fast'}`;
    console.log(`${r.name.padEnd(36)} ${r.input.padEnd(10)} ${fmt(r.lines).padStart(9)} ${fmt(r.seconds, 2).padStart(8)} ${fmt(lps).padStart(11)} ${fmt(mb(r) / r.seconds, 1).padStart(7)}  ${ratio}${r.note ? `  (${r.note})` : ''}`);
  }
  console.log(`\nparser core: ${fmt(core.lines / core.cpuSeconds)} lines/s per CPU-second (one core)`);
  const perLineHalf = cliHalf.seconds / cliHalf.lines;
  const perLineFull = cliFull.seconds / cliFull.lines;
  console.log(`linearity: seconds per line, full / first half = ${fmt(perLineFull / perLineHalf, 2)} (1.00 = linear)`);
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
