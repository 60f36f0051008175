// Durability of `auditflow run` under the two things that move the ground under a log follower: being killed,
// and the log being rotated. Both in one file so they run one after the other: the rotation test changes
// auditd's rotation for a moment, and a rotation storm under the other's load could rotate its marked file away.
//
// kill -9: killed with SIGKILL five times while auditd writes a steady load of records, restarted from its
// checkpoint each time; after a final clean stop every record auditd wrote during the run appears at least once.
//
// Rotation under load: auditd rotates audit.log → audit.log.1 twice (SIGUSR1) while a steady load of records
// is written; `auditflow run` follows every rotation and skips nothing.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureContainerd } from '../env/cri';
import { auditMark, auditStatus, ensureAuditd, readAuditSince, runUnderSeccomp } from '../env/rig';
import { eventStamp, httpGet, lineStamp, metricValue, pollUntil, readEvents, sleep, startRun, startSeccompLoad, stopRun, waitReady, type RunProc } from '../env/run-node';

describe('auditflow run: kill -9 and restart', () => {
  let tmp: string;
  let socket: string;
  const procs: RunProc[] = [];
  before(async () => {
    await ensureAuditd();
    socket = ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-run-restart-'));
  });
  after(async () => {
    for (const p of procs) await stopRun(p).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('kill -9 mid-stream five times, then restart: every record of the run appears at least once', async (t) => {
    const out = path.join(tmp, 'events.ndjson');
    const args = ['--audit-log', '/var/log/audit/audit.log', '--checkpoint', path.join(tmp, 'checkpoint.json'), '--cri-socket', socket, '--events', 'all', '--output', out];
    let run = startRun(args);
    procs.push(run);
    await waitReady(run);
    const mark = await auditMark();
    const load = startSeccompLoad((argv) => runUnderSeccomp(argv));
    let loadStopped = false;
    try {
      for (let i = 0; i < 5; i++) {
        const before = readEvents(out).events.length;
        await pollUntil(() => readEvents(out).events.length > before + 200, 60_000, `run ${i + 1} to write events`);
        await sleep(100 + Math.floor(Math.random() * 400));
        run.child.kill('SIGKILL');
        const ex = await run.exited;
        assert.equal(ex.signal, 'SIGKILL');
        run = startRun(args);
        procs.push(run);
        await waitReady(run);
      }
      const runs = await load.stop();
      loadStopped = true;
      const lines = await readAuditSince(mark);
      const want = new Set(lines.map(lineStamp).filter((s): s is string => s !== undefined));
      assert.ok(want.size > 2000, `expected a real load, got ${want.size} audit events from ${runs} load runs`);
      let missing: string[] = [];
      await pollUntil(() => {
        const got = new Set(readEvents(out).events.map(eventStamp));
        missing = [...want].filter((s) => !got.has(s));
        return missing.length === 0;
      }, 90_000, `every audit event since the mark in the output (still missing ${missing.length}, e.g. ${missing.slice(0, 3).join(' ')})`).catch((e: Error) => {
        throw new Error(`${e.message}; missing ${missing.length} of ${want.size}: ${missing.slice(0, 5).join(' ')}`);
      });
      const ex = await stopRun(run);
      assert.equal(ex.code, 0, `clean stop exit code; stderr:\n${run.stderr().slice(-2000)}`);
      const { events, bad } = readEvents(out);
      const counts = new Map<string, number>();
      for (const e of events) counts.set(eventStamp(e), (counts.get(eventStamp(e)) ?? 0) + 1);
      const dups = [...want].filter((s) => (counts.get(s) ?? 0) > 1).length;
      t.diagnostic(`${want.size} audit events from ${runs} load runs; ${dups} delivered more than once; ${bad} half-written lines left by kills`);
    } finally {
      if (!loadStopped) await load.stop().catch(() => undefined);
    }
  });
});

describe('auditflow run: log rotation during load', () => {
  let tmp: string;
  let run: RunProc | undefined;
  before(async () => {
    await ensureAuditd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-run-rotation-'));
  });
  after(async () => {
    if (run) await stopRun(run).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('rotation forced during load (SIGUSR1 twice): nothing skipped', async (t) => {
    const out = path.join(tmp, 'events.ndjson');
    run = startRun(['--audit-log', '/var/log/audit/audit.log', '--checkpoint', path.join(tmp, 'checkpoint.json'), '--cri-socket', 'none', '--events', 'all', '--output', out]);
    const port = await waitReady(run);
    const mark = await auditMark();
    const load = startSeccompLoad((argv) => runUnderSeccomp(argv));
    const rotationsNow = async () => metricValue((await httpGet(port, '/metrics')).body, 'auditflow_tail_rotations_total');
    try {
      // rotations forced with SIGUSR1 (what logrotate or an operator does): exactly two, under load. Not by
      // shrinking max_log_file: under the load of concurrently running suites auditd then rotated several times
      // a second, beyond num_logs, deleting files that this and other tests were still reading
      for (let i = 1; i <= 2; i++) {
        process.kill((await auditStatus()).pid, 'SIGUSR1');
        await pollUntil(async () => (await rotationsNow()) >= i, 30_000, `rotation ${i} to be followed`);
        await sleep(300); // load keeps going into the new file
      }
      t.diagnostic(`${await rotationsNow()} rotations followed`);
    } finally {
      await load.stop();
    }
    const lines = await readAuditSince(mark);
    const want = new Set(lines.map(lineStamp).filter((s): s is string => s !== undefined));
    assert.ok(want.size > 2000, `expected a real load, got ${want.size} audit events`);
    let missing: string[] = [];
    await pollUntil(() => {
      const got = new Set(readEvents(out).events.map(eventStamp));
      missing = [...want].filter((s) => !got.has(s));
      return missing.length === 0;
    }, 90_000, 'every audit event since the mark in the output').catch((e: Error) => {
      throw new Error(`${e.message}; missing ${missing.length} of ${want.size}: ${missing.slice(0, 5).join(' ')}`);
    });
    const metrics = (await httpGet(port, '/metrics')).body;
    assert.ok(metricValue(metrics, 'auditflow_tail_rotations_total') >= 2);
    assert.equal(metricValue(metrics, 'auditflow_records_failed_total'), 0, 'no parse errors');
    const ex = await stopRun(run);
    assert.equal(ex.code, 0, run.stderr().slice(-2000));
    t.diagnostic(`${want.size} audit events across the rotations, all delivered`);
  });
});
