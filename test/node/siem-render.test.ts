// The SIEM renderer (src/run/siem-render.ts) fills per-record values into templates cut from documents built
// with sentinel values. Its whole-pipeline equality with the general path is in run-quiet-seccomp.test.ts; here,
// what a pipeline run cannot show: a sentinel planted in the data (a pod label) must not be taken for a slot,
// and records of one variant in several seconds and serials must each get their own values.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { isRecord, parseLine, scanSeccompLine, SeccompLine } from '../../parsers';
import { formatTimestamp } from '../../src/event/timestamp';
import { eventFromRecord, type EventContext, type EventV1 } from '../../src/event/v1';
import { type LineRenderer, type RenderedLine, SeccompRenderer } from '../../src/run/seccomp-render';
import { SiemRenderer, type Sentinels } from '../../src/run/siem-render';
import { toEcs, toOcsf } from '../../src/sink/format';

const LINE = 'type=SECCOMP msg=audit(1740670474.406:2766278): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=6412 comm="chmod" exe="/usr/bin/chmod" sig=0 arch=c000003e syscall=268 compat=0 ip=0x7f5c0fae83c7 code=0x7ffc0000';
const SENTINELS: [Sentinels, Sentinels] = [
  { ms: 4200000000123, serial: 123456789012345, raw: 'zqaaaaaaaaaaaaaaaaaaaaaa', pid: 3141592 },
  { ms: 4300000000456, serial: 223456789012345, raw: 'zqbbbbbbbbbbbbbbbbbbbbbb', pid: 2718281 },
];

/** `LINE` stamped `sec.ms:serial`. */
const stamped = (stamp: string) => LINE.replace('1740670474.406:2766278', stamp);

/** The group's enriched event: the first line's, with a pod whose label is `label`. */
function groupEvent(ctx: EventContext, label: string): EventV1 {
  const r = parseLine(LINE);
  assert.ok(isRecord(r));
  const ev = eventFromRecord(r, ctx);
  ev.container = { id: 'c'.repeat(64), name: 'app', runtime: 'containerd', image: 'busybox' };
  ev.pod = { name: 'p', namespace: 'ns', uid: 'u-1', labels: { app: label } };
  ev.enrichment = 'resolved';
  return ev;
}

/** What the general path writes for `line` with the group's enrichment. */
function general(line: string, ctx: EventContext, gev: EventV1, map: (ev: EventV1) => unknown): string {
  const r = parseLine(line);
  assert.ok(isRecord(r));
  const ev = eventFromRecord(r, ctx);
  ev.container = gev.container;
  ev.pod = gev.pod;
  ev.enrichment = gev.enrichment;
  if (gev.enrichmentError !== undefined) ev.enrichmentError = gev.enrichmentError;
  return JSON.stringify(map(ev)) + '\n';
}

function render(renderer: SiemRenderer, lines: string[], gev: EventV1): string {
  return completed(renderer, lines, gev).toString('utf8');
}

function completed(renderer: LineRenderer, lines: string[], gev: EventV1): Buffer {
  const group = { renderState: null };
  const rendered: RenderedLine[] = lines.map((text) => {
    const buf = Buffer.from(text, 'latin1');
    const l = new SeccompLine();
    assert.ok(scanSeccompLine(buf, 0, buf.length, l, false), `scanned: ${text}`);
    const into: RenderedLine = { buf, start: 0, end: buf.length, arena: buf, from: 0, mid: 0, to: 0, timeMs: 0, tag: null };
    renderer.add(l, into, group);
    return into;
  });
  return renderer.complete(rendered, rendered.map(() => gev));
}

