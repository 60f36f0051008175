// The default `auditflow run` (denials only) reads SECCOMP records that only log without building an event
// for each (src/run/pipeline.ts, the quiet path). It must be invisible: on the same real log (the fixtures'
// records, SECCOMP of a real container process among multi-record events, denials and noise), a pipeline
// whose denials route says `denialsOnly` writes the same events, counts the same metrics (events by kind and
// denial, records by type, SPO's seccomp audit series of the pod) and acks the same position as one that
// takes the general path for every record. With a recorder route (the default run with --record), the
// recorder takes those records as runs (EventSink.writeSeccompRuns) and must end with the same state (tuples,
// counts, first and last sightings) and profiles as when it is given every event. With --events all to v1
// NDJSON, those records are rendered from their bytes (src/run/seccomp-render.ts): the file must be byte for
// byte the general path's, for pod, host and gone processes, with and without raw lines. A route that takes runs
// and some of their records whole (the Kafka sink) gets them as the general path's events. The fast side of
// each comparison reads through a tailer that overwrites a batch once the next is asked for, as the node's
// tailer (reuseBuffers) may: nothing may keep a line's bytes past its batch.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CriClient } from '../../src/enrich/cri';
import { Enricher } from '../../src/enrich/enricher';
import { PodResolver } from '../../src/enrich/pod-resolver';
import { ProcCache } from '../../src/enrich/proc-cache';
import type { EventSink, SeccompRun } from '../../src/event/sink';
import type { EventV1 } from '../../src/event/v1';
import { createLogger } from '../../src/log';
import { registry } from '../../src/metrics';
import { Pipeline, type Route } from '../../src/run/pipeline';
import { NdjsonSink } from '../../src/sink/ndjson';
import { isDenial } from '../../src/event/decision';
import { openTailer } from '../../src/tail';
import { parseRecordingFlags, RUN_RECORD_FLAG } from '../../src/recording/flags';
import { ProfileDirectory } from '../../src/recording/profile-dir';
import { Recorder } from '../../src/recording/recorder';
import { HOSTILE_COMM, writeQuietLog } from '../env/quiet-log';
import { openPoisonedTailer } from '../env/poison-tailer';
import { ensureContainerd, removePod, runPod, type RunningPod } from '../env/cri';

const METRICS = ['auditflow_events_total', 'auditflow_enrich_events_total', 'auditflow_records_parsed_total', 'auditflow_lines_total', 'security_profiles_operator_seccomp_profile_audit_total'];

async function snapshot(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const name of METRICS) {
    const metric = registry.getSingleMetric(name);
    assert.ok(metric, `${name} is registered`);
    for (const v of (await metric.get()).values) m.set(`${name}${JSON.stringify(v.labels)}`, v.value);
  }
  return m;
}

function delta(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) if (v !== (a.get(k) ?? 0)) out[k] = v - (a.get(k) ?? 0);
  return out;
}

