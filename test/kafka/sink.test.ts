// The Kafka sink against a real broker (test/env/kafka.ts): message keys and headers, node-side dedup,
// the denial rate limit, SASL, a broker outage (SIGKILL, 30 s) with the on-disk spool, and group commit.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EventV1 } from '../../src/event/v1';
import { createLogger } from '../../src/log';
import { createKafkaSink } from '../../src/sink/kafka';
import type { SuppressedMessage, TuplesMessage } from '../../src/kafka/messages';
import { ensureKafka, SASL_PASSWORD, SASL_USER, type KafkaBroker } from '../env/kafka';
import { avcEvent, container, pod, poll, readTopic, seccompEvent } from '../env/kafka/helpers';
import { freePort } from '../env/net';

const log = createLogger('test-kafka-sink');
log.level = 'warn';

let broker: KafkaBroker;
let tmp: string;
let n = 0;
const topics = () => {
  n++;
  return { events: `t${n}.events`, recordings: `t${n}.recordings` };
};

before(async () => {
  broker = await ensureKafka();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-sink-'));
});

after(async () => {
  await broker?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Kafka sink', () => {
  test('events are keyed by pod uid, container id or node, with schema and node headers, in order per key', async () => {
    const t = topics();
    const sink = await createKafkaSink({ brokers: broker.brokers, node: 'node-a', topics: t, spoolDir: path.join(tmp, 'spool-keys'), recordings: [] }, log);
    const p = pod('web-7d9f8-abcde');
    const c = container('web');
    const bare = container('bare'); // a container without a pod (e.g. started by hand with ctr)
    const evs: EventV1[] = [];
    for (let i = 1; i <= 30; i++) evs.push(seccompEvent(i, 'openat', 257, c, p, { action: 'errno' }));
    evs.push(seccompEvent(31, 'mkdir', 83, bare, null, { action: 'errno' }));
    evs.push(seccompEvent(32, 'ptrace', 101, null, null, { action: 'kill_process' }));
    await sink.write(evs);
    await sink.close();
    const got = await readTopic(broker.brokers, t.events, (m) => m.length >= 32);
    assert.equal(got.length, 32);
    const byKey = (k: string) => got.filter((m) => m.key === k);
    assert.equal(byKey(p.uid).length, 30, 'pod events keyed by pod uid');
    assert.equal(byKey(bare.id).length, 1, 'pod-less container keyed by container id');
    assert.equal(byKey('node-a').length, 1, 'host event keyed by node name');
    for (const m of got) {
      assert.equal(m.headers['auditflow-schema'], 'auditflow.event/v1');
      assert.equal(m.headers['auditflow-node'], 'node-a');
    }
    const serials = byKey(p.uid).map((m) => (JSON.parse(m.value!) as EventV1).serial);
    assert.deepEqual(serials, [...serials].sort((a, b) => a - b), "one pod's events stay in order on one partition");
    assert.equal(new Set(byKey(p.uid).map((m) => m.partition)).size, 1);
  });

  test('node-side dedup: 20000 seccomp log events of a container become one tuple per distinct syscall with counts', async () => {
    const t = topics();
    const sink = await createKafkaSink({ brokers: broker.brokers, node: 'node-a', topics: t, spoolDir: path.join(tmp, 'spool-dedup'), dedupIntervalMs: 200 }, log);
    const p = pod('busy-6c8b9-xk2lp', { app: 'busy' });
    const c = container('busy');
    const calls: Array<[string, number]> = [['read', 0], ['write', 1], ['futex', 202], ['epoll_wait', 232]];
    const evs: EventV1[] = [];
    for (let i = 0; i < 20_000; i++) {
      const [name, nr] = calls[i % calls.length]!;
      evs.push(seccompEvent(i + 1, name, nr, c, p));
    }
    for (let i = 0; i < evs.length; i += 1000) await sink.write(evs.slice(i, i + 1000));
    await sink.flush();
    const stats = sink.stats();
    await sink.close();
    assert.equal(stats.dedupEvents, 20_000);
    assert.equal(stats.eventMessages, 0, 'recorded seccomp log events are not sent one by one');
    const msgs = await readTopic(broker.brokers, t.recordings, (m) => {
      const last = new Map<string, number>();
      for (const r of m) for (const s of (JSON.parse(r.value!) as TuplesMessage).seccomp) last.set(s.syscall!, Math.max(last.get(s.syscall!) ?? 0, s.count));
      return [...last.values()].reduce((a, b) => a + b, 0) === 20_000;
    });
    assert.ok(msgs.length <= 10, `expected a handful of tuple messages, got ${msgs.length}`);
    const max = new Map<string, number>();
    for (const r of msgs) {
      assert.equal(r.headers['auditflow-schema'], 'auditflow.recording/v1');
      assert.equal(r.key, `default/busy`, 'recordings are keyed by namespace/container name');
      const m = JSON.parse(r.value!) as TuplesMessage;
      assert.equal(m.type, 'tuples');
      assert.deepEqual(m.pod?.labels, { app: 'busy' });
      for (const s of m.seccomp) max.set(s.syscall!, Math.max(max.get(s.syscall!) ?? 0, s.count));
    }
    assert.deepEqual(Object.fromEntries(max), { read: 5000, write: 5000, futex: 5000, epoll_wait: 5000 });
  });

  test('denials are sent as full events, rate limited per container, with a summary of what was suppressed', async () => {
    const t = topics();
    const sink = await createKafkaSink(
      { brokers: broker.brokers, node: 'node-a', topics: t, spoolDir: path.join(tmp, 'spool-rl'), eventsPerSecond: 10, dedupIntervalMs: 200 },
      log,
    );
    const p = pod('noisy-1', { app: 'noisy' });
    const c = container('noisy');
    const quiet = container('quiet');
    const qp = pod('quiet-1');
    const evs: EventV1[] = [];
    for (let i = 1; i <= 500; i++) evs.push(seccompEvent(i, 'mkdir', 83, c, p, { action: 'errno' }));
    evs.push(seccompEvent(501, 'mount', 165, quiet, qp, { action: 'errno' }));
    evs.push(avcEvent(502, c, p, ['read', 'open']));
    await sink.write(evs);
    await sink.flush();
    await sink.close();
    const got = await readTopic(broker.brokers, t.events, (m) => m.some((r) => r.headers['auditflow-schema'] === 'auditflow.suppressed/v1'));
    const full = got.filter((r) => r.headers['auditflow-schema'] === 'auditflow.event/v1');
    const noisy = full.filter((r) => r.key === p.uid);
    // a burst of 2x the per-second rate, plus what refills while the batch is processed (10/s)
    assert.ok(noisy.length >= 20 && noisy.length <= 25, `noisy container sent ${noisy.length} full events`);
    assert.equal(full.filter((r) => r.key === qp.uid).length, 1, "another container's denial is not held back by the noisy one");
    const sup = got.filter((r) => r.headers['auditflow-schema'] === 'auditflow.suppressed/v1').map((r) => JSON.parse(r.value!) as SuppressedMessage);
    const total = sup.filter((s) => s.pod?.uid === p.uid).reduce((a, s) => a + s.count, 0);
    assert.equal(total + noisy.length, 501, 'every event of the noisy container is either sent or counted as suppressed');
  });

  for (const mechanism of ['plain', 'scram-sha-256'] as const) {
    test(`SASL ${mechanism.toUpperCase()} against the broker's SASL listener`, async () => {
      const t = topics();
      const sink = await createKafkaSink(
        { brokers: broker.saslBrokers, node: 'node-a', topics: t, spoolDir: path.join(tmp, `spool-${mechanism}`), sasl: { mechanism, username: SASL_USER, password: SASL_PASSWORD }, sendTimeoutMs: 20_000 },
        log,
      );
      await sink.write([seccompEvent(1, 'mkdir', 83, null, null, { action: 'errno' })]);
      const s = sink.stats();
      await sink.close();
      assert.equal(s.spoolBytes, 0, 'acknowledged by the broker, not spooled');
      const got = await readTopic(broker.brokers, t.events, (m) => m.length >= 1);
      assert.equal(got.length, 1);
    });
  }

  test('a wrong SASL password never acknowledges: the events are spooled, not lost', async () => {
    const t = topics();
    const sink = await createKafkaSink(
      { brokers: broker.saslBrokers, node: 'node-a', topics: t, spoolDir: path.join(tmp, 'spool-badpw'), sasl: { mechanism: 'plain', username: SASL_USER, password: 'wrong' }, sendTimeoutMs: 3000 },
      log,
    );
    await sink.write([seccompEvent(1, 'mkdir', 83, null, null, { action: 'errno' })]);
    const s = sink.stats();
    await sink.close();
    assert.ok(s.spoolBytes > 0, 'the event is in the spool');
    assert.ok(fs.readdirSync(path.join(tmp, 'spool-badpw')).some((f) => f.endsWith('.spool')));
  });
});

