// The aggregator's fast decoder of recordings-topic values (src/kafka/recording-decoder.ts) against the
// general one (decodeRecordingMessage): for every input, the same message or the same error class. The inputs
// are what the node sink itself writes (RecordingDedup's messages, JSON.stringify'd as the sink does), with
// hostile field values (quotes, backslashes, newlines, escapes, the layout's own punctuation, non-BMP and
// lone surrogates), values off the sink's layout, and seeded random mutations of the sink's texts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContainerRef, PodRef } from '../../src/event/v1';
import { decodeRecordingMessage, MalformedMessage, type RecordingMessage, type TuplesMessage } from '../../src/kafka/messages';
import { RecordingDecoder } from '../../src/kafka/recording-decoder';
import { RecordingDedup } from '../../src/sink/kafka/dedup';
import { avcEvent, container, pod, seccompEvent } from '../env/kafka/helpers';

type Outcome = { ok: RecordingMessage } | { error: string };

function outcome(f: () => RecordingMessage): Outcome {
  try {
    return { ok: f() };
  } catch (e) {
    // the general path throws MalformedMessage and nothing else for bad input; so must the fast one
    assert.ok(e instanceof MalformedMessage, `not a MalformedMessage: ${String(e)}`);
    return { error: 'MalformedMessage' };
  }
}

/** Decodes `text` both ways and asserts the same outcome; returns whether the fast path took it. */
function same(d: RecordingDecoder, text: string): boolean {
  const fastBefore = d.counts.fast;
  const value = Buffer.from(text, 'utf8');
  assert.deepStrictEqual(outcome(() => d.decode(value)), outcome(() => decodeRecordingMessage(value)), text);
  return d.counts.fast > fastBefore;
}

/** The sink's own messages for these events (dedup.ts), as the sink serialises them. */
function sinkTexts(events: Parameters<RecordingDedup['add']>[0][]): string[] {
  const dedup = new RecordingDedup('node-a', 'epoch-1', []);
  for (const ev of events) dedup.add(ev);
  return dedup.takeFresh().map((m: TuplesMessage) => JSON.stringify(m));
}

const HOSTILE = [
  'plain',
  'quote " inside',
  'back\\slash',
  'new\nline and \r\t tab',
  '","seccomp":[{"arch":"x"}],"avc":[]}',
  '},"pod":null',
  '{[}]',
  'unicode é 日本 🦀',
  'lone \ud800 surrogate',
  'line sep \u2028 para \u2029',
  'nul \u0000 and \u001f',
  '\\u0041 looks like an escape',
  '',
];

function hostileRefs(s: string, i: number): { c: ContainerRef; p: PodRef } {
  const c = { ...container(`c${i}`), name: s, image: s };
  const p = { ...pod(`p${i}`, { [s]: s, app: 'x', 'seccomp"': s }), namespace: s };
  return { c, p };
}

