// pid → cgroup memory for short-lived processes, against real processes of this machine: a process seen
// alive is attributed after it exits (exactly for records stamped while it was seen alive), never for
// records older than it, and not forever.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { ProcCache } from '../../src/enrich/proc-cache';
import { Enricher } from '../../src/enrich/enricher';
import { createLogger } from '../../src/log';
import type { EventV1 } from '../../src/event/v1';
import { fakeProc, fakeProcRoot } from '../env/fake-proc';

function bare(pid: number, ppid?: number): EventV1 {
  return { schema: 'auditflow.event/v1', type: 'SECCOMP', kind: 'seccomp', timestamp: '', serial: 1, node: 'n', source: { file: null, format: 'auditd' }, pid, ...(ppid ? { ppid } : {}), comm: null, exe: null, uid: null, gid: null, auid: null, ses: null, container: null, pod: null, enrichment: 'unresolved' };
}

describe('ProcCache and Enricher with real processes', () => {
  it('remembers an exited process for records stamped in its lifetime (exact) and shortly after; not before it, not forever', async () => {
    const cache = new ProcCache({ retainMs: 5000, freshMs: 0 });
    // it lives until the test ends it: a short sleep could be over before a lookup on a loaded machine
    const child = spawn('sleep', ['60']);
    const pid = child.pid!;
    // A stamp from while the process certainly lived: taken before the lookup that saw it alive (one taken
    // after it may lie past what the cache verified when the lookup is slow on a loaded machine), and more than
    // the audit clock's lag before it (a stamp within that lag may be a next holder's).
    const seenAt = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const alive = await cache.lookup(pid, seenAt);
    assert.equal(alive.state, 'alive');
    child.kill();
    await once(child, 'exit');
    await new Promise((r) => setTimeout(r, 50));
    const during = await cache.lookup(pid, seenAt);
    assert.equal(during.state, 'remembered');
    assert.equal(during.state === 'remembered' && during.exact, true);
    const after = await cache.lookup(pid, Date.now() + 1000);
    assert.equal(after.state === 'remembered' && after.exact, false);
    assert.equal((await cache.lookup(pid, Date.now() + 60_000)).state, 'gone', 'not after retainMs');
    assert.equal((await cache.lookup(pid, seenAt - 3_600_000)).state, 'gone', 'a record from before the process started is not its');
  });

  it('a host process is "host"; a process never seen alive is unresolved/process-gone, even with a live host parent', async () => {
    const log = createLogger('test');
    const e = new Enricher({ procs: new ProcCache(), resolver: null, log });
    const child = spawn('true');
    await once(child, 'exit');
    await new Promise((r) => setTimeout(r, 50));
    const host = bare(process.pid);
    const gone = bare(child.pid!);
    const viaParent = bare(child.pid!, process.pid);
    await e.enrich([host, gone, viaParent].map((ev) => ({ ev, timeMs: Date.now() })));
    assert.equal(host.enrichment, 'host', JSON.stringify(host));
    assert.equal(gone.enrichment, 'unresolved');
    assert.match(gone.enrichmentError!, /^process-gone: /);
    // only a parent inside a container vouches for its child: a container's init has a host parent (the shim)
    assert.equal(viaParent.enrichment, 'unresolved');
    const none = bare(0);
    await e.enrich([{ ev: none, timeMs: Date.now() }]);
    assert.match(none.enrichmentError!, /^no-pid: /);
  });

  it('a pid checked alive moments ago is not trusted for a record stamped after that check: /proc is read again', async () => {
    // A fake /proc and clock: pid 4242 checked in container A, then handed to container B's process (a wrap of
    // the pid space, or ns_last_pid written) within the freshness window. B's record must not be A's.
    const root = fakeProcRoot(1000); // boot at 1_000_000 on the clock below
    const A = 'a'.repeat(64);
    const B = 'b'.repeat(64);
    const proc = (startTicks: number, id: string): void => fakeProc(root, 4242, startTicks, `0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-${id}.scope`);
    try {
      let now = 2_000_000;
      proc(50_000, A); // started at 1_500_000
      const cache = new ProcCache({ procRoot: root, freshMs: 1000, now: () => now });
      const first = await cache.lookup(4242, 1_900_000);
      assert.equal(first.state === 'alive' && !first.entry.cgroup.host && first.entry.cgroup.containerId, A);
      now = 2_000_500;
      const reads = cache.stats.procReads;
      const before = await cache.lookup(4242, 1_999_000);
      assert.equal(before.state === 'alive' && !before.entry.cgroup.host && before.entry.cgroup.containerId, A, 'stamped before the check: the checked process');
      assert.equal(cache.stats.procReads, reads, 'and without reading /proc');
      proc(100_020, B); // B started at 2_000_200, after the check
      const after = await cache.lookup(4242, 2_000_300);
      assert.equal(after.state === 'alive' && !after.entry.cgroup.host && after.entry.cgroup.containerId, B, `stamped after the check: ${JSON.stringify(after)}`);
      assert.equal(cache.stats.procReads, reads + 1);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
