import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRecord, parseLine } from '../../parsers';
import { formatTimestamp } from '../../src/event/timestamp';
import { eventFromRecord } from '../../src/event/v1';

describe('event schema v1', () => {
  it('timestamps equal Date#toISOString, across the per-second cache', () => {
    let ms = 1795461281000;
    for (let i = 0; i < 5000; i++) {
      ms += [0, 1, 7, 999, 1000, 86_399_999][i % 6]!;
      assert.equal(formatTimestamp(ms), new Date(ms).toISOString());
      assert.equal(formatTimestamp(ms - 1), new Date(ms - 1).toISOString());
    }
    for (const t of [0, 1, 999, 1000, 219648, 253402300799999]) assert.equal(formatTimestamp(t), new Date(t).toISOString());
  });

  it('a SECCOMP record carries the contract fields, without raw field dumps', () => {
    const r = parseLine('type=SECCOMP msg=audit(1795368920.417:1014145): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=26925 comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=12 compat=0 ip=0x49641b code=0x7ffc0000\x1dAUID="unset" UID="root" GID="root" ARCH=x86_64 SYSCALL=unknown-syscall(-1)');
    assert.ok(isRecord(r));
    const ev = eventFromRecord(r, { node: 'n1', file: '/var/log/audit/audit.log', raw: false });
    assert.deepEqual(ev, {
      schema: 'auditflow.event/v1', type: 'SECCOMP', kind: 'seccomp', timestamp: '2026-11-22T17:35:20.417Z', serial: 1014145,
      node: 'n1', source: { file: '/var/log/audit/audit.log', format: 'auditd-enriched' },
      pid: 26925, comm: 'sh', exe: '/bin/busybox', uid: 0, gid: 0, auid: 4294967295, ses: 4294967295,
      arch: 'x86_64', syscall: 'brk', syscallNr: 12, action: 'log', actionData: 0,
      container: null, pod: null, enrichment: 'unresolved',
    });
  });

  it('other records keep all their fields and the interpreted ones', () => {
    const r = parseLine('type=SYSCALL msg=audit(1640024915.264:4237): arch=c000003e syscall=159 success=yes exit=0 pid=820 uid=995 comm="chronyd" exe="/usr/sbin/chronyd" key=(null)\x1dARCH=x86_64 SYSCALL=adjtimex UID="chrony"');
    assert.ok(isRecord(r));
    const ev = eventFromRecord(r, { node: 'n1', file: null, raw: true });
    assert.equal(ev.fields?.success, 'yes');
    assert.equal(ev.fields?.key, null);
    assert.equal(ev.interpreted?.UID, 'chrony');
    assert.equal(ev.syscall, 'adjtimex');
    assert.equal(ev.raw, r.line);
  });
});
