// The task table's time windows (pid reuse can never hand a record to an old container) and the decoding of
// containerd's task events from their protobuf bytes, hostile ones included. No services needed.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerTasks } from '../../src/enrich/container-tasks';
import { decodeTaskEvent } from '../../src/enrich/containerd-events';
import { CriError, type CriClient } from '../../src/enrich/cri/client';
import { Enricher, type EnrichItem } from '../../src/enrich/enricher';
import { ProcCache } from '../../src/enrich/proc-cache';
import { createLogger } from '../../src/log';
import { CREATE_BOUND_MS, TaskTable } from '../../src/enrich/task-table';
import { fakeProc, fakeProcRoot } from '../env/fake-proc';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

describe('TaskTable', () => {
  it('attributes a pid inside its task window only, exited or not', () => {
    const t = new TaskTable({ now: () => 100_000 });
    t.started(A, 42, 10_000, true);
    assert.equal(t.lookup(42, 10_000)?.containerId, A);
    assert.equal(t.lookup(42, 9_960)?.containerId, A, 'start-time precision slack');
    assert.equal(t.lookup(42, 9_000), null, 'before the process started');
    assert.equal(t.lookup(42, 50_000)?.containerId, A, 'running: open window');
    t.exited(A, 42, 12_000);
    assert.equal(t.lookup(42, 12_000)?.containerId, A);
    assert.equal(t.lookup(42, 12_001), null, 'after its exit: never, whoever holds the pid now');
    assert.equal(t.lookup(43, 11_000), null);
    assert.equal(t.tombstones, 1);
  });

  it('a pid reused by another task: each record goes to the holder of its time, never the other', () => {
    const t = new TaskTable({ now: () => 100_000 });
    t.started(A, 42, 10_000, true);
    t.exited(A, 42, 12_000);
    t.started(B, 42, 12_030, true); // reused 30 ms later: within A's slack, but after A's exit
    assert.equal(t.lookup(42, 11_999)?.containerId, A);
    assert.equal(t.lookup(42, 12_000)?.containerId, A);
    // B's start slack (50 ms) reaches back only to just after A's exit, never over it
    assert.equal(t.lookup(42, 12_001)?.containerId, B);
    assert.equal(t.lookup(42, 12_030)?.containerId, B);
    assert.equal(t.stats.ambiguous, 0);
  });

  it('a new task for a pid closes the old window whose exit was missed', () => {
    const t = new TaskTable({ now: () => 100_000 });
    t.started(A, 42, 10_000, true);
    t.started(B, 42, 20_000, true); // A's TaskExit lost
    assert.equal(t.lookup(42, 15_000)?.containerId, A);
    assert.equal(t.lookup(42, 25_000)?.containerId, B, 'not A: A had exited before B got the pid');
    assert.equal(t.stats.superseded, 1);
  });

  it('an inexact start (process gone at the create event) never reaches back past the previous holder', () => {
    const t = new TaskTable({ now: () => 100_000 });
    t.started(A, 42, 10_000, true);
    t.exited(A, 42, 12_000);
    // B's create event at 13 000 found the process gone: it started at most CREATE_BOUND_MS before
    t.started(B, 42, 13_000 - CREATE_BOUND_MS, false);
    assert.equal(t.lookup(42, 11_000)?.containerId, A);
    assert.equal(t.lookup(42, 12_500)?.containerId, B);
    assert.equal(t.lookup(42, 12_000)?.containerId, A);
  });

  it('create then start of the same task keep one entry; an exact start replaces an inexact one', () => {
    const t = new TaskTable({ now: () => 100_000 });
    t.started(A, 42, 5_000, false);
    t.started(A, 42, 9_990, true);
    assert.equal(t.size, 1);
    assert.equal(t.lookup(42, 6_000), null, 'the exact start time wins');
    assert.equal(t.lookup(42, 9_990)?.exact, true);
  });

  it('overlapping windows of two containers answer nothing (ambiguous is never a guess)', () => {
    const t = new TaskTable({ now: () => 100_000 });
    t.started(A, 42, 10_000, true);
    t.exited(A, 42, 20_000);
    t.started(C, 42, 30_000, true);
    // a late exit event for A that contradicts C's start
    t.exited(C, 42, 40_000);
    assert.equal(t.lookup(42, 35_000)?.containerId, C);
    assert.equal(t.lookup(42, 25_000), null);
  });

  it('tombstones are dropped after the retention, and beyond the bound the oldest go first', () => {
    let now = 0;
    const t = new TaskTable({ now: () => now, retainMs: 1000, maxEntries: 10 });
    for (let pid = 1; pid <= 10; pid++) {
      t.started(A, pid, pid * 10, true);
      t.exited(A, pid, pid * 10 + 5);
    }
    t.started(B, 100, 200, true); // 11 entries: the oldest exited ones make room
    assert.ok(t.size <= 10, `bounded: ${t.size}`);
    assert.equal(t.lookup(1, 10), null, 'the oldest tombstone went first');
    assert.equal(t.lookup(100, 300)?.containerId, B, 'a running task is kept');
    now = 10_000;
    t.prune();
    assert.equal(t.tombstones, 0);
    assert.equal(t.lookup(100, 300)?.containerId, B);
  });
});