describe('SIEM renderer: SECCOMP documents from templates', () => {
  for (const [name, map] of [['ecs', toEcs], ['ocsf', toOcsf]] as const) {
    for (const raw of [false, true]) {
      it(`${name}${raw ? ' with raw lines' : ''}: each record its own timestamp, serial and raw line, from one template`, () => {
        const ctx: EventContext = { node: 'n1', file: '/var/log/audit/audit.log', raw };
        const renderer = new SiemRenderer(ctx, map, SENTINELS);
        const gev = groupEvent(ctx, 'web');
        // within one second and across one, serials of several lengths, a zero-led serial (its JSON drops it)
        const lines = ['1740670474.406:2766278', '1740670474.007:2766279', '1740670475.999:9', '1740670475.000:00012'].map(stamped);
        assert.equal(render(renderer, lines, gev), lines.map((l) => general(l, ctx, gev, map)).join(''));
        assert.equal(renderer.general, 0, 'all from the template');
      });
    }

    it(`${name}: a sentinel planted in a pod label sends the records the general way, with the right values`, () => {
      const ctx: EventContext = { node: 'n1', file: null, raw: true };
      for (const planted of [formatTimestamp(SENTINELS[0].ms), String(SENTINELS[0].serial), SENTINELS[0].raw, String(SENTINELS[0].pid)]) {
        const renderer = new SiemRenderer(ctx, map, SENTINELS);
        const gev = groupEvent(ctx, planted);
        const lines = ['1740670474.406:2766278', '1740670474.500:2766280'].map(stamped);
        assert.equal(render(renderer, lines, gev), lines.map((l) => general(l, ctx, gev, map)).join(''), `label ${planted}`);
        assert.equal(renderer.general, 2, `the planted ${planted} made the cuts disagree: both lines built the general way`);
      }
    });
  }

  it("a process's groups of later seconds reuse its templates; another enrichment gets its own", () => {
    const ctx: EventContext = { node: 'n1', file: null, raw: true };
    const renderer = new SiemRenderer(ctx, toEcs, SENTINELS);
    // one group (and group event) per second, as the pipeline makes them, with the same enrichment
    for (const [i, sec] of ['1740670474', '1740670475', '1740670476'].entries()) {
      const gev = groupEvent(ctx, 'web');
      const lines = [`${sec}.100:${10 + i}`, `${sec}.900:${20 + i}`].map(stamped);
      assert.equal(render(renderer, lines, gev), lines.map((l) => general(l, ctx, gev, toEcs)).join(''), `second ${sec}`);
    }
    assert.equal(renderer.built, 1, 'one template for the three seconds');
    // another pod, and a process gone before it was attributed: their own templates, their own values
    const other = groupEvent(ctx, 'db');
    const gone = groupEvent(ctx, 'web');
    gone.container = null;
    gone.pod = null;
    gone.enrichment = 'unresolved';
    gone.enrichmentError = 'process 6412 exited before its records were read';
    for (const gev of [other, gone]) {
      const lines = ['1740670477.100:30', '1740670477.200:31'].map(stamped);
      const out = render(renderer, lines, gev);
      assert.equal(out, lines.map((l) => general(l, ctx, gev, toEcs)).join(''), `enrichment ${gev.enrichment}`);
    }
    assert.equal(renderer.built, 3, 'one more template for each other enrichment');
    assert.equal(renderer.general, 0);
  });

  it('processes of one executable and pod share templates, each record with its own pid; odd pids are kept whole', () => {
    for (const [name, map] of [['ecs', toEcs], ['ocsf', toOcsf]] as const) {
      const ctx: EventContext = { node: 'n1', file: null, raw: true };
      const renderer = new SiemRenderer(ctx, map, SENTINELS);
      // a shell's short-lived children: one group each (the pipeline's groups are per process)
      for (const [i, pid] of ['6412', '777', '4194304', '1'].entries()) {
        const gev = groupEvent(ctx, 'web');
        const lines = [`1740670474.${100 + i}:${40 + i}`, `1740670474.${200 + i}:${50 + i}`].map((st) => stamped(st).replace(' pid=6412 ', ` pid=${pid} `));
        assert.equal(render(renderer, lines, gev), lines.map((l) => general(l, ctx, gev, map)).join(''), `${name}: pid ${pid}`);
      }
      assert.equal(renderer.built, 1, `${name}: one template for the four processes`);
      // pids the parser might read otherwise than their digits say (leading zeros, beyond the kernel's): their own
      for (const pid of ['0012', '4194305', '99999999']) {
        const gev = groupEvent(ctx, 'web');
        const lines = ['1740670475.100:60'].map((st) => stamped(st).replace(' pid=6412 ', ` pid=${pid} `));
        assert.equal(render(renderer, lines, gev), lines.map((l) => general(l, ctx, gev, map)).join(''), `${name}: pid ${pid}`);
      }
      assert.equal(renderer.built, 4, `${name}: a template for each odd pid`);
      // processes gone before they were attributed: their errors name their pids, and they still share one
      for (const pid of ['6412', '777', '31']) {
        const gev = groupEvent(ctx, 'web');
        gev.container = null;
        gev.pod = null;
        gev.enrichment = 'unresolved';
        gev.enrichmentError = `process-gone: process ${pid} exited before its records were read (pid ${pid}, not 77700)`;
        const lines = ['1740670476.100:70', '1740670476.300:71'].map((st) => stamped(st).replace(' pid=6412 ', ` pid=${pid} `));
        const out = render(renderer, lines, gev);
        assert.equal(out, lines.map((l) => general(l, ctx, gev, map)).join(''), `${name}: gone pid ${pid}`);
        assert.ok(out.includes(`process ${pid} exited before its records were read (pid ${pid}, not 77700)`), `${name}: its own pid in its error`);
      }
      assert.equal(renderer.built, 5, `${name}: one template for the three gone processes`);
      // an error that does not name its pid where the others do (here text that once stood for the cut): its own
      const odd = groupEvent(ctx, 'web');
      odd.container = null;
      odd.pod = null;
      odd.enrichment = 'unresolved';
      odd.enrichmentError = 'process-gone: process \u0000pid\u0000 exited before its records were read (pid \u0000pid\u0000, not 77700)';
      const oddLines = ['1740670476.500:72'].map((st) => stamped(st).replace(' pid=6412 ', ' pid=32 '));
      assert.equal(render(renderer, oddLines, odd), oddLines.map((l) => general(l, ctx, odd, map)).join(''), `${name}: an error without its pid`);
      assert.equal(renderer.built, 6, `${name}: a template of its own`);
      assert.equal(renderer.general, 0);
    }
  });

  it('a document that holds a value in a form no slot fills (the year alone) is built the general way', () => {
    const ctx: EventContext = { node: 'n1', file: null, raw: false };
    const map = (ev: EventV1) => ({ at: ev.timestamp, year: ev.timestamp.slice(0, 4), serial: ev.serial });
    const renderer = new SiemRenderer(ctx, map, SENTINELS);
    const gev = groupEvent(ctx, 'web');
    const lines = ['1740670474.406:2766278', '1740670474.500:2766280'].map(stamped);
    assert.equal(render(renderer, lines, gev), lines.map((l) => general(l, ctx, gev, map)).join(''));
    assert.equal(renderer.general, 2, 'the two cuts differ in a constant part: no template');
  });
});

