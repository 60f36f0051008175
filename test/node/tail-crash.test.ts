// At-least-once across kill -9: a child tails a growing, rotating log, writes each batch to its own output
// file (fsync) and only then acks. It is SIGKILLed several times while a writer keeps appending numbered
// lines. Every line must show up at least once, each run must continue exactly after the checkpoint its
// predecessor left behind (so re-reads are only what came after that checkpoint), and nothing is skipped.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Checkpoint } from '../../src/tail/types';
import { envDir, LINE_BYTES, linesText, numberOf, rotate, scratchDir, waitFor } from '../env/tail-helpers';

/** Lines per file before the writer rotates it. */
const PER_FILE = 5_000;
const KILLS = 6;

interface Run {
  out: string;
  child: ChildProcess;
  stderr: string;
  /** The checkpoint the run started from (the one its predecessor left). */
  startCp: Checkpoint | null;
}

function childScript(): string {
  const p = path.join(envDir, 'tail-child.js');
  if (!existsSync(p)) throw new Error(`${p} is missing: run "npx tsc -p ." first`);
  return p;
}

function startRun(file: string, cpPath: string, out: string): Promise<Run> {
  const startCp = existsSync(cpPath) ? (JSON.parse(readFileSync(cpPath, 'utf8')) as Checkpoint) : null;
  const child = spawn(process.execPath, [childScript(), file, cpPath, out, '100'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AUDITFLOW_LOG_LEVEL: 'warn' },
  });
  const run: Run = { out, child, stderr: '', startCp };
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (run.stderr += d));
  return new Promise((resolve, reject) => {
    let so = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      so += d;
      if (so.includes('ready\n')) resolve(run);
    });
    child.on('exit', (code, sig) => reject(new Error(`tail-child exited (${code ?? sig}) before it was ready: ${run.stderr}`)));
  });
}

function kill9(run: Run): Promise<void> {
  return new Promise((resolve) => {
    if (run.child.exitCode !== null || run.child.signalCode !== null) return resolve();
    run.child.once('exit', () => resolve());
    run.child.kill('SIGKILL');
  });
}

/** The complete lines of an output file (a line torn by the kill, without newline, is not one). */
function outputNumbers(out: string): number[] {
  if (!existsSync(out)) return [];
  const text = readFileSync(out, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete.split('\n').filter((l) => l.length > 0).map(numberOf);
}

test('kill -9 while a writer appends and rotates: every line at least once, re-reads only after the last checkpoint', async () => {
  const dir = scratchDir('tail-crash');
  const file = path.join(dir, 'audit.log');
  const cpPath = path.join(dir, 'cp.json');
  await fsp.writeFile(file, '');
  // inode → number of the first line written to that file
  const firstLine = new Map<number, number>([[statSync(file).ino, 1]]);

  // The writer keeps appending (and rotating) until every kill is done, so each run has fresh lines.
  let written = 0;
  let stop = false;
  let writerError: Error | null = null;
  const writer = (async () => {
    while (!stop) {
      await fsp.appendFile(file, linesText(written + 1, written + 40));
      written += 40;
      if (written % PER_FILE === 0) {
        await rotate(file);
        firstLine.set(statSync(file).ino, written + 1);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })().catch((e: Error) => (writerError = e));
  let TOTAL = 0;

  /** The last line number a checkpoint covers. */
  const coveredBy = (cp: Checkpoint | null): number => {
    if (!cp) return 0;
    const first = firstLine.get(cp.position.ino);
    if (first === undefined) throw new Error(`checkpoint names inode ${cp.position.ino}, not one of the test's files`);
    assert.equal(cp.position.offset % LINE_BYTES, 0, 'checkpoint offsets fall on line boundaries');
    return first - 1 + cp.position.offset / LINE_BYTES;
  };

  const runs: Run[] = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      const run = await startRun(file, cpPath, path.join(dir, `out-${k}.txt`));
      runs.push(run);
      // Let it work for a while (at least until it has written something), then kill it mid-flight.
      await waitFor(() => outputNumbers(run.out).length > 0, `run ${k} to output lines`, 30_000);
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 250)));
      await kill9(run);
      assert.equal(run.child.signalCode, 'SIGKILL');
    }
    stop = true;
    await writer;
    if (writerError) throw writerError;
    TOTAL = written;
    assert.ok(firstLine.size >= 2, `the writer rotated at least once (${TOTAL} lines)`);
    // The last run reads to the end and stops cleanly.
    const last = await startRun(file, cpPath, path.join(dir, `out-${KILLS}.txt`));
    runs.push(last);
    await waitFor(() => outputNumbers(last.out).at(-1) === TOTAL, 'the last run to reach the last line', 60_000);
    last.child.kill('SIGTERM');
    await new Promise((r) => last.child.once('exit', r));
    assert.equal(last.child.exitCode, 0, `clean exit on SIGTERM: ${last.stderr}`);
  } finally {
    stop = true;
    for (const r of runs) await kill9(r);
  }

  const seen = new Set<number>();
  let duplicates = 0;
  for (let k = 0; k < runs.length; k++) {
    const run = runs[k]!;
    const nums = outputNumbers(run.out);
    assert.ok(nums.length > 0, `run ${k} output something`);
    // Within a run: consecutive, no gap, no reordering.
    for (let i = 1; i < nums.length; i++) {
      if (nums[i] !== nums[i - 1]! + 1) assert.fail(`run ${k}: line ${nums[i]} follows ${nums[i - 1]}`);
    }
    // Across runs: a run starts exactly after what its starting checkpoint covers…
    const covered = coveredBy(run.startCp);
    assert.equal(nums[0], covered + 1, `run ${k} starts right after its checkpoint (which covers line ${covered})`);
    if (k > 0) {
      const prev = outputNumbers(runs[k - 1]!.out);
      // …which is no later than just after what the killed run had durably written (nothing skipped),
      assert.ok(nums[0]! <= prev.at(-1)! + 1, `run ${k} starts at ${nums[0]}, run ${k - 1} ended at ${prev.at(-1)}`);
      // and the checkpoint covered at least where the previous run started: only its later lines repeat.
      assert.ok(covered >= coveredBy(runs[k - 1]!.startCp));
      duplicates += prev.at(-1)! - nums[0]! + 1;
    }
    for (const n of nums) seen.add(n);
  }
  for (let i = 1; i <= TOTAL; i++) if (!seen.has(i)) assert.fail(`line ${i} never came out`);
  assert.equal(seen.size, TOTAL);
  // The clean close left a checkpoint at the very end.
  assert.equal(coveredBy(JSON.parse(readFileSync(cpPath, 'utf8')) as Checkpoint), TOTAL);
  process.stderr.write(`# tail-crash: ${KILLS} kills, ${TOTAL} lines in ${firstLine.size} files, ${duplicates} re-read after restarts\n`);
});