// ---- protobuf encoding for the decoder tests (varints and length-delimited fields only)
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
function msg(...fields: [number, number | string | Uint8Array][]): Uint8Array {
  const out: number[] = [];
  for (const [no, v] of fields) {
    if (typeof v === 'number') out.push(...varint(no * 8), ...varint(v));
    else {
      const b = typeof v === 'string' ? Buffer.from(v) : v;
      out.push(...varint(no * 8 + 2), ...varint(b.length), ...b);
    }
  }
  return Uint8Array.from(out);
}

describe('decodeTaskEvent', () => {
  it('decodes TaskCreate, TaskStart, TaskExecStarted, TaskExit and TaskDelete', () => {
    assert.deepEqual(decodeTaskEvent('containerd.events.TaskCreate', msg([1, A], [2, '/run/bundle'], [6, 4242]), 7), { kind: 'create', containerId: A, pid: 4242, atMs: 7 });
    assert.deepEqual(decodeTaskEvent('types.containerd.io/containerd.events.TaskStart', msg([1, A], [2, 4242]), 7), { kind: 'start', containerId: A, pid: 4242, atMs: 7 });
    assert.deepEqual(decodeTaskEvent('containerd.events.TaskExecStarted', msg([1, A], [2, 'probe'], [3, 5000]), 7), { kind: 'exec', containerId: A, pid: 5000, atMs: 7 });
    const ts = msg([1, 1_700_000_000], [2, 123_456_789]);
    assert.deepEqual(decodeTaskEvent('containerd.events.TaskExit', msg([1, A], [2, A], [3, 4242], [4, 1], [5, ts]), 7), {
      kind: 'exit', containerId: A, execId: A, pid: 4242, exitedAtMs: 1_700_000_000_123, atMs: 7,
    });
    assert.deepEqual(decodeTaskEvent('containerd.events.TaskDelete', msg([1, A], [2, 4242], [3, 0], [4, ts], [5, '']), 7), {
      kind: 'delete', containerId: A, pid: 4242, exitedAtMs: 1_700_000_000_123, execId: '', atMs: 7,
    });
  });

  it('ignores other events and tasks that name no CRI container or no pid', () => {
    assert.equal(decodeTaskEvent('containerd.events.TaskOOM', msg([1, A]), 7), null);
    assert.equal(decodeTaskEvent('containerd.events.TaskStart', msg([1, 'my-ctr-task'], [2, 10]), 7), null, 'not a 64-hex id (ctr run in k8s.io)');
    assert.equal(decodeTaskEvent('containerd.events.TaskStart', msg([1, A]), 7), null, 'no pid');
  });

  it('hostile bytes throw (counted and skipped by the stream), never hang or invent an event', () => {
    const good = msg([1, A], [2, 4242]);
    for (let cut = 1; cut < good.length; cut++) {
      try {
        const ev = decodeTaskEvent('containerd.events.TaskStart', good.subarray(0, cut), 7);
        assert.equal(ev, null, `a cut at ${cut} decoded to an event`);
      } catch (err) {
        assert.match((err as Error).message, /truncated|varint|wire type/);
      }
    }
    assert.throws(() => decodeTaskEvent('containerd.events.TaskStart', Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 7), /truncated/);
    assert.throws(() => decodeTaskEvent('containerd.events.TaskStart', Uint8Array.from([0x0b]), 7), /wire type/);
  });
});

