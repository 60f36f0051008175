// An idle agent (issue 14). On most nodes of a cluster the audit log stays still for minutes, and an agent that
// wakes for its timers anyway spends CPU on every one of them for nothing: on this VM each wake-up of the main
// thread cost ~0.1 ms, and `auditflow run` woke ~27 times a second doing nothing (a 100 ms pipeline interval, a
// 250 ms poll, two 250 ms event-loop monitors). Here `auditflow run`, as the DaemonSet runs it (a checkpoint
// file, an NDJSON file), follows a log that does not grow: the kernel's count of its main thread's voluntary
// context switches (each one a sleep, so each one a wake-up) must stay under MAX_WAKES_PER_S. And the checkpoint
// lag, which that interval used to keep up to date, is computed when scraped: it grows while nothing is acked.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { httpGet, metricValue, sleep, startRun, waitReady } from '../env/run-node';
import { writeRecords } from '../env/tail-gen';
import { scratchDir, waitFor } from '../env/tail-helpers';

/** After this fix: ~5 a second (the 1 s poll of the watched log, the 1 s event-loop monitors, the 1 s ticker). */
const MAX_WAKES_PER_S = 10;
const MEASURE_MS = 5000;

function wakes(pid: number): number {
  // the main thread's own counts (/proc/PID/task/PID: the thread group leader, the event loop)
  const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'));
  assert.ok(m, `no voluntary_ctxt_switches in /proc/${pid}/task/${pid}/status`);
  return Number(m[1]);
}

test('auditflow run following a log that does not grow: its event loop wakes fewer than 10 times a second, and the checkpoint lag grows at scrape time', async (t) => {
  const dir = scratchDir('run-idle');
  const file = path.join(dir, 'audit.log');
  await writeRecords(file, 0, 0);
  const events = path.join(dir, 'events.ndjson');
  const run = startRun(['--audit-log', file, '--checkpoint', path.join(dir, 'cp.json'), '--output', events, '--cri-socket', 'none', '--no-track-forks']);
  try {
    const port = await waitReady(run);
    const lag = async () => metricValue((await httpGet(port, '/metrics')).body, 'auditflow_checkpoint_lag_seconds');
    // one denial stamped now, so that something is acked and the lag has an age to report
    await writeRecords(file, 0, 1, { startSec: Math.floor(Date.now() / 1000) });
    await waitFor(async () => (await lag()) > 0, 'the denial acked (auditflow_checkpoint_lag_seconds above 0)');

    // past the start-up (lazy compilation, the first checkpoint write), then nothing happens
    await sleep(3000);
    const pid = run.child.pid!;
    const before = wakes(pid);
    const t0 = Date.now();
    await sleep(MEASURE_MS);
    const perS = (wakes(pid) - before) / ((Date.now() - t0) / 1000);
    t.diagnostic(`idle main thread: ${perS.toFixed(1)} wake-ups a second`);
    assert.ok(perS < MAX_WAKES_PER_S, `the idle agent's main thread woke ${perS.toFixed(1)} times a second (at most ${MAX_WAKES_PER_S})`);

    // the same record, still the newest acked: its age has grown by the time waited, with no batch in between
    const a = await lag();
    await sleep(1500);
    const b = await lag();
    assert.ok(b - a >= 1.4, `auditflow_checkpoint_lag_seconds went from ${a} to ${b} in 1.5 s`);
    assert.equal(readFileSync(events, 'utf8').trim().split('\n').length, 1, 'the one denial was written once');
  } finally {
    run.child.kill('SIGTERM');
    await run.exited;
  }
});
