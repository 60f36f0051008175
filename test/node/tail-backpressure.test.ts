// Backpressure: a consumer that does not pull leaves the data where it is (the file, the pipe). What the
// tailer has read stays bounded while the source grows, and everything arrives once pulling resumes.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp, statSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { openTailer } from '../../src/tail';
import { tailMetrics } from '../../src/tail/metrics';
import { StreamTailer } from '../../src/tail/stream';
import { captureLog, collectUntil, LINE_BYTES, linesText, numberOf, scratchDir } from '../env/tail-helpers';

/** The tailer reads at most one chunk (256 KiB) ahead of the consumer; allow twice that. */
const BOUND = 512 * 1024;

test('a consumer that does not pull: bytes read stay bounded while the file grows by 32 MiB; then all lines arrive', async () => {
  const dir = scratchDir('tail-bp');
  const file = path.join(dir, 'audit.log');
  const perMiB = (1024 * 1024) / LINE_BYTES;
  await fsp.writeFile(file, linesText(1, perMiB));
  const t = await openTailer({ path: file, checkpointPath: path.join(dir, 'cp.json'), startAt: 'start', maxBatchLines: 100, pollIntervalMs: 20 }, captureLog().log);
  try {
    const it = t[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    assert.equal(first.value!.lines.length, 100);
    const heap0 = process.memoryUsage().heapUsed;
    // The file grows by 32 MiB while nobody pulls.
    for (let m = 1; m < 33; m++) await fsp.appendFile(file, linesText(m * perMiB + 1, (m + 1) * perMiB));
    const size = statSync(file).size;
    assert.equal(size, 33 * 1024 * 1024);
    // Give a (wrongly) pushing tailer every chance to read: several poll intervals and directory events.
    await new Promise((r) => setTimeout(r, 300));
    const s = t.stats!();
    assert.ok(s.bytesRead <= BOUND, `read ${s.bytesRead} bytes while not pulled (bound ${BOUND})`);
    assert.equal(s.linesRead, 100);
    // The lag gauge sees the file grow although nothing is read.
    const lag = (await tailMetrics.checkpointLag.get()).values[0]!.value;
    assert.ok(lag >= size - BOUND, `lag ${lag} reflects the unread file of ${size} bytes`);
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    assert.ok(heapGrowth < 24 * 1024 * 1024, `heap grew by ${heapGrowth} bytes`);
    // Pulling again: every line, in order.
    let expect = 101;
    const total = 33 * perMiB;
    await collectUntil(
      t,
      (lines) => {
        for (const l of lines.splice(0)) {
          const n = numberOf(l);
          if (n !== expect) throw new Error(`line ${n} where ${expect} was expected`);
          expect++;
        }
        return expect > total;
      },
      { timeoutMs: 60_000, what: 'all 33 MiB of lines' },
    );
    assert.equal(t.stats!().bytesRead, size);
  } finally {
    await t.close();
  }
});

test('a stream source (stdin) that is not pulled leaves the data in the pipe: the writer blocks', async () => {
  // `yes` writes as fast as the pipe takes it, forever.
  const child = spawn('yes', ['auditflow backpressure'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const t = new StreamTailer(child.stdout!, { name: '-', maxBatchLines: 10 }, captureLog().log);
  try {
    const it = t[Symbol.asyncIterator]();
    const first = await it.next();
    assert.deepEqual(first.value!.lines, new Array(10).fill('auditflow backpressure'));
    await new Promise((r) => setTimeout(r, 300));
    const read1 = t.stats!().bytesRead;
    await new Promise((r) => setTimeout(r, 300));
    const read2 = t.stats!().bytesRead;
    assert.ok(read2 <= BOUND, `read ${read2} bytes from the pipe while not pulled`);
    assert.equal(read2, read1, 'nothing more is read while nobody pulls');
    // And it keeps flowing when pulled: within a bounded number of pulls, new chunks are read.
    let pulls = 0;
    while (t.stats!().bytesRead === read2) {
      const r = await it.next();
      assert.equal(r.done, false);
      if (++pulls > 1_000_000) assert.fail('no new data after a million pulls');
    }
    assert.ok(t.stats!().bytesRead > read2);
  } finally {
    await t.close();
    child.kill('SIGKILL');
  }
});