describe('Enricher with the task table: /proc memory never outlives a task the runtime saw exit', () => {
  it('a pid last seen in container A, reused after A exited: its later records are not A\'s; A\'s own records still are', async () => {
    // a fake /proc: pid 4242 in container A (kubelet's cgroupfs layout), with a start time
    const root = fakeProcRoot();
    try {
      fakeProc(root, 4242, 50_000, `1:cpu:/kubepods/besteffort/pod0b2c9a34-1111-4222-8333-444455556666/${A}`); // 500 s after boot
      const procs = new ProcCache({ procRoot: root, freshMs: 0 });
      const now = Date.now();
      const seen = await procs.lookup(4242, now);
      assert.equal(seen.state, 'alive');
      const table = new TaskTable();
      table.started(A, 4242, seen.state === 'alive' ? seen.entry.startMs : 0, true);
      table.exited(A, 4242, now + 100);
      fs.rmSync(path.join(root, '4242'), { recursive: true });
      const e = new Enricher({ procs, resolver: null, tasks: { table, streaming: () => true }, log: createLogger('test') });
      const ev = (timeMs: number): EnrichItem => ({
        ev: { schema: 'auditflow.event/v1', type: 'SECCOMP', kind: 'seccomp', timestamp: '', serial: 1, node: 'n', source: { file: null, format: 'auditd' }, pid: 4242, comm: null, exe: null, uid: null, gid: null, auid: null, ses: null, container: null, pod: null, enrichment: 'unresolved' },
        timeMs,
      });
      const mine = ev(now + 50);
      const reused = ev(now + 2000); // within /proc memory's 60 s guess, after A's exit
      await e.enrich([mine, reused]);
      assert.equal(mine.ev.container?.id, A, 'a record inside A\'s life is A\'s');
      assert.equal(reused.ev.container, null, `a record after A's exit is not A's: ${JSON.stringify(reused.ev.container)}`);
      assert.equal(reused.ev.enrichment, 'unresolved');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("an open window whose process is gone is confirmed with the runtime first: a reused pid is not the old container's while its stop event is on its way", async () => {
    // Container A's init (pid 4242) ran and exited; CRI says so (finishedAt), but its stop event has not reached
    // the table. Container B's process then took the pid and died. The CRI answers are a stub (a CriClient of
    // real runtimes is exercised by cri-container-events.test.ts, which races the same thing for real).
    const root = fakeProcRoot(); // no pid 4242: gone when read
    try {
      const now = Date.now();
      const finishedAt = now - 2000;
      let calls = 0;
      const state = { s: 'CONTAINER_EXITED' as string };
      const cri = {
        containerStatus: async (id: string) => {
          calls++;
          await new Promise((r) => setTimeout(r, 20));
          if (state.s === 'gone') throw new CriError('not-found', 'ContainerStatus', 'stub', 'no such container');
          if (state.s === 'dead') throw new CriError('unavailable', 'ContainerStatus', 'stub', 'connect ENOENT');
          return { id, state: state.s, finishedAt: state.s === 'CONTAINER_EXITED' ? BigInt(finishedAt) * 1_000_000n : 0n } as never;
        },
      } as unknown as Pick<CriClient, 'containerStatus'>;
      const procs = new ProcCache({ procRoot: root });
      const tasks = new ContainerTasks({ socketPath: path.join(root, 'no.sock'), procs, cri, resolver: null, log: createLogger('test') });
      tasks.table.started(A, 4242, now - 5000, true);
      const e = new Enricher({ procs, resolver: null, tasks: { table: tasks.table, streaming: () => true, confirmExit: (id, pid) => tasks.confirmExit(id, pid) }, log: createLogger('test') });
      const item = (timeMs: number): EnrichItem => ({
        ev: { schema: 'auditflow.event/v1', type: 'SECCOMP', kind: 'seccomp', timestamp: '', serial: 1, node: 'n', source: { file: null, format: 'auditd' }, pid: 4242, comm: null, exe: null, uid: null, gid: null, auid: null, ses: null, container: null, pod: null, enrichment: 'unresolved' },
        timeMs,
      });
      const mine = item(finishedAt - 100);
      const reused = item(now - 500);
      const reused2 = item(now - 400);
      await e.enrich([mine, reused, reused2]);
      assert.equal(mine.ev.container?.id, A, "a record inside A's life is still A's");
      assert.equal(reused.ev.container, null, `a record after A's exit (CRI's finishedAt) is not A's: ${JSON.stringify(reused.ev.container)}`);
      assert.equal(reused.ev.enrichment, 'unresolved');
      assert.equal(calls, 1, 'one CRI call for the records that asked at once');
      assert.equal(tasks.table.lookup(4242, now - 500), null, "the window is closed at A's finishedAt");

      // a container CRI reports running keeps its open window (an exec'd process's exit only containerd tells),
      // and is not asked about again right away
      tasks.table.started(B, 4343, now - 5000, true);
      state.s = 'CONTAINER_RUNNING';
      const inB = { ...item(now - 300), ev: { ...item(0).ev, pid: 4343 } };
      const inB2 = { ...item(now - 200), ev: { ...item(0).ev, pid: 4343 } };
      await e.enrich([inB]);
      await e.enrich([inB2]);
      assert.equal(inB.ev.container?.id, B);
      assert.equal(inB2.ev.container?.id, B);
      assert.equal(calls, 2, 'a running answer stands for a while');

      // a container CRI no longer knows (a pod sandbox's id, too), or a runtime that does not answer: the window is
      // kept as the event stream leaves it, and the runtime is not asked per batch
      for (const [i, s] of (['gone', 'dead'] as const).entries()) {
        const C2 = String(i + 1).repeat(64);
        tasks.table.started(C2, 4400 + i, now - 5000, true);
        state.s = s;
        const r1 = { ...item(now - 300), ev: { ...item(0).ev, pid: 4400 + i } };
        const r2 = { ...item(now - 200), ev: { ...item(0).ev, pid: 4400 + i } };
        await e.enrich([r1]);
        await e.enrich([r2]);
        assert.equal(r1.ev.container?.id, C2, s);
        assert.equal(calls, 3 + i, `${s}: asked once`);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
