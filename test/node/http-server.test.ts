// The HTTP endpoint over a real socket: /metrics in the Prometheus text format, /healthz, /readyz following
// their checks, 404/405 for the rest, and a port picked by the kernel with :0.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import { describe, it } from 'node:test';
import { Counter } from 'prom-client';
import { HttpServer, parseListen } from '../../src/http/server';
import { createLogger } from '../../src/log';
import { LOOP_SAMPLE_MS, registry } from '../../src/metrics';

function request(port: number, p: string, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HttpServer', () => {
  it('serves /metrics, /healthz and /readyz on a kernel-picked port', async () => {
    const c = new Counter({ name: 'auditflow_test_http_total', help: 'test', registers: [registry] });
    c.inc(3);
    let ready = false;
    const s = new HttpServer({ listen: '127.0.0.1:0', log: createLogger('test'), ready: { thing: () => ({ ok: ready, detail: ready ? 'up' : 'down' }) } });
    const addr = await s.start();
    try {
      assert.ok(addr.port > 0);
      const m = await request(addr.port, '/metrics');
      assert.equal(m.status, 200);
      assert.match(m.type, /text\/plain/);
      assert.match(m.body, /^auditflow_test_http_total 3$/m);
      const h = await request(addr.port, '/healthz');
      assert.equal(h.status, 200);
      assert.equal(JSON.parse(h.body).checks.eventLoop.ok, true);
      const r1 = await request(addr.port, '/readyz');
      assert.equal(r1.status, 503);
      assert.equal(JSON.parse(r1.body).checks.thing.detail, 'down');
      ready = true;
      assert.equal((await request(addr.port, '/readyz')).status, 200);
      assert.equal((await request(addr.port, '/nope')).status, 404);
      assert.equal((await request(addr.port, '/metrics', 'POST')).status, 405);
    } finally {
      await s.close();
      registry.removeSingleMetric('auditflow_test_http_total');
    }
  });

  it('/healthz fails after the event loop was blocked longer than allowed, at the monitors\' coarse sampling', async () => {
    const s = new HttpServer({ listen: '127.0.0.1:0', log: createLogger('test'), maxLoopDelayMs: 1200 });
    const { port } = await s.start();
    try {
      // a sample in progress when the loop blocks is the one that sees the block (the monitor's first sample
      // only starts its clock)
      await new Promise((r) => setTimeout(r, LOOP_SAMPLE_MS + 300));
      // longer than the limit by more than one sampling interval (LOOP_SAMPLE_MS), wherever in a sample it falls
      const until = Date.now() + 1200 + LOOP_SAMPLE_MS + 400;
      while (Date.now() < until) {
        /* the loop blocked */
      }
      const h = await request(port, '/healthz');
      assert.equal(h.status, 503, h.body);
      const loop = JSON.parse(h.body).checks.eventLoop;
      assert.equal(loop.ok, false);
      const ms = Number(/max delay ([\d.]+) ms/.exec(loop.detail)?.[1]);
      assert.ok(ms >= 1400, loop.detail);
      // the next probe covers a loop that ran freely since this one (and its 1 s ticker fired meanwhile)
      await new Promise((r) => setTimeout(r, 1100));
      const again = await request(port, '/healthz');
      assert.equal(again.status, 200, again.body);
    } finally {
      await s.close();
    }
  });

  it('/healthz fails when a health check fails, and a throwing check counts as failed', async () => {
    const s = new HttpServer({ listen: '127.0.0.1:0', log: createLogger('test'), health: { boom: () => { throw new Error('kaput'); } } });
    const { port } = await s.start();
    try {
      const h = await request(port, '/healthz');
      assert.equal(h.status, 503);
      assert.equal(JSON.parse(h.body).checks.boom.detail, 'kaput');
    } finally {
      await s.close();
    }
  });

  it('parses listen addresses and refuses bad ones', () => {
    assert.deepEqual(parseListen('127.0.0.1:9090'), { host: '127.0.0.1', port: 9090 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen(':9100'), { host: '0.0.0.0', port: 9100 });
    assert.throws(() => parseListen('9090'), /not host:port/);
    assert.throws(() => parseListen('x:70000'), /out of range/);
  });
});
