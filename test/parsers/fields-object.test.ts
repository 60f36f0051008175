// Fields.toObject (the `fields` of schema-v1 events): only auditd's untrusted-string fields are hex-decoded.
// A number made of hex digits (`ppid=6894`, `a0=7ffe`) once came out as mojibake ("h\u0094"), which also hid
// SYSCALL records' parents from the process lineage of src/enrich/lineage.ts.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { isRecord, parseLine } from '../../parsers';

test('toObject keeps numbers and hex-looking non-string fields as written, and decodes encoded strings', () => {
  const line =
    'type=SYSCALL msg=audit(1795467272.388:2967945): arch=c000003e syscall=231 a0=0 a1=e7 a2=3c a3=7ffe items=0 ' +
    'ppid=6894 pid=20137 auid=4294967295 uid=0 tty=(none) ses=4294967295 comm=6D79206A6F62 exe="/bin/busybox" key="auditflow-fork"';
  const r = parseLine(line);
  assert.ok(isRecord(r));
  const f = r.fields.toObject();
  assert.equal(f['ppid'], '6894');
  assert.equal(f['a3'], '7ffe');
  assert.equal(f['a1'], 'e7');
  assert.equal(f['arch'], 'c000003e');
  assert.equal(f['tty'], null);
  assert.equal(f['comm'], 'my job', 'comm is an untrusted string: hex-decoded');
  assert.equal(f['exe'], '/bin/busybox');
  assert.equal(f['key'], 'auditflow-fork');
});