describe('pipeline: the quiet SECCOMP path of the default run', () => {
  let pod: RunningPod;
  let cri: CriClient;
  let tmp: string;
  before(async () => {
    const socket = ensureContainerd();
    pod = await runPod({ name: `quiet-${process.pid}`, namespace: 'quiet', labels: { app: 'quiet' }, containers: [{ name: 'app', command: ['sleep', '3600'] }], socketPath: socket });
    cri = new CriClient({ socketPath: socket });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-quiet-'));
  });
  after(async () => {
    cri?.close();
    if (pod) await removePod(pod).catch(() => undefined);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const writeLog = (name: string, mixed = false): string => writeQuietLog(tmp, name, pod.containers[0]!.pid, mixed);

  it('writes the same events, counts the same metrics and acks the same position as the general path', async () => {
    const file = writeLog('audit.log');
    const log = createLogger('test');
    const enricher = new Enricher({ procs: new ProcCache(), resolver: new PodResolver({ client: cri }), log });

    const run = async (denialsOnly: boolean) => {
      const tailer = await (denialsOnly ? openPoisonedTailer : openTailer)({ path: file, checkpointPath: null, startAt: 'start', follow: false }, log);
      const acks: string[] = [];
      const ack = tailer.ack.bind(tailer);
      tailer.ack = (pos, stamp) => {
        acks.push(`${pos.offset}@${stamp}`);
        ack(pos, stamp);
      };
      const written: EventV1[] = [];
      const sink = { name: 'mem', write: async (evs: readonly EventV1[]) => void written.push(...evs), flush: async () => undefined, close: async () => undefined };
      const containers = new Set<string>();
      const p = new Pipeline({ tailer, enricher, node: 'n1', sourceFile: file, log, idleFlushMs: Infinity, routes: [{ sink, accept: isDenial, denialsOnly }], onContainer: (id) => containers.add(id) });
      const m0 = await snapshot();
      await p.run();
      const metrics = delta(m0, await snapshot());
      return { written, metrics, stats: p.stats, lastAck: acks.at(-1), containers: [...containers].sort() };
    };
    const general = await run(false);
    const quiet = await run(true);
    assert.ok(general.written.length > 0, 'the log has denials');
    assert.equal(general.stats.quiet, 0);
    assert.ok(quiet.stats.quiet > 50, `the quiet path read the logged SECCOMP records (${quiet.stats.quiet})`);
    assert.ok(Object.keys(general.metrics).some((k) => k.startsWith('security_profiles_operator_seccomp_profile_audit_total') && k.includes('"pod":"quiet-')), `the pod's SPO series counted: ${JSON.stringify(general.metrics)}`);
    assert.deepEqual(quiet.written, general.written, 'the same events written');
    assert.deepEqual(quiet.metrics, general.metrics, 'the same metrics counted');
    assert.deepEqual(quiet.containers, general.containers, 'the same containers tracked');
    assert.equal(general.lastAck?.split('@')[0], String(fs.statSync(file).size), `acked to the end (the log has EOE records): ${general.lastAck}`);
    assert.equal(quiet.lastAck, general.lastAck, 'acked to the same position and stamp');
    assert.equal(quiet.stats.records, general.stats.records);
    assert.equal(quiet.stats.events, general.stats.events);
    assert.equal(quiet.stats.lines, general.stats.lines);
  });

  it('with a recorder: the recorder takes runs and ends with the same state and profiles as from every event', async () => {
    const file = writeLog('audit-record.log');
    const log = createLogger('test');
    const enricher = new Enricher({ procs: new ProcCache(), resolver: new PodResolver({ client: cri }), log });
    const run = async (dir: string, runs: boolean) => {
      const tailer = await (runs ? openPoisonedTailer : openTailer)({ path: file, checkpointPath: null, startAt: 'start', follow: false }, log);
      const r = new Recorder({ recordings: parseRecordingFlags(['quiet=app=quiet'], RUN_RECORD_FLAG), out: new ProfileDirectory(dir), stateDir: path.join(dir, '.state'), log });
      // without writeSeccompRuns the recorder is given every event (the general path for every record)
      const sink = runs ? r : { name: 'recorder', write: (evs: readonly EventV1[]) => r.write(evs), flush: () => r.flush(), close: () => r.close() };
      const denials: EventV1[] = [];
      const ndjson = { name: 'mem', write: async (evs: readonly EventV1[]) => void denials.push(...evs), flush: async () => undefined, close: async () => undefined };
      const p = new Pipeline({
        tailer,
        enricher,
        node: 'n1',
        sourceFile: file,
        log,
        idleFlushMs: Infinity,
        routes: [
          { sink: ndjson, accept: isDenial, denialsOnly: true },
          { sink, accept: (ev) => r.selects(ev.container, ev.pod) },
        ],
      });
      await p.run();
      const files = (d: string) => Object.fromEntries(fs.readdirSync(d).filter((f) => f !== '.state').map((f) => [f, fs.readFileSync(path.join(d, f), 'utf8')]));
      return { stats: p.stats, denials, state: files(path.join(dir, '.state')), profiles: files(dir) };
    };
    const general = await run(path.join(tmp, 'general'), false);
    const quiet = await run(path.join(tmp, 'quiet'), true);
    assert.equal(general.stats.quiet, 0);
    assert.ok(quiet.stats.quiet > 50, `the quiet path read the logged SECCOMP records (${quiet.stats.quiet})`);
    const state = Object.values(general.state);
    assert.equal(state.length, 1, `one recorder state file: ${Object.keys(general.state).join(', ')}`);
    const counts = Object.values((JSON.parse(state[0]!) as { sessions: Array<{ seccomp: Record<string, { counts: Record<string, number> }> }> }).sessions[0]!.seccomp).map((t) => t.counts['embedded']!);
    assert.ok(counts.some((n) => n > 1), `syscalls seen many times are counted so (${counts.join(',')})`);
    assert.deepEqual(quiet.state, general.state, 'the same recorder state: tuples, counts, first and last sightings');
    assert.ok(Object.keys(general.profiles).length >= 2, `profiles written at the end: ${Object.keys(general.profiles).join(', ')}`);
    assert.deepEqual(quiet.profiles, general.profiles, 'the same profiles');
    assert.deepEqual(quiet.denials, general.denials, 'the same denials written');
    assert.equal(quiet.stats.events, general.stats.events);
  });

  it('a route taking runs (the Kafka sink) gets their records as the general path makes them, on demand (SeccompRun.events)', async () => {
    const file = writeLog('audit-runs-mixed.log', true);
    const log = createLogger('test');
    // `rendered`: beside it, --events all to a v1 file, whose lines are rendered from bytes (a node with Kafka and --events all)
    const run = async (runs: boolean, rendered = false) => {
      const enricher = new Enricher({ procs: new ProcCache(), resolver: new PodResolver({ client: cri }), log });
      const tailer = await (runs || rendered ? openPoisonedTailer : openTailer)({ path: file, checkpointPath: null, startAt: 'start', follow: false }, log);
      const written: EventV1[] = [];
      let records = 0;
      let runCount = 0;
      const sink: EventSink = { name: 'mem', write: async (evs) => void written.push(...evs), flush: async () => undefined, close: async () => undefined };
      if (runs) {
        sink.writeSeccompRuns = async (rs: readonly SeccompRun[]) => {
          for (const r of rs) {
            runCount++;
            records += r.n;
            const all = r.events(r.n);
            assert.equal(all.length, r.n, 'every record of the run');
            assert.deepEqual(r.events(1), all.slice(0, 1), 'events(k) is the first k');
            assert.equal(all[0]!.timestamp, r.first);
            assert.equal(all.at(-1)!.timestamp, r.last);
            written.push(...all);
          }
        };
      }
      const routes: Route[] = [{ sink, accept: () => true }];
      if (rendered) {
        const ndjson = new NdjsonSink({ output: path.join(tmp, `runs-rendered-${runs}.ndjson`), format: 'v1', log, sync: false });
        await ndjson.open();
        routes.push({ sink: ndjson, accept: () => true, acceptsAll: true });
      }
      const p = new Pipeline({ tailer, enricher, node: 'n1', sourceFile: file, log, idleFlushMs: Infinity, routes });
      await p.run();
      return { stats: p.stats, records, runCount, lines: written.map((e) => JSON.stringify(e)).sort() };
    };
    const general = await run(false);
    const events = general.lines.map((l) => JSON.parse(l) as EventV1);
    for (const e of ['resolved', 'host', 'unresolved']) assert.ok(events.some((x) => x.type === 'SECCOMP' && x.enrichment === e), `a ${e} SECCOMP event among them`);
    assert.equal(general.stats.quiet, 0);
    for (const rendered of [false, true]) {
      const quiet = await run(true, rendered);
      assert.ok(quiet.stats.quiet > 50 && quiet.runCount > 1 && quiet.records > quiet.runCount, `runs of many records (${quiet.records} in ${quiet.runCount})`);
      assert.deepEqual(quiet.lines, general.lines, `the same events, byte for byte as JSON (lines rendered beside: ${rendered})`);
      assert.equal(quiet.stats.events, general.stats.events);
    }
  });

  it('--events all to v1, ECS and OCSF NDJSON: SECCOMP lines rendered from bytes or templates, byte for byte the general path', async () => {
    const file = writeLog('audit-all-mixed.log', true);
    const log = createLogger('test');
    const run = async (out: string, acceptsAll: boolean, raw: boolean, format: 'v1' | 'ecs' | 'ocsf') => {
      const enricher = new Enricher({ procs: new ProcCache(), resolver: new PodResolver({ client: cri }), log });
      const tailer = await (acceptsAll ? openPoisonedTailer : openTailer)({ path: file, checkpointPath: null, startAt: 'start', follow: false }, log);
      const sink = new NdjsonSink({ output: out, format, log, sync: false });
      await sink.open();
      const p = new Pipeline({ tailer, enricher, node: 'n1', sourceFile: file, log, raw, idleFlushMs: Infinity, routes: [{ sink, accept: () => true, acceptsAll }] });
      await p.run();
      return { stats: p.stats, text: fs.readFileSync(out, 'utf8') };
    };
    for (const format of ['v1', 'ecs', 'ocsf'] as const) {
      for (const raw of [false, true]) {
        const general = await run(path.join(tmp, `general-${format}-${raw}.ndjson`), false, raw, format);
        const rendered = await run(path.join(tmp, `rendered-${format}-${raw}.ndjson`), true, raw, format);
        assert.equal(general.stats.quiet, 0);
        assert.ok(rendered.stats.quiet > 50, `SECCOMP lines rendered (${rendered.stats.quiet})`);
        assert.equal(rendered.stats.generalRendered, 0, 'every rendered line from bytes or a template, none built the general way');
        assert.equal(rendered.stats.events, general.stats.events);
        assert.equal(rendered.text, general.text, `the same bytes (${format}, raw: ${raw})`);
        if (format !== 'v1') continue;
        const events = general.text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as EventV1);
        const seccomp = events.filter((e) => e.type === 'SECCOMP');
        for (const e of ['resolved', 'host', 'unresolved']) assert.ok(seccomp.some((x) => x.enrichment === e), `a ${e} SECCOMP event among them`);
        const hostile = Buffer.from(HOSTILE_COMM, 'hex').toString('latin1');
        assert.ok(seccomp.some((x) => x.comm === hostile && x.enrichment === 'unresolved'), 'the hostile comm of a gone process is there, decoded');
        assert.ok(seccomp.some((x) => x.comm === hostile && x.enrichment === 'resolved'), 'and that of the pod process');
        assert.ok(seccomp.some((x) => x.action === 'errno'), 'a denial among them');
        assert.ok(seccomp.some((x) => x.uid === 1000) && seccomp.some((x) => x.uid !== 1000 && x.pid === pod.containers[0]!.pid), 'the pod process with two uids');
      }
    }
  });
});
