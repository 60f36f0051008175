// The Kafka sink on the pipeline's quiet SECCOMP path (EventSink.writeSeccompRuns): a node sending to Kafka
// reads logged SECCOMP records without an event object each. On a real log (test/env/quiet-log.ts: a real
// pod's process among host and gone processes, denials and noise), the real broker must get what the general
// path (every record an event, through write()) sends: the same full events byte for byte with the rate limit
// lifted, the same recording tuples (counts, first and last sightings); and under a rate limit, every record
// either sent or counted in a summary whose span is exactly that of the records held back.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CriClient } from '../../src/enrich/cri';
import { Enricher } from '../../src/enrich/enricher';
import { PodResolver } from '../../src/enrich/pod-resolver';
import { ProcCache } from '../../src/enrich/proc-cache';
import type { EventSink } from '../../src/event/sink';
import type { EventV1 } from '../../src/event/v1';
import type { SuppressedMessage, TuplesMessage } from '../../src/kafka/messages';
import { createLogger } from '../../src/log';
import { Pipeline } from '../../src/run/pipeline';
import { createKafkaSink, type KafkaSink } from '../../src/sink/kafka';
import { openTailer } from '../../src/tail';
import { ensureContainerd, removePod, runPod, type RunningPod } from '../env/cri';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { readTopic, type Read } from '../env/kafka/helpers';
import { writeQuietLog } from '../env/quiet-log';

const log = createLogger('test-kafka-quiet');
log.level = 'warn';

