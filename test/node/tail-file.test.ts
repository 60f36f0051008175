// The checkpointed tailer on plain files: appends, rename rotation, copytruncate, truncation, deletion,
// restarts from checkpoints (also inside rotated files), corrupt checkpoints, over-long lines.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp, statSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { openTailer } from '../../src/tail';
import { CHUNK, SETTLE_MS } from '../../src/tail/file-tailer';
import { tailMetrics } from '../../src/tail/metrics';
import { registry } from '../../src/metrics';
import type { Checkpoint, Tailer, TailBatch, TailerOptions } from '../../src/tail/types';
import {
  appendLines,
  captureLog,
  collectUntil,
  counterValue,
  LINE_BYTES,
  linesText,
  numberOf,
  range,
  rotate,
  scratchDir,
  waitFor,
} from '../env/tail-helpers';

const open: Tailer[] = [];
after(async () => {
  await Promise.all(open.map((t) => t.close()));
});

async function tailer(opts: Partial<TailerOptions> & { path: string }, log = captureLog().log): Promise<Tailer> {
  const t = await openTailer({ checkpointPath: null, startAt: 'start', pollIntervalMs: 50, ...opts }, log);
  open.push(t);
  return t;
}

/** argv: source, target. Appends the source's lines to the target one at a time, ~100 µs apart (busy wait). */
const WRITE_ONE_BY_ONE = `
const fs = require('node:fs');
const [source, target] = process.argv.slice(1);
const fd = fs.openSync(target, 'a');
for (const line of fs.readFileSync(source, 'utf8').split('\\n').filter(Boolean)) {
  fs.writeSync(fd, line + '\\n');
  const until = process.hrtime.bigint() + 100000n;
  while (process.hrtime.bigint() < until);
}
`;

function numbers(lines: string[]): number[] {
  return lines.map(numberOf);
}

async function readCheckpoint(p: string): Promise<Checkpoint> {
  return JSON.parse(await fsp.readFile(p, 'utf8')) as Checkpoint;
}