describe('recording decoder fast path', () => {
  test("the sink's own messages take the fast path and decode as the general path does", () => {
    const d = new RecordingDecoder();
    const c = container('app');
    const p = pod('app-1', { app: 'app' });
    const events = [
      seccompEvent(1, 'read', 0, c, p),
      seccompEvent(2, 'write', 1, c, p, { action: 'allow', exe: null as unknown as string }),
      { ...seccompEvent(3, 'clone', 56, c, p), comm: 'runc:[2:INIT]' },
      seccompEvent(4, 'ni_syscall', 999, c, p, { arch: 'aarch64' }),
      avcEvent(5, c, p, ['read', 'open']),
    ];
    const texts = sinkTexts(events);
    assert.ok(texts.length >= 1);
    for (const t of texts) assert.equal(same(d, t), true, t);
    // and again: now from the container/pod and date caches
    for (const t of texts) assert.equal(same(d, t), true, t);
    const m = d.decode(Buffer.from(texts[0]!)) as TuplesMessage;
    assert.equal(m.seccomp.length, 4);
    assert.equal(m.avc.length, 2);
    assert.equal(m.seccomp.find((t) => t.syscall === 'clone')?.runtimeInit, true);
  });

  test('hostile strings in every string field: same tuples as the general path, still the fast path', () => {
    const d = new RecordingDecoder();
    HOSTILE.forEach((s, i) => {
      const { c, p } = hostileRefs(s, i);
      const ev = seccompEvent(i + 1, s, i, c, p, { exe: s, arch: s });
      const text = JSON.stringify({
        schema: 'auditflow.recording/v1', type: 'tuples', node: s, epoch: s, container: c, pod: p,
        seccomp: [{ arch: s, syscall: s, nr: i, action: s || 'log', count: i + 1, firstSeen: ev.timestamp, lastSeen: ev.timestamp, exe: s }],
        avc: [{ stype: s, ttype: s, tclass: s, perm: s, decision: s, count: 1, firstSeen: ev.timestamp, lastSeen: ev.timestamp, exe: null }],
      });
      assert.equal(same(d, text), true, text);
      // the sink's own path with the same values
      for (const t of sinkTexts([ev])) same(d, t);
    });
  });

  test('messages of alternating containers whose texts share a prefix never get the previous container', () => {
    const d = new RecordingDecoder();
    const c = container('app');
    const p1 = pod('app-1', { app: 'app' });
    const p2 = { ...p1, labels: { app: 'app', extra: 'x' } };
    const p3 = { ...p1, labels: { app: 'ap' } };
    const texts = [p1, p2, p3, null, p1].flatMap((p) => sinkTexts([seccompEvent(1, 'read', 0, c, p)]).map((t) => (p === null ? t.replace(/"pod":\{[^}]*\}\}/, '"pod":null') : t)));
    // and another container in between (the pair found again by container id, not as the last one)
    const other = sinkTexts([seccompEvent(2, 'write', 1, container('other'), pod('other-1', { app: 'other' }))]);
    for (const t of [...texts, ...texts.reverse()]) {
      same(d, t);
      same(d, other[0]!);
    }
    const pods = texts.map((t) => (d.decode(Buffer.from(t)) as TuplesMessage).pod?.labels ?? null);
    assert.deepStrictEqual(pods, texts.map((t) => (decodeRecordingMessage(Buffer.from(t)) as TuplesMessage).pod?.labels ?? null));
  });

  test('values off the sink layout or failing a check: the general path decides', () => {
    const d = new RecordingDecoder();
    const base = sinkTexts([seccompEvent(1, 'read', 0, container('app'), pod('app-1', { app: 'a' }))])[0]!;
    same(d, base); // caches the date and the container/pod text first
    const variants = [
      base.replace('{"schema"', '{ "schema"'),
      base.replace('"nr":0', '"nr":0.5'),
      base.replace('"nr":0', '"nr":-3'),
      base.replace('"nr":0', '"nr":1e2'),
      base.replace('"nr":0', '"nr":00'),
      base.replace('"nr":0', '"nr":"0"'),
      base.replace('"count":1', '"count":0'),
      base.replace('"count":1', '"count":-0'),
      base.replace('"count":1', '"count":1.0'),
      base.replace('"count":1', '"count":9007199254740993'),
      base.replace('"count":1', '"count":123456789012345'),
      base.replace(/"firstSeen":"2026-11-23T/, '"firstSeen":"2026-13-23T'),
      base.replace(/"firstSeen":"2026-11-23T/, '"firstSeen":"2026-02-30T'),
      base.replace(/"firstSeen":"2026-11-23T\d\d/, '"firstSeen":"2026-11-23T24'),
      base.replace(/"firstSeen":"2026-11-23T\d\d:\d\d/, '"firstSeen":"2026-11-23T10:60'),
      base.replace(/"firstSeen":"2026-11-23T\d\d:\d\d:\d\d/, '"firstSeen":"2026-11-23T10:00:61'),
      base.replace(/"firstSeen":"[^"]*"/, '"firstSeen":"2026-11-23T10:00:00.00xZ"'),
      base.replace(/"firstSeen":"[^"]*"/, '"firstSeen":"2026-11-23"'),
      base.replace(/"firstSeen":"[^"]*"/, '"firstSeen":"yesterday"'),
      base.replace('"exe":"/bin/app"', '"exe":"/bin/app","runtimeInit":false'),
      base.replace('"exe":"/bin/app"', '"exe":"/bin/app","extra":1'),
      base.replace('"exe":"/bin/app"', '"exe":"\\x"'),
      base.replace('"exe":"/bin/app"', '"exe":"a\nb"'),
      base.replace('"exe":"/bin/app"', '"exe":7'),
      base.replace('"action":"log"', '"action":null'),
      base.replace('"type":"tuples"', '"type":"end"'),
      base.replace(/"container":\{"id":"[^"]*"/, '"container":{"id":""'),
      base.replace(/"labels":\{/, '"labels":{"n":1,'),
      base.replace(/"avc":\[\]/, '"avc":[{}]'),
      base.replace(/"avc":\[\]/, '"avc":{}'),
      `${base} `,
      `${base}{}`,
      base.slice(0, -1),
      base.slice(0, 80),
      '',
      'null',
      '[]',
      JSON.stringify({ schema: 'auditflow.recording/v1', type: 'end', node: 'n', container: { id: 'c', name: 'x' }, pod: null, at: '2026-11-23T10:00:00.000Z', reason: 'exited' }),
    ];
    for (const v of variants) same(d, v);
    assert.deepStrictEqual(outcome(() => d.decode(null)), outcome(() => decodeRecordingMessage(null)));
  });

  test('seeded random mutations of the sink texts: same outcome as the general path', () => {
    const d = new RecordingDecoder();
    const { c, p } = hostileRefs('q"\\\n', 0);
    const texts = sinkTexts([
      seccompEvent(1, 'read', 0, c, p),
      seccompEvent(2, 'write', 1, c, p, { exe: 'e"x\\e' }),
      { ...seccompEvent(3, 'clone', 56, c, p), comm: 'runc:[2:INIT]' },
      avcEvent(4, c, p, ['read']),
    ]);
    const alphabet = ['"', '\\', '{', '}', '[', ']', ',', ':', '0', '1', '-', '.', 'e', 'n', 'u', 'l', ' ', '\n', 'T', 'Z', '\\u00', 'é'];
    let seed = 14;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let fast = 0;
    for (let k = 0; k < 4000; k++) {
      let t = texts[rnd(texts.length)]!;
      for (let m = rnd(3) + 1; m > 0; m--) {
        const at = rnd(t.length);
        const op = rnd(3);
        if (op === 0) t = t.slice(0, at) + t.slice(at + 1);
        else if (op === 1) t = t.slice(0, at) + alphabet[rnd(alphabet.length)]! + t.slice(at);
        else t = t.slice(0, at) + alphabet[rnd(alphabet.length)]! + t.slice(at + 1);
      }
      if (same(d, t)) fast++;
    }
    // some mutations keep the layout (a changed letter in a string): the fast path was exercised on them
    assert.ok(fast > 100, `only ${fast} mutated values took the fast path`);
  });
});