describe('Kafka sink: logged SECCOMP records as runs', () => {
  let broker: KafkaBroker;
  let pod: RunningPod;
  let cri: CriClient;
  let tmp: string;
  let file: string;
  let n = 0;
  before(async () => {
    broker = await ensureKafka();
    const socket = ensureContainerd();
    pod = await runPod({ name: `kquiet-${process.pid}`, namespace: 'kquiet', labels: { app: 'kquiet' }, containers: [{ name: 'app', command: ['sleep', '3600'] }], socketPath: socket });
    cri = new CriClient({ socketPath: socket });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-kquiet-'));
    file = writeQuietLog(tmp, 'audit.log', pod.containers[0]!.pid, true);
  });
  after(async () => {
    cri?.close();
    if (pod) await removePod(pod).catch(() => undefined);
    await broker?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** The log through a pipeline into a Kafka sink, as runs or (`runs` false) as one event per record; what the broker got. */
  const send = async (runs: boolean, eventsPerSecond: number, input = file) => {
    n++;
    const topics = { events: `kq${n}.events`, recordings: `kq${n}.recordings` };
    const sink: KafkaSink = await createKafkaSink({ brokers: broker.brokers, node: 'n1', topics, spoolDir: path.join(tmp, `spool-${n}`), recordings: [], eventsPerSecond, dedupIntervalMs: 600_000, groupCommit: true }, log);
    // without writeSeccompRuns the sink is given every event (the general path for every record)
    // (group commit, as under `auditflow run`: the pipeline acks after the sink's sync)
    const route: EventSink = runs ? sink : { name: 'kafka', write: (evs) => sink.write(evs), sync: sink.sync, syncIntervalMs: sink.syncIntervalMs, flush: () => sink.flush(), close: () => sink.close() };
    const enricher = new Enricher({ procs: new ProcCache(), resolver: new PodResolver({ client: cri }), log });
    const tailer = await openTailer({ path: input, checkpointPath: null, startAt: 'start', follow: false }, log);
    const p = new Pipeline({ tailer, enricher, node: 'n1', sourceFile: input, log, idleFlushMs: Infinity, routes: [{ sink: route, accept: () => true }] });
    await p.run();
    const stats = sink.stats();
    const isEvent = (r: Read) => r.headers['auditflow-schema'] === 'auditflow.event/v1';
    const events = await readTopic(broker.brokers, topics.events, (m) => m.filter(isEvent).length >= stats.eventMessages && (stats.suppressed === 0 || m.some((r) => !isEvent(r))));
    // (no tuples: the topic was never made)
    const recordings = stats.tupleMessages === 0 ? [] : await readTopic(broker.brokers, topics.recordings, (m) => m.length >= stats.tupleMessages);
    return { pipeline: p.stats, stats, events, recordings };
  };

  /** The tuples each container ended with: the highest count and the extremes of the sightings (epochs differ by run). */
  const tuples = (rs: Read[]) => {
    const out = new Map<string, { count: number; firstSeen: string; lastSeen: string; exe: string | null }>();
    for (const r of rs) {
      const m = JSON.parse(r.value!) as TuplesMessage;
      for (const t of m.seccomp) {
        const k = `${m.container.id} ${t.arch} ${t.nr} ${t.action}`;
        const o = out.get(k);
        if (!o || t.count > o.count) out.set(k, { count: t.count, firstSeen: t.firstSeen, lastSeen: t.lastSeen, exe: t.exe });
      }
    }
    return Object.fromEntries([...out].sort());
  };

  it('the rate limit lifted: the same full events, byte for byte, and the same recording tuples as the general path', async () => {
    const general = await send(false, 1e12);
    const quiet = await send(true, 1e12);
    assert.equal(general.pipeline.quiet, 0);
    assert.ok(quiet.pipeline.quiet > 50, `the quiet path read the logged SECCOMP records (${quiet.pipeline.quiet})`);
    const full = (g: typeof general) => g.events.map((r) => `${r.key} ${r.value}`).sort();
    const evs = general.events.map((r) => JSON.parse(r.value!) as EventV1);
    for (const e of ['host', 'unresolved']) assert.ok(evs.some((x) => x.type === 'SECCOMP' && x.action === 'log' && x.enrichment === e), `a logged SECCOMP event of a ${e} process sent whole`);
    assert.deepEqual(full(quiet), full(general), 'the same messages on the events topic');
    const t = tuples(general.recordings);
    assert.ok(Object.keys(t).length >= 2 && Object.values(t).some((x) => x.count > 1 && x.firstSeen < x.lastSeen), `the pod's syscalls folded into tuples: ${JSON.stringify(t)}`);
    assert.deepEqual(tuples(quiet.recordings), t, 'the same tuples: counts, first and last sightings');
    assert.equal(quiet.stats.dedupEvents, general.stats.dedupEvents);
  });

  /** Only a host process's logged SECCOMP records (pid 1) of one syscall, 13 ms apart: the node's key holds nothing else, in runs of a second. */
  const hostOnly = () => {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('type=SECCOMP') && l.includes(` pid=${pod.containers[0]!.pid} `) && l.includes('code=0x7ffc0000'))!;
    const now = Date.now() / 1000;
    const lines = Array.from({ length: 300 }, (_, i) => line.replace(/ pid=\d+ /, ' pid=1 ').replace(/^type=SECCOMP msg=audit\(\d+\.\d+:\d+/, `type=SECCOMP msg=audit(${(now + i * 0.013).toFixed(3)}:${1000 + i}`));
    const out = path.join(tmp, 'host-only.log');
    fs.writeFileSync(out, lines.join('\n') + '\n');
    return out;
  };

  for (const which of ['the mixed log', 'a host process alone'] as const) {
    it(`under the rate limit (${which}): each record sent whole or counted held back, in a summary spanning exactly those held back`, async () => {
      const auditLog = which === 'the mixed log' ? file : hostOnly();
      const quiet = await send(true, 2, auditLog);
      const lifted = await send(false, 1e12, auditLog);
      // the records the limit applies to: what goes out whole when it is lifted, by message key (pod, container or node)
      const byKey = (rs: Read[]) => {
        const m = new Map<string, string[]>();
        for (const r of rs) {
          if (r.headers['auditflow-schema'] !== 'auditflow.event/v1' || (JSON.parse(r.value!) as EventV1).kind === 'other') continue;
          let l = m.get(r.key!);
          if (!l) m.set(r.key!, (l = []));
          l.push(r.value!);
        }
        return m;
      };
      const all = byKey(lifted.events);
      const sent = byKey(quiet.events);
      const summaries = new Map<string, SuppressedMessage>();
      for (const r of quiet.events) {
        if (r.headers['auditflow-schema'] !== 'auditflow.suppressed/v1') continue;
        assert.ok(!summaries.has(r.key!), `one summary a key (one flush interval): ${r.key}`);
        summaries.set(r.key!, JSON.parse(r.value!) as SuppressedMessage);
      }
      let heldTotal = 0;
      for (const [key, values] of all) {
        // the fixtures' records come several times, equal to the byte: what is held back is all of them less those sent
        const left = new Map<string, number>();
        for (const v of sent.get(key) ?? []) left.set(v, (left.get(v) ?? 0) + 1);
        const held = values.filter((v) => {
          const m = left.get(v) ?? 0;
          if (m > 0) left.set(v, m - 1);
          return m === 0;
        }).map((v) => JSON.parse(v) as EventV1);
        assert.equal([...left.values()].reduce((a, b) => a + b, 0), 0, `every event sent under ${key} is one of its records`);
        const s = summaries.get(key);
        if (held.length === 0) {
          assert.equal(s, undefined, `nothing held back under ${key}, no summary`);
          continue;
        }
        heldTotal += held.length;
        assert.ok(s, `a summary for ${key}`);
        assert.equal(s.count, held.length, `every record held back under ${key} is counted`);
        const types: Record<string, number> = {};
        for (const e of held) types[e.type] = (types[e.type] ?? 0) + 1;
        assert.deepEqual(s.byType, types, key);
        const stamps = held.map((e) => e.timestamp).sort();
        assert.equal(s.since, stamps[0], `the span under ${key} opens at the earliest record held back`);
        assert.equal(s.until, stamps.at(-1), 'and closes at the latest');
      }
      assert.equal(summaries.size, [...all.keys()].filter((k) => summaries.has(k)).length, 'no summary for a key without records');
      const node = all.get('n1') ?? [];
      assert.ok((sent.get('n1')?.length ?? 0) >= 4 && node.length - sent.get('n1')!.length > 50, `the node's records: a burst sent (${sent.get('n1')?.length}), the rest held back (of ${node.length})`);
      assert.ok(node.some((v) => (JSON.parse(v) as EventV1).action === 'log'), 'logged SECCOMP records (runs) among the node\'s');
      assert.equal(heldTotal, quiet.stats.suppressed);
    });
  }
});
