// Issue 10: the number of records under one audit(TIME:SERIAL) stamp is attacker-influenced (a forged or
// looping source writes a million records and no EOE). The coalescer holds at most maxRecordsPerEvent
// records and maxBytesPerEvent bytes for one event, counts what did not fit, and still hands every record
// out exactly once (the pipeline acks a batch only when all its records have left the coalescer).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coalescer, isRecord, parseLine, type AuditEvent, type AuditRecord, type CoalesceOverflow } from '../../parsers';
import { eventFromAuditEvent } from '../../src/event/v1';

function rec(line: string): AuditRecord {
  const r = parseLine(line);
  assert.ok(isRecord(r), line);
  return r;
}

/** Distinct PATH records of one stamp, cycled (parsing a million lines would only measure the parser). */
function pathRecords(stamp: string, n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(rec(`type=PATH msg=audit(${stamp}): item=${i} name="/tmp/f${i}" inode=${i} dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`));
  }
  return out;
}

describe('coalescer: bounded memory per event', () => {
  it('a million records under one stamp and no EOE: at most 512 records / 1 MiB held, every record emitted once, the excess counted', () => {
    const N = 1_000_000;
    const templates = pathRecords('1700000000.000:77', 1000);
    const events: AuditEvent[] = [];
    let emittedRecords = 0;
    let maxEventRecords = 0;
    const overflows: CoalesceOverflow[] = [];
    const c = new Coalescer(
      (e) => {
        emittedRecords += e.records.length;
        maxEventRecords = Math.max(maxEventRecords, e.records.length);
        if (events.length < 3) events.push(e);
      },
      { onOverflow: (o) => overflows.push(o) },
    );
    let maxHeldRecords = 0;
    let maxHeldBytes = 0;
    for (let i = 0; i < N; i++) {
      c.push(templates[i % templates.length]!);
      if ((i & 1023) === 0 || i === N - 1) {
        maxHeldRecords = Math.max(maxHeldRecords, c.pendingRecords);
        maxHeldBytes = Math.max(maxHeldBytes, c.pendingBytes);
      }
    }
    assert.ok(maxHeldRecords <= 512, `held ${maxHeldRecords} records of one event`);
    assert.ok(maxHeldBytes <= 1024 * 1024, `held ${maxHeldBytes} bytes of one event`);
    assert.ok(maxEventRecords <= 512, `emitted an event of ${maxEventRecords} records`);
    c.flush();
    assert.equal(c.pendingRecords, 0);
    assert.equal(c.pendingBytes, 0);
    assert.equal(emittedRecords, N, 'every record leaves the coalescer exactly once');
    assert.equal(c.stats.overflowRecords, N - 512);
    assert.equal(c.stats.overflowEvents, Math.floor((N - 1) / 512));
    assert.equal(overflows.length, c.stats.overflowEvents);
    assert.deepEqual(overflows[0], { timeMs: 1700000000000, serial: 77, limit: 'records', records: 512, bytes: overflows[0]!.bytes });
    assert.equal(events[0]!.records.length, 512);
    assert.equal(events[0]!.overflow, true);
    assert.equal(events[1]!.overflow, true);
    // downstream, such an event says it is not whole
    assert.equal(eventFromAuditEvent(events[0]!, { node: 'n', file: null, raw: false }).truncated, true);
  });

  it('the byte cap: long records are cut at maxBytesPerEvent; small events are untouched', () => {
    const big = 'a'.repeat(60_000);
    const long = rec(`type=EXECVE msg=audit(1700000000.000:78): argc=1 a0="${big}"`);
    const got: AuditEvent[] = [];
    const c = new Coalescer((e) => got.push(e), { maxBytesPerEvent: 1024 * 1024 });
    for (let i = 0; i < 100; i++) c.push(long);
    assert.ok(c.pendingBytes <= 1024 * 1024, String(c.pendingBytes));
    c.flush();
    assert.equal(got.reduce((n, e) => n + e.records.length, 0), 100);
    assert.ok(got.every((e) => e.records.reduce((n, r) => n + r.line.length, 0) <= 1024 * 1024));
    assert.ok(got.length >= 6 && got.every((e) => e.overflow === true));

    const small: AuditEvent[] = [];
    const d = new Coalescer((e) => small.push(e));
    for (const r of pathRecords('1700000000.000:79', 5)) d.push(r);
    d.push(rec('type=EOE msg=audit(1700000000.000:79): '));
    assert.equal(small.length, 1);
    assert.equal(small[0]!.records.length, 5);
    assert.equal(small[0]!.overflow, undefined);
    assert.equal(d.stats.overflowRecords, 0);
  });

  it('many open events are bounded in bytes too (oldest emitted first)', () => {
    const got: AuditEvent[] = [];
    const c = new Coalescer((e) => got.push(e), { maxPendingBytes: 64 * 1024, graceRecords: 1_000_000, maxPending: 1_000_000 });
    for (let s = 0; s < 2000; s++) c.push(pathRecords(`1700000001.000:${s}`, 1)[0]!);
    assert.ok(c.pendingBytes <= 64 * 1024, String(c.pendingBytes));
    assert.ok(got.length > 0);
    assert.equal(got[0]!.serial, 0);
  });
});
