// Bounded memory (issue 11): `auditflow run` in its default mode (denials only, no CRI) follows a file while
// 2 million SECCOMP records from tens of thousands of pids are appended in bursts. Its resident memory, sampled
// when it has caught up after each burst, must stay flat after the warm-up: within MARGIN_MB of the first
// sample. Before the fix every record's line stayed reachable (Promise.race against one long-lived stop promise
// in the pipeline kept each batch): ~400 bytes per record, +120 MB per 300k records.
// Every bounded map reports its size as auditflow_cache_entries{cache=…}; those stay under their bounds too.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Checkpoint } from '../../src/tail/types';
import { httpGet, startRun, waitReady } from '../env/run-node';
import { writeRecords } from '../env/tail-gen';
import { scratchDir, waitFor } from '../env/tail-helpers';

const TOTAL = 2_000_000;
const BURST = 250_000;
const WARMUP_BURSTS = 2;
const MARGIN_MB = 40;
/** distinct pids per burst; each burst uses new ones (40k in all: more than the pid caches hold) */
const PIDS = 5000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

test('auditflow run (default mode) over 2M records from 40k pids: RSS stays flat after the warm-up, caches stay bounded', async () => {
  const dir = scratchDir('run-memory');
  const file = path.join(dir, 'audit.log');
  const cpPath = path.join(dir, 'cp.json');
  await writeRecords(file, 0, 0);
  // a file rather than stdout (a pipe the test would have to drain); not /dev/null: the sink's fdatasync fails there
  const run = startRun(['--audit-log', file, '--checkpoint', cpPath, '--output', path.join(dir, 'events.ndjson'), '--cri-socket', 'none', '--no-track-forks']);
  const samples: number[] = [];
  try {
    const port = await waitReady(run);
    const startSec = Math.floor(Date.now() / 1000) - 7200;
    for (let b = 0; b * BURST < TOTAL; b++) {
      await writeRecords(file, b * BURST, (b + 1) * BURST, { firstSerial: 1000, pids: PIDS, firstPid: 100_000 + b * PIDS, startSec, perSecond: 2000 });
      const size = statSync(file).size;
      await waitFor(
        () => (JSON.parse(readFileSync(cpPath, 'utf8')) as Checkpoint).position.offset === size,
        `run to catch up with burst ${b}`,
        600_000,
      );
      await new Promise((r) => setTimeout(r, 1500)); // idle: timers flush, the heap settles
      samples.push(rssMb(run.child.pid!));
    }
    const metrics = (await httpGet(port, '/metrics')).body;
    const caches: Record<string, number> = {};
    for (const m of metrics.matchAll(/^auditflow_cache_entries\{cache="([^"]+)"\} (\d+)/gm)) caches[m[1]!] = Number(m[2]);
    const warm = samples[WARMUP_BURSTS - 1]!;
    const end = samples.at(-1)!;
    const peak = Math.max(...samples.slice(WARMUP_BURSTS - 1));
    process.stderr.write(
      `# run-memory: ${TOTAL} records, RSS MB per burst ${samples.map((s) => s.toFixed(0)).join(' ')}; warm ${warm.toFixed(0)}, end ${end.toFixed(0)}, peak ${peak.toFixed(0)}; caches ${JSON.stringify(caches)}\n`,
    );
    assert.ok(end - warm <= MARGIN_MB, `RSS grew ${(end - warm).toFixed(0)} MB after the warm-up (${warm.toFixed(0)} -> ${end.toFixed(0)} MB)`);
    assert.ok(peak - warm <= MARGIN_MB, `RSS peaked ${(peak - warm).toFixed(0)} MB above the warm-up`);
    assert.ok(caches.pid !== undefined && caches['pid-gone'] !== undefined, 'cache sizes are exported');
    for (const [name, n] of Object.entries(caches)) assert.ok(n <= 16384, `cache ${name} holds ${n} entries`);
  } finally {
    run.child.kill('SIGTERM');
    await run.exited;
  }
});
