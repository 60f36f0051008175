// The NDJSON sink: schema v1, ECS and OCSF lines to a file (durable: fsync'ed before write() resolves) and
// to a stream; a half line left by a crash is ended before new events; a stdout reader that went away costs
// counted events, not the process.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { parseLine, isRecord } from '../../parsers';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { createLogger } from '../../src/log';
import { registry } from '../../src/metrics';
import { NdjsonSink } from '../../src/sink/ndjson';

const LINE =
  'type=SECCOMP msg=audit(1795368920.417:1014145): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=26925 comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=83 compat=0 ip=0x49641b code=0x50001';

function event(serial = 1014145): EventV1 {
  const r = parseLine(LINE.replace('1014145', String(serial)));
  assert.ok(isRecord(r));
  const ev = eventFromRecord(r, { node: 'n1', file: '/var/log/audit/audit.log', raw: false });
  ev.enrichment = 'resolved';
  ev.container = { id: 'a'.repeat(64), name: 'app', runtime: 'containerd', image: 'busybox' };
  ev.pod = { name: 'web-1', namespace: 'demo', uid: 'u-1', labels: { app: 'web' } };
  return ev;
}

const log = createLogger('test');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-sink-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('NdjsonSink', () => {
  it('writes schema v1 lines to a file, appending', async () => {
    const f = path.join(tmp, 'v1.ndjson');
    const s = new NdjsonSink({ output: f, format: 'v1', log });
    await s.write([event(1), event(2)]);
    await s.close();
    const s2 = new NdjsonSink({ output: f, format: 'v1', log });
    await s2.write([event(3)]);
    await s2.close();
    const lines = fs.readFileSync(f, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.serial), [1, 2, 3]);
    assert.equal(lines[0].schema, 'auditflow.event/v1');
    assert.equal(lines[0].syscall, 'mkdir');
    assert.equal(lines[0].action, 'errno');
    assert.equal(lines[0].pod.name, 'web-1');
  });

  it('maps events to ECS and OCSF', async () => {
    for (const format of ['ecs', 'ocsf'] as const) {
      const f = path.join(tmp, `${format}.ndjson`);
      const s = new NdjsonSink({ output: f, format, log });
      await s.write([event()]);
      await s.close();
      const obj = JSON.parse(fs.readFileSync(f, 'utf8'));
      assert.notEqual(obj.schema, 'auditflow.event/v1', `${format} is not the v1 object`);
      const text = JSON.stringify(obj);
      assert.ok(text.includes('web-1') && text.includes('mkdir'), `${format} keeps the pod and syscall: ${text}`);
    }
    const ecs = JSON.parse(fs.readFileSync(path.join(tmp, 'ecs.ndjson'), 'utf8'));
    assert.ok(ecs['@timestamp'], 'ECS has @timestamp');
    const ocsf = JSON.parse(fs.readFileSync(path.join(tmp, 'ocsf.ndjson'), 'utf8'));
    assert.equal(typeof ocsf.class_uid, 'number', 'OCSF has class_uid');
  });

  it('ends a half line left by a killed writer before appending', async () => {
    const f = path.join(tmp, 'half.ndjson');
    fs.writeFileSync(f, JSON.stringify(event(1)) + '\n{"schema":"auditflow.ev');
    const s = new NdjsonSink({ output: f, format: 'v1', log });
    await s.write([event(2)]);
    await s.close();
    const lines = fs.readFileSync(f, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(JSON.parse(lines[2]!).serial, 2);
    assert.throws(() => JSON.parse(lines[1]!));
  });

  it('writes to a stream and resolves once it took the data', async () => {
    const pt = new PassThrough();
    let got = '';
    pt.on('data', (d: Buffer) => (got += d.toString()));
    const s = new NdjsonSink({ output: '-', format: 'v1', log, stdout: pt });
    await s.write([event(7)]);
    assert.equal(JSON.parse(got).serial, 7);
  });

  it('a reader that went away (EPIPE): events counted as dropped, write() still resolves', async () => {
    const broken = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })) });
    broken.on('error', () => undefined);
    const s = new NdjsonSink({ output: '-', format: 'v1', log, stdout: broken });
    const before = (await registry.getSingleMetric('auditflow_sink_dropped_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    await s.write([event(1), event(2)]);
    await s.write([event(3)]);
    const afterN = (await registry.getSingleMetric('auditflow_sink_dropped_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    assert.equal(afterN - before, 3);
  });
});