// complete()'s buffer is the renderer's until reset() (the pipeline resets it once the batch is written): the
// outputs of one batch must not share bytes, and the next batch's are written over them, not into new memory.
describe('renderers: complete() output reused across batches', () => {
  const ctx: EventContext = { node: 'n1', file: null, raw: true };
  const v1 = (ev: EventV1): unknown => ev;
  for (const [name, make, map] of [
    ['v1', () => new SeccompRenderer(ctx), v1],
    ['ecs', () => new SiemRenderer(ctx, toEcs, SENTINELS), toEcs],
    ['ocsf', () => new SiemRenderer(ctx, toOcsf, SENTINELS), toOcsf],
  ] as const) {
    it(`${name}: outputs before a reset() are each intact; after it, the same memory is written again`, () => {
      const r: LineRenderer = make();
      const gev = groupEvent(ctx, 'web');
      const want = (lines: string[]) => lines.map((l) => general(l, ctx, gev, map)).join('');
      const a = [stamped('1740670474.406:11'), stamped('1740670474.407:12')];
      const b = [stamped('1740670474.408:13')];
      const first = completed(r, a, gev);
      const second = completed(r, b, gev);
      assert.equal(first.toString('utf8'), want(a), 'the first output, untouched by the second');
      assert.equal(second.toString('utf8'), want(b));
      assert.ok(first.buffer !== second.buffer || first.byteOffset + first.length <= second.byteOffset, 'no shared bytes');
      r.reset();
      const c = [stamped('1740670474.409:14')];
      const third = completed(r, c, gev);
      assert.equal(third.toString('utf8'), want(c));
      assert.equal(third.buffer, first.buffer, 'the same buffer');
      assert.equal(third.byteOffset, first.byteOffset, 'from its start again');
    });
  }
});
