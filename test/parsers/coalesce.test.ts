import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coalescer, isRecord, parseLine, type AuditEvent, type AuditRecord } from '../../parsers';

const r = (line: string): AuditRecord => {
  const x = parseLine(line);
  assert.ok(isRecord(x), line);
  return x;
};
const syscall = (serial: number) => r(`type=SYSCALL msg=audit(1492037291.036:${serial}): arch=c000003e syscall=59 success=yes exit=0 pid=13393 comm="grep"`);
const cwd = (serial: number) => r(`type=CWD msg=audit(1492037291.036:${serial}):  cwd="/home/x"`);
const eoe = (serial: number) => r(`type=EOE msg=audit(1492037291.036:${serial}): `);
const seccomp = (serial: number) => r(`type=SECCOMP msg=audit(1492037291.036:${serial}): pid=1 comm="sh" exe="/bin/sh" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x7ffc0000`);

function collect(opts = {}): { c: Coalescer; out: AuditEvent[] } {
  const out: AuditEvent[] = [];
  return { c: new Coalescer((e) => out.push(e), opts), out };
}

describe('Coalescer', () => {
  it('groups records of one audit(ts:serial) and emits on EOE', () => {
    const { c, out } = collect();
    c.push(syscall(59));
    c.push(cwd(59));
    assert.equal(out.length, 0, 'nothing before EOE');
    c.push(eoe(59));
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.records.map((x) => x.type), ['SYSCALL', 'CWD']);
    assert.equal(out[0]!.serial, 59);
  });

  it('passStandalone lets a caller emit SECCOMP itself, with the events in the order push() gives', () => {
    // A stream where open events expire around the SECCOMP records (grace 3), pushed vs passed.
    const stream = [syscall(70), seccomp(71), cwd(72), seccomp(73), seccomp(74), seccomp(75), syscall(76), seccomp(77), eoe(76), seccomp(78)];
    const pushed = collect({ graceRecords: 3 });
    for (const x of stream) pushed.c.push(x);
    pushed.c.flush();
    const passed = collect({ graceRecords: 3 });
    for (const x of stream) {
      if (x.type === 'SECCOMP' && passed.c.passStandalone(x.type)) passed.out.push({ timeMs: x.timeMs, serial: x.serial, records: [x] });
      else passed.c.push(x);
    }
    passed.c.flush();
    assert.deepEqual(passed.out.map((e) => e.serial), pushed.out.map((e) => e.serial));
    assert.equal(collect({ standalone: new Set(['AVC']) }).c.passStandalone('SECCOMP'), false, 'not standalone there: push it');
  });

  it('emits SECCOMP at once, without disturbing open events', () => {
    const { c, out } = collect();
    c.push(syscall(60));
    c.push(seccomp(61));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.records[0]!.type, 'SECCOMP');
    c.push(cwd(60));
    c.push(eoe(60));
    assert.deepEqual(out[1]!.records.map((x) => x.type), ['SYSCALL', 'CWD']);
  });

  it('interleaved events stay apart', () => {
    const { c, out } = collect();
    c.push(syscall(1));
    c.push(syscall(2));
    c.push(cwd(1));
    c.push(cwd(2));
    c.push(eoe(2));
    c.push(eoe(1));
    assert.deepEqual(out.map((e) => [e.serial, e.records.length]), [[2, 2], [1, 2]]);
  });

  it('without EOE, an event is complete after the grace window of newer records', () => {
    const { c, out } = collect({ graceRecords: 3 });
    c.push(syscall(10));
    c.push(cwd(10));
    c.push(syscall(11));
    c.push(syscall(12));
    assert.equal(out.length, 0, 'still inside the grace window');
    c.push(syscall(13));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.serial, 10);
    assert.equal(out[0]!.records.length, 2);
  });

  it('SECCOMP records count toward the grace window: an open event leaves right before the record that ends it, pushed or passed', () => {
    // grace 3: syscall 10 (its last record 1st), then SECCOMP; the 3rd newer record ends its window. Then an
    // event touched again (cwd 20) has its window counted from the touch; and one completed by EOE
    // (serial 30) while another (31) stays open must not delay the latter.
    const stream = [syscall(10), seccomp(11), seccomp(12), seccomp(13), syscall(20), seccomp(21), cwd(20), seccomp(22), seccomp(23), seccomp(24)];
    stream.push(syscall(30), syscall(31), eoe(30), seccomp(32), seccomp(33), seccomp(34));
    const expected = [11, 12, 10, 13, 21, 22, 23, 20, 24, 30, 32, 31, 33, 34];
    const pushed = collect({ graceRecords: 3 });
    for (const x of stream) pushed.c.push(x);
    assert.deepEqual(pushed.out.map((e) => e.serial), expected, 'pushed');
    const passed = collect({ graceRecords: 3 });
    for (const x of stream) {
      if (x.type === 'SECCOMP' && passed.c.passStandalone(x.type)) passed.out.push({ timeMs: x.timeMs, serial: x.serial, records: [x] });
      else passed.c.push(x);
    }
    assert.deepEqual(passed.out.map((e) => e.serial), expected, 'passed');
  });

  it('flush emits everything left (end of input), nothing is lost', () => {
    const { c, out } = collect();
    for (let s = 1; s <= 5; s++) c.push(syscall(s));
    c.flush();
    assert.deepEqual(out.map((e) => e.serial), [1, 2, 3, 4, 5]);
    assert.equal(c.pendingCount, 0);
  });

  it('bounds the number of open events', () => {
    const { c, out } = collect({ maxPending: 4, graceRecords: 1000 });
    for (let s = 1; s <= 10; s++) c.push(syscall(s));
    assert.ok(c.pendingCount <= 4);
    assert.deepEqual(out.map((e) => e.serial), [1, 2, 3, 4, 5, 6]);
  });

  it('the same serial at another time is another event', () => {
    const { c, out } = collect();
    c.push(r('type=SYSCALL msg=audit(1.000:7): arch=c000003e syscall=1 pid=1'));
    c.push(r('type=SYSCALL msg=audit(2.000:7): arch=c000003e syscall=1 pid=2'));
    c.flush();
    assert.equal(out.length, 2);
  });
});