describe('tailer on plain files', () => {
  test('follows appended lines in order, with byte-exact positions (multi-byte UTF-8, partial writes)', async () => {
    const dir = scratchDir('tail-append');
    const file = path.join(dir, 'app.log');
    await fsp.writeFile(file, 'héllo wörld\n');
    const t = await tailer({ path: file });
    let got = await collectUntil(t, (l) => l.length >= 1);
    assert.deepEqual(got.lines, ['héllo wörld']);
    assert.equal(got.batches[0]!.position.offset, Buffer.byteLength('héllo wörld\n'));
    assert.equal(got.batches[0]!.position.ino, statSync(file).ino);
    // A line written in two parts is handed out once, whole, only when its newline is there.
    await fsp.appendFile(file, 'first half, ');
    await fsp.appendFile(file, 'second half ✓\nnext\n');
    got = await collectUntil(t, (l) => l.length >= 3, { into: got });
    assert.deepEqual(got.lines, ['héllo wörld', 'first half, second half ✓', 'next']);
    assert.equal(got.batches.at(-1)!.position.offset, statSync(file).size);
  });

  test('a live file a fast writer appends to is read in settled batches, every line once and in order', async () => {
    // A reader that re-reads as soon as it has handed a batch out finds, behind a writer faster than its own
    // round trip, a few new lines every time: a read and a pipeline batch per few records. After a read that
    // reached the end it waits the settle time (SETTLE_MS) instead. The writer, another process, appends 10k
    // lines one by one, one every ~100 µs: hundreds of batches without the wait, at most about one per settle
    // time with it (a slower machine bunches more lines per read, never fewer).
    const dir = scratchDir('tail-settle');
    const file = path.join(dir, 'app.log');
    const source = path.join(dir, 'source.txt');
    const N = 10_000;
    await fsp.writeFile(source, linesText(0, N - 1));
    await fsp.writeFile(file, '');
    const t = await tailer({ path: file, pollIntervalMs: 250 });
    const writer = spawn(process.execPath, ['-e', WRITE_ONE_BY_ONE, source, file], { stdio: 'inherit' });
    const started = Date.now();
    try {
      const got = await collectUntil(t, (l) => l.length >= N);
      const took = Date.now() - started;
      assert.deepEqual(numbers(got.lines), range(0, N - 1));
      // a read of more than 1024 lines (a reader slowed by a loaded machine) is handed out in several batches
      const bound = Math.ceil(took / Math.min(SETTLE_MS, 250)) + Math.ceil(N / 1024) + 5;
      assert.ok(got.batches.length <= bound, `${got.batches.length} batches in ${took} ms: more than ${bound}`);
    } finally {
      writer.kill();
    }
  });

  test('startAt end skips what is there; a line being written at open is read whole', async () => {
    const dir = scratchDir('tail-end');
    const file = path.join(dir, 'app.log');
    await appendLines(file, 1, 10);
    await fsp.appendFile(file, 'line 0000011 ');
    const t = await tailer({ path: file, startAt: 'end' });
    await fsp.appendFile(file, 'x'.repeat(LINE_BYTES - 1 - 'line 0000011 '.length) + '\n');
    await appendLines(file, 12, 20);
    const got = await collectUntil(t, (l) => l.length >= 10);
    assert.deepEqual(numbers(got.lines), range(11, 20));
  });

  test('rename rotation mid-stream: the old file is finished, then the new one, every line once and in order', async () => {
    const dir = scratchDir('tail-rename');
    const file = path.join(dir, 'audit.log');
    await appendLines(file, 1, 300);
    const before = await counterValue(tailMetrics.rotations, { kind: 'rename' });
    const t = await tailer({ path: file, maxBatchLines: 50 });
    let got = await collectUntil(t, (l) => l.length >= 100);
    // The writer still appends to the old file, then rotates; the new file fills while we are behind.
    await appendLines(file, 301, 400);
    await rotate(file);
    await appendLines(file, 401, 600);
    got = await collectUntil(t, (l) => l.length >= 600, { into: got });
    assert.deepEqual(numbers(got.lines), range(1, 600));
    assert.equal(t.stats!().rotations, 1);
    assert.equal((await counterValue(tailMetrics.rotations, { kind: 'rename' })) - before, 1);
    // Positions name the file the lines came from.
    const last = got.batches.at(-1)!.position;
    assert.equal(last.ino, statSync(file).ino);
    assert.equal(last.offset, 200 * LINE_BYTES);
    // A second rotation while idle at EOF, with the new file created empty first and filled later.
    await rotate(file);
    await new Promise((r) => setTimeout(r, 120));
    await appendLines(file, 601, 650);
    got = await collectUntil(t, (l) => l.length >= 650, { into: got });
    assert.deepEqual(numbers(got.lines), range(1, 650));
    assert.equal(t.stats!().rotations, 2);
  });

  test('several rotations while stopped: restart resumes exactly after the checkpoint, through every rotated file', async () => {
    const dir = scratchDir('tail-multirot');
    const file = path.join(dir, 'audit.log');
    const cpPath = path.join(dir, 'checkpoint.json');
    await appendLines(file, 1, 100);
    let t = await tailer({ path: file, checkpointPath: cpPath });
    await collectUntil(t, (l) => l.length >= 100);
    await t.close();
    const cp = await readCheckpoint(cpPath);
    assert.equal(cp.position.offset, 100 * LINE_BYTES);
    assert.equal(cp.position.ino, statSync(file).ino);
    assert.equal(cp.source, file);
    // While stopped: more lines, then three rotations with lines in each new file.
    await appendLines(file, 101, 150);
    let n = 151;
    for (let r = 0; r < 3; r++) {
      await rotate(file);
      await appendLines(file, n, n + 49);
      n += 50;
    }
    assert.ok(existsSync(`${file}.3`));
    t = await tailer({ path: file, checkpointPath: cpPath });
    const got = await collectUntil(t, (l) => l.length >= n - 101);
    assert.deepEqual(numbers(got.lines), range(101, n - 1));
    await t.close();
    // Everything acked: the checkpoint now points at the end of the live file, not into a rotated one.
    const cp2 = await readCheckpoint(cpPath);
    assert.equal(cp2.position.ino, statSync(file).ino);
    assert.equal(cp2.position.offset, statSync(file).size);
  });

  test('restart from a checkpoint inside a file that has since been rotated twice', async () => {
    const dir = scratchDir('tail-cp-rotated');
    const file = path.join(dir, 'audit.log');
    const cpPath = path.join(dir, 'cp.json');
    await appendLines(file, 1, 100);
    const ino = statSync(file).ino;
    let t = await tailer({ path: file, checkpointPath: cpPath, maxBatchLines: 10, checkpointIntervalMs: 0 });
    // Pull 100 lines but ack only the first 50 (the rest is "in flight" when we stop).
    const it = t[Symbol.asyncIterator]();
    let seen = 0;
    while (seen < 100) {
      const r = await it.next();
      assert.equal(r.done, false);
      seen += r.value!.lines.length;
      if (seen === 50) t.ack(r.value!.position, '1700000000.123:50');
    }
    await t.close();
    let cp = await readCheckpoint(cpPath);
    assert.deepEqual([cp.position.ino, cp.position.offset, cp.lastStamp], [ino, 50 * LINE_BYTES, '1700000000.123:50']);
    await rotate(file);
    await appendLines(file, 101, 130);
    await rotate(file);
    await appendLines(file, 131, 140);
    assert.equal(statSync(`${file}.2`).ino, ino);
    t = await tailer({ path: file, checkpointPath: cpPath, startAt: 'end' });
    const got = await collectUntil(t, (l) => l.length >= 90);
    assert.deepEqual(numbers(got.lines), range(51, 140));
    await t.close();
    cp = await readCheckpoint(cpPath);
    assert.equal(cp.lastStamp, '1700000000.123:50'); // kept when later acks carry none
  });

  test('the checkpointed file rotated away while stopped: counted, logged, resumed with the files written since', async () => {
    const dir = scratchDir('tail-gone');
    const file = path.join(dir, 'audit.log');
    const cpPath = path.join(dir, 'cp.json');
    await appendLines(file, 1, 100);
    let t = await tailer({ path: file, checkpointPath: cpPath });
    await collectUntil(t, (l) => l.length >= 100);
    await t.close();
    await rotate(file);
    await appendLines(file, 101, 150);
    await rotate(file);
    await appendLines(file, 151, 200);
    await fsp.unlink(`${file}.2`); // the checkpointed file, out of num_logs
    const before = await counterValue(tailMetrics.checkpointLoadFailures, { reason: 'file-gone' });
    const cap = captureLog();
    t = await tailer({ path: file, checkpointPath: cpPath, startAt: 'end' }, cap.log);
    const got = await collectUntil(t, (l) => l.length >= 100);
    assert.deepEqual(numbers(got.lines), range(101, 200));
    assert.equal((await counterValue(tailMetrics.checkpointLoadFailures, { reason: 'file-gone' })) - before, 1);
    assert.ok(cap.messages(50).some((m) => m.includes('checkpointed file is gone')));
  });

  test('copytruncate while following: the unread rest comes from the copy, then the live file from 0', async () => {
    const dir = scratchDir('tail-copytrunc');
    const file = path.join(dir, 'app.log');
    await appendLines(file, 1, 100);
    const before = await counterValue(tailMetrics.rotations, { kind: 'copytruncate' });
    const t = await tailer({ path: file });
    let got = await collectUntil(t, (l) => l.length >= 100);
    // Lines land after our last read; logrotate copies and truncates before we look again.
    await appendLines(file, 101, 150);
    await fsp.copyFile(file, `${file}.1`);
    await fsp.truncate(file, 0);
    await appendLines(file, 151, 200);
    got = await collectUntil(t, (l) => l.length >= 200, { into: got });
    assert.deepEqual(numbers(got.lines), range(1, 200));
    assert.equal((await counterValue(tailMetrics.rotations, { kind: 'copytruncate' })) - before, 1);
  });

  test('copytruncate whose new content outgrows our offset before we look is still noticed (first bytes changed)', async () => {
    const dir = scratchDir('tail-copytrunc-grow');
    const file = path.join(dir, 'app.log');
    await appendLines(file, 1, 10);
    const t = await tailer({ path: file, pollIntervalMs: 5000 });
    let got = await collectUntil(t, (l) => l.length >= 10);
    await fsp.copyFile(file, `${file}.1`);
    await fsp.truncate(file, 0);
    await appendLines(file, 11, 60); // 50 lines: larger than the 10 we had read
    got = await collectUntil(t, (l) => l.length >= 60, { into: got });
    assert.deepEqual(numbers(got.lines), range(1, 60));
  });

  test('truncation in place: reading restarts at 0 of the same file and is counted', async () => {
    const dir = scratchDir('tail-trunc');
    const file = path.join(dir, 'app.log');
    await appendLines(file, 1, 100);
    const before = await counterValue(tailMetrics.truncations);
    const t = await tailer({ path: file });
    let got = await collectUntil(t, (l) => l.length >= 100);
    await fsp.truncate(file, 0);
    await appendLines(file, 101, 110);
    got = await collectUntil(t, (l) => l.length >= 110, { into: got });
    assert.deepEqual(numbers(got.lines), range(1, 110));
    assert.equal(t.stats!().truncations, 1);
    assert.equal((await counterValue(tailMetrics.truncations)) - before, 1);
  });

  test('copytruncate while stopped: restart resumes in the copy at the checkpoint, then the truncated file', async () => {
    const dir = scratchDir('tail-copytrunc-stopped');
    const file = path.join(dir, 'app.log');
    const cpPath = path.join(dir, 'cp.json');
    await appendLines(file, 1, 100);
    let t = await tailer({ path: file, checkpointPath: cpPath });
    await collectUntil(t, (l) => l.length >= 100);
    await t.close();
    await appendLines(file, 101, 120);
    await fsp.copyFile(file, `${file}.1`);
    await fsp.truncate(file, 0);
    await appendLines(file, 121, 130);
    t = await tailer({ path: file, checkpointPath: cpPath });
    const got = await collectUntil(t, (l) => l.length >= 30);
    assert.deepEqual(numbers(got.lines), range(101, 130));
  });

  test('plain truncation while stopped: the shorter file is read from 0 and counted', async () => {
    const dir = scratchDir('tail-trunc-stopped');
    const file = path.join(dir, 'app.log');
    const cpPath = path.join(dir, 'cp.json');
    await appendLines(file, 1, 100);
    let t = await tailer({ path: file, checkpointPath: cpPath });
    await collectUntil(t, (l) => l.length >= 100);
    await t.close();
    await fsp.truncate(file, 0);
    await appendLines(file, 101, 120);
    const before = await counterValue(tailMetrics.truncations);
    t = await tailer({ path: file, checkpointPath: cpPath });
    const got = await collectUntil(t, (l) => l.length >= 20);
    assert.deepEqual(numbers(got.lines), range(101, 120));
    assert.equal((await counterValue(tailMetrics.truncations)) - before, 1);
  });

  test('a deleted file is finished; the recreated one is followed from its start', async () => {
    const dir = scratchDir('tail-delete');
    const file = path.join(dir, 'app.log');
    await appendLines(file, 1, 10);
    const before = await counterValue(tailMetrics.rotations, { kind: 'delete' });
    const cap = captureLog();
    const t = await tailer({ path: file }, cap.log);
    let got = await collectUntil(t, (l) => l.length >= 10);
    await fsp.unlink(file);
    // While the path is missing the tailer waits (and says so once).
    const pending = collectUntil(t, (l) => l.length >= 20, { into: got });
    await waitFor(() => cap.messages(40).some((m) => m.includes('is gone')), 'the "gone" warning');
    await appendLines(file, 11, 20);
    got = await pending;
    assert.deepEqual(numbers(got.lines), range(1, 20));
    assert.equal((await counterValue(tailMetrics.rotations, { kind: 'delete' })) - before, 1);
  });

  test('a corrupt checkpoint is logged and counted, and the start follows startAt', async () => {
    const dir = scratchDir('tail-corrupt');
    const file = path.join(dir, 'app.log');
    const cpPath = path.join(dir, 'cp.json');
    await appendLines(file, 1, 20);
    const cases: Array<[string, string]> = [
      ['{"version":1,"source":', 'not JSON'],
      [JSON.stringify({ version: 1, source: file, position: { path: file, dev: 1, ino: -3, offset: 0 }, lastStamp: null, savedAt: new Date().toISOString() }), 'position.ino'],
      [JSON.stringify({ version: 2 }), 'unknown version'],
      ['\u0000\u0001garbage', 'not JSON'],
    ];
    for (const [text, why] of cases) {
      await fsp.writeFile(cpPath, text);
      const before = await counterValue(tailMetrics.checkpointLoadFailures, { reason: 'corrupt' });
      const cap = captureLog();
      const t = await tailer({ path: file, checkpointPath: cpPath, startAt: 'start' }, cap.log);
      const got = await collectUntil(t, (l) => l.length >= 20);
      assert.deepEqual(numbers(got.lines), range(1, 20), `start for checkpoint ${text}`);
      assert.equal((await counterValue(tailMetrics.checkpointLoadFailures, { reason: 'corrupt' })) - before, 1);
      assert.ok(cap.messages(40).some((m) => m.includes(why)), `a warning mentioning "${why}": ${cap.messages(40).join(' | ')}`);
      await t.close();
      // It was replaced by a good one.
      assert.equal((await readCheckpoint(cpPath)).position.offset, 20 * LINE_BYTES);
    }
    // startAt end with a corrupt checkpoint: only what comes next.
    await fsp.writeFile(cpPath, 'nope');
    const t = await tailer({ path: file, checkpointPath: cpPath, startAt: 'end' });
    await appendLines(file, 21, 25);
    const got = await collectUntil(t, (l) => l.length >= 5);
    assert.deepEqual(numbers(got.lines), range(21, 25));
    // A checkpoint of another source is not used either.
    await t.close();
    const other = path.join(dir, 'other.log');
    await appendLines(other, 1, 3);
    const before = await counterValue(tailMetrics.checkpointLoadFailures, { reason: 'other-source' });
    const t2 = await tailer({ path: other, checkpointPath: cpPath, startAt: 'start' });
    assert.deepEqual(numbers((await collectUntil(t2, (l) => l.length >= 3)).lines), [1, 2, 3]);
    assert.equal((await counterValue(tailMetrics.checkpointLoadFailures, { reason: 'other-source' })) - before, 1);
  });

  test('over-long lines are dropped and counted, the lines around them arrive', async () => {
    const dir = scratchDir('tail-overlong');
    const file = path.join(dir, 'app.log');
    const before = await counterValue(tailMetrics.overlongLines);
    await appendLines(file, 1, 1);
    await fsp.appendFile(file, 'A'.repeat(200_000) + '\n');
    await appendLines(file, 2, 2);
    const cap = captureLog();
    const t = await tailer({ path: file }, cap.log);
    let got = await collectUntil(t, (l) => l.length >= 2);
    // One more, written in pieces across reads, larger than a read chunk.
    for (let i = 0; i < 5; i++) await fsp.appendFile(file, 'B'.repeat(100_000));
    await fsp.appendFile(file, '\n');
    await appendLines(file, 3, 3);
    got = await collectUntil(t, (l) => l.length >= 3, { into: got });
    assert.deepEqual(numbers(got.lines), [1, 2, 3]);
    assert.equal(t.stats!().overlongLines, 2);
    assert.equal((await counterValue(tailMetrics.overlongLines)) - before, 2);
    assert.ok(cap.messages(40).filter((m) => m === 'over-long line dropped').length === 2);
    assert.equal(got.batches.at(-1)!.position.offset, statSync(file).size);
  });

  test('reuseBuffers: every chunk is read into one buffer, and each batch, read before the next is asked for, holds its lines', async () => {
    // Lines of 40 to 1,000 bytes, so that chunks end mid-line; ~1.3 MB before and ~0.5 MB after a rotation.
    const lineOf = (i: number) => `line ${i} ${String.fromCharCode(97 + (i % 26)).repeat(30 + ((i * 7919) % 960))}`;
    const write = (file: string, from: number, to: number) => {
      const out: string[] = [];
      for (let i = from; i <= to; i++) out.push(lineOf(i) + '\n');
      return fsp.appendFile(file, out.join(''));
    };
    const want = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => lineOf(from + k));
    const chunkBuffers = (batches: TailBatch[]) => {
      const seen = new Set<ArrayBufferLike>();
      // a carried line is its own small buffer; chunks are the CHUNK-sized ones
      for (const b of batches) for (const buf of b.bytes!.runBufs) if (buf.buffer.byteLength === CHUNK) seen.add(buf.buffer);
      return seen.size;
    };
    for (const reuse of [true, false]) {
      const dir = scratchDir('tail-reuse');
      const file = path.join(dir, 'audit.log');
      await write(file, 1, 2500);
      const t = await tailer({ path: file, maxBatchLines: 300, reuseBuffers: reuse });
      let got = await collectUntil(t, (l) => l.length >= 2500);
      await rotate(file);
      await write(file, 2501, 3500);
      got = await collectUntil(t, (l) => l.length >= 3500, { into: got });
      // the lines as each batch held them when it was read
      assert.deepEqual(got.lines, want(1, 3500), `reuseBuffers ${reuse}`);
      if (reuse) assert.equal(chunkBuffers(got.batches), 1, 'one read buffer for every chunk');
      else {
        assert.ok(chunkBuffers(got.batches) > 1, 'a buffer per full chunk');
        // the default's promise: a batch kept past later reads still holds its lines
        const again = got.batches.flatMap((b) => Array.from({ length: b.bytes!.length }, (_, i) => b.bytes!.bufAt(i).toString('utf8', b.bytes!.starts[i], b.bytes!.ends[i])));
        assert.deepEqual(again, want(1, 3500));
      }
    }
  });

  test('follow: false reads what is there, a last line without newline included, and ends', async () => {
    const dir = scratchDir('tail-oneshot');
    const file = path.join(dir, 'app.log');
    await appendLines(file, 1, 5);
    await fsp.appendFile(file, 'no newline at the end');
    const t = await tailer({ path: file, follow: false });
    const lines: string[] = [];
    for await (const b of t) lines.push(...b.lines);
    assert.equal(lines.length, 6);
    assert.deepEqual(numbers(lines.slice(0, 5)), range(1, 5));
    assert.equal(lines[5], 'no newline at the end');
  });

  test('the checkpoint holds only acked positions, is written at a bounded interval and on close, atomically', async () => {
    const dir = scratchDir('tail-cp-interval');
    const file = path.join(dir, 'app.log');
    const cpPath = path.join(dir, 'cp.json');
    await appendLines(file, 1, 2000);
    const t = await tailer({ path: file, checkpointPath: cpPath, checkpointIntervalMs: 200, maxBatchLines: 1 });
    const it = t[Symbol.asyncIterator]();
    const t0 = Date.now();
    let last = null;
    let n = 0;
    // Ack one line at a time for a while: thousands of acks, few writes.
    while (Date.now() - t0 < 700) {
      const r = await it.next();
      if (r.done) break;
      n++;
      if (n <= 1500) {
        t.ack(r.value.position);
        last = r.value.position;
      }
      if (n >= 1500) await new Promise((res) => setTimeout(res, 5));
    }
    const elapsed = Date.now() - t0;
    const writesBeforeClose = t.stats!().checkpointWrites;
    // one at open, then at most one per interval
    assert.ok(writesBeforeClose <= 2 + Math.ceil(elapsed / 200), `${writesBeforeClose} writes in ${elapsed} ms`);
    assert.ok(writesBeforeClose >= 2, `at least the open write and one interval write, got ${writesBeforeClose}`);
    // Lines were handed out past the last ack; the checkpoint must not include them.
    assert.ok(n > 1500, `pulled ${n}`);
    await t.close();
    const cp = await readCheckpoint(cpPath);
    assert.deepEqual(cp.position, last);
    assert.equal(cp.position.offset, 1500 * LINE_BYTES);
    assert.deepEqual((await fsp.readdir(dir)).sort(), ['app.log', 'cp.json']); // no temp files left behind
  });

  test('checkpoint lag: bytes of the file beyond the acked position, as stats and as a metric', async () => {
    const dir = scratchDir('tail-lag');
    const file = path.join(dir, 'app.log');
    await appendLines(file, 1, 100);
    const t = await tailer({ path: file, checkpointPath: path.join(dir, 'cp.json') });
    const got = await collectUntil(t, (l) => l.length >= 100, { ack: false });
    assert.equal(t.stats!().lagBytes, 100 * LINE_BYTES);
    const gauge = async () => (await tailMetrics.checkpointLag.get()).values[0]!.value;
    assert.ok((await gauge()) >= 100 * LINE_BYTES);
    t.ack(got.batches[0]!.position);
    assert.equal(t.stats!().lagBytes, 100 * LINE_BYTES - got.batches[0]!.position.offset);
    t.ack(got.batches.at(-1)!.position);
    assert.equal(t.stats!().lagBytes, 0);
    // Every tail metric is on the process registry.
    const text = await registry.metrics();
    for (const name of [
      'auditflow_tail_bytes_read_total',
      'auditflow_tail_lines_read_total',
      'auditflow_tail_rotations_total',
      'auditflow_tail_truncations_total',
      'auditflow_tail_overlong_lines_total',
      'auditflow_tail_checkpoint_writes_total',
      'auditflow_tail_checkpoint_write_failures_total',
      'auditflow_tail_checkpoint_load_failures_total',
      'auditflow_tail_checkpoint_lag_bytes',
    ]) {
      assert.ok(text.includes(`# TYPE ${name} `), `${name} registered`);
    }
  });

  test('a checkpoint that cannot be written is counted and logged; reading goes on', async () => {
    const dir = scratchDir('tail-cp-fail');
    const file = path.join(dir, 'app.log');
    await appendLines(file, 1, 10);
    const before = await counterValue(tailMetrics.checkpointWriteFailures);
    const cap = captureLog();
    // A checkpoint path under a regular file: no directory can be made there (a missing directory would be).
    const t = await tailer({ path: file, checkpointPath: path.join(file, 'cp.json'), checkpointIntervalMs: 0 }, cap.log);
    const got = await collectUntil(t, (l) => l.length >= 10);
    assert.deepEqual(numbers(got.lines), range(1, 10));
    await t.close();
    assert.ok(t.stats!().checkpointFailures >= 1);
    assert.ok((await counterValue(tailMetrics.checkpointWriteFailures)) - before >= 1);
    assert.ok(cap.messages(50).some((m) => m.includes('checkpoint write failed')));
  });

  test('a missing file is an error that says so', async () => {
    const dir = scratchDir('tail-missing');
    await assert.rejects(openTailer({ path: path.join(dir, 'nope.log'), checkpointPath: null }, captureLog().log), /does not exist/);
  });
});