describe('Kafka sink during a broker outage', () => {
  test('broker SIGKILLed for 30 s mid-stream and restarted: every event arrives (counted by serial)', async () => {
    const t = topics();
    const sink = await createKafkaSink({ brokers: broker.brokers, node: 'node-a', topics: t, spoolDir: path.join(tmp, 'spool-outage'), sendTimeoutMs: 2000, eventsPerSecond: 1e9 }, log);
    const p = pod('steady-1');
    const c = container('steady');
    let serial = 0;
    let stop = false;
    let spooledDuringOutage = 0;
    // a steady writer, as the pipeline is: one batch of 50 denials every 20 ms
    const writer = (async () => {
      while (!stop) {
        const evs: EventV1[] = [];
        for (let i = 0; i < 50; i++) evs.push(seccompEvent(++serial, 'mkdir', 83, c, p, { action: 'errno' }));
        await sink.write(evs);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await poll('events flowing', () => serial >= 2000);
    await broker.kill();
    const killedAt = Date.now();
    await poll('the sink to spool', () => sink.stats().spoolBytes > 0, 30_000);
    while (Date.now() - killedAt < 30_000) {
      spooledDuringOutage = Math.max(spooledDuringOutage, sink.stats().spoolBytes);
      await new Promise((r) => setTimeout(r, 500));
    }
    const atRestart = serial;
    await broker.restart();
    await poll('more events after the restart', () => serial >= atRestart + 2000, 120_000);
    stop = true;
    await writer;
    assert.equal(await sink.drained(120_000), true, 'the spool drains once the broker is back');
    await sink.close();
    assert.ok(spooledDuringOutage > 0, 'events were spooled while the broker was down');
    assert.equal(fs.readdirSync(path.join(tmp, 'spool-outage')).filter((f) => f.endsWith('.spool')).length, 0, 'no spool segment left');
    const got = await readTopic(broker.brokers, t.events, (m) => new Set(m.map((r) => (JSON.parse(r.value!) as EventV1).serial)).size >= serial, 120_000);
    const seen = new Set(got.map((r) => (JSON.parse(r.value!) as EventV1).serial));
    const missing: number[] = [];
    for (let s = 1; s <= serial; s++) if (!seen.has(s)) missing.push(s);
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} of ${serial} serials missing`);
    // order per key survives the outage: serials first appear in increasing order
    const firsts: number[] = [];
    const dup = new Set<number>();
    for (const r of got) {
      const s = (JSON.parse(r.value!) as EventV1).serial;
      if (!dup.has(s)) firsts.push(s);
      dup.add(s);
    }
    assert.deepEqual(firsts, [...firsts].sort((a, b) => a - b), 'replayed in order');
  });

  test('what one sink spooled is replayed by the next one started on the same spool (a node restart during an outage)', async () => {
    const t = topics();
    const spoolDir = path.join(tmp, 'spool-restart');
    const c = container('restart');
    const p = pod('restart-1');
    await broker.kill();
    const first = await createKafkaSink({ brokers: broker.brokers, node: 'node-a', topics: t, spoolDir, sendTimeoutMs: 1000, eventsPerSecond: 1e9 }, log);
    const evs: EventV1[] = [];
    for (let i = 1; i <= 300; i++) evs.push(seccompEvent(i, 'mkdir', 83, c, p, { action: 'errno' }));
    await first.write(evs);
    assert.ok(first.stats().spoolBytes > 0);
    await first.close();
    assert.ok(fs.readdirSync(spoolDir).some((f) => f.endsWith('.spool')), 'the spool survives the sink');
    await broker.restart();
    const second = await createKafkaSink({ brokers: broker.brokers, node: 'node-a', topics: t, spoolDir, eventsPerSecond: 1e9 }, log);
    assert.equal(await second.drained(120_000), true);
    await second.close();
    const got = await readTopic(broker.brokers, t.events, (m) => m.length >= 300);
    assert.deepEqual(got.map((r) => (JSON.parse(r.value!) as EventV1).serial), evs.map((e) => e.serial), 'all 300, in order');
  });

  test('group commit: write() only queues, sync() waits; what could be neither sent nor spooled is published again by the next sync', async () => {
    const t = topics();
    const spoolDir = path.join(tmp, 'spool-group');
    // a port no broker listens on: every send fails over to the spool
    const nowhere = [`127.0.0.1:${await freePort()}`];
    const sink = await createKafkaSink({ brokers: nowhere, node: 'node-a', topics: t, spoolDir, groupCommit: true, sendTimeoutMs: 1000, eventsPerSecond: 1e9 }, log);
    assert.equal(typeof sink.sync, 'function', 'group commit offers sync()');
    const evs: EventV1[] = [];
    for (let i = 1; i <= 20; i++) evs.push(seccompEvent(i, 'mkdir', 83, null, null, { action: 'errno' }));
    // the spool cannot be written either (its directory is gone)
    fs.rmSync(spoolDir, { recursive: true, force: true });
    await sink.write(evs.slice(0, 10));
    assert.deepEqual([sink.stats().spoolBytes, sink.stats().eventMessages], [0, 10], 'write() resolved with its messages queued, neither acknowledged nor spooled');
    await assert.rejects(sink.sync!(), /ENOENT/, 'sync() fails: the batch is not taken');
    fs.mkdirSync(spoolDir);
    await sink.write(evs.slice(10));
    await sink.sync!();
    assert.ok(sink.stats().spoolBytes > 0, 'the next sync() spooled the failed messages and the new ones');
    await sink.close();
    // a sink started on that spool with the broker there replays it: every event, the failed ones included
    const next = await createKafkaSink({ brokers: broker.brokers, node: 'node-a', topics: t, spoolDir, eventsPerSecond: 1e9 }, log);
    assert.equal(await next.drained(120_000), true);
    await next.close();
    const got = await readTopic(broker.brokers, t.events, (m) => m.length >= 20);
    assert.deepEqual(got.map((r) => (JSON.parse(r.value!) as EventV1).serial).sort((a, b) => a - b), evs.map((e) => e.serial));
  });

  test('spool full: write() waits (the tailer pauses) until the broker returns, then everything arrives', async () => {
    const t = topics();
    const sink = await createKafkaSink(
      { brokers: broker.brokers, node: 'node-a', topics: t, spoolDir: path.join(tmp, 'spool-full'), spoolMaxBytes: 64 * 1024, sendTimeoutMs: 1500, eventsPerSecond: 1e9 },
      log,
    );
    const c = container('fill');
    const p = pod('fill-1');
    await sink.write([seccompEvent(1, 'mkdir', 83, c, p, { action: 'errno' })]);
    await broker.kill();
    let serial = 1;
    let blocked = false;
    // write until a write does not resolve within 5 s: the spool (64 KiB) is full
    for (;;) {
      const evs: EventV1[] = [];
      for (let i = 0; i < 20; i++) evs.push(seccompEvent(++serial, 'mkdir', 83, c, p, { action: 'errno' }));
      const w = sink.write(evs);
      const r = await Promise.race([w.then(() => 'done'), new Promise((res) => setTimeout(() => res('blocked'), 5000))]);
      if (r === 'blocked') {
        blocked = true;
        assert.ok(sink.stats().spoolBytes <= 64 * 1024 + 20 * 2048, 'the spool stays near its bound');
        await broker.restart();
        await w; // resolves once replay made room
        break;
      }
      assert.ok(serial < 20_000, 'the spool never filled up');
    }
    assert.ok(blocked);
    assert.equal(await sink.drained(120_000), true);
    await sink.close();
    const got = await readTopic(broker.brokers, t.events, (m) => new Set(m.map((r) => (JSON.parse(r.value!) as EventV1).serial)).size >= serial, 120_000);
    assert.equal(new Set(got.map((r) => (JSON.parse(r.value!) as EventV1).serial)).size, serial, 'every event arrived');
  });
});
