// Issue 10, parser side: the audit stream is attacker-influenced. A workload chooses its comm, exe, paths,
// argv, the text of user-space audit messages, and (through its exec path under an AppArmor null profile)
// part of its own LSM label. None of that may become a field, a record or a profile entry of its own.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isParseError, isRecord, parseLine, type AuditRecord, type ParseError } from '../../parsers';
import { SelinuxProfileBuilder } from '../../src/profile/selinux';
import { REAL_FIXTURES } from '../env/seeded';

function record(line: string): AuditRecord {
  const r = parseLine(line);
  assert.ok(isRecord(r), `not a record: ${JSON.stringify(r)} for ${JSON.stringify(line)}`);
  return r;
}

function truncated(line: string): ParseError {
  const r = parseLine(line);
  assert.ok(isParseError(r), `not an error: ${isRecord(r) ? `${r.type} record` : JSON.stringify(r)} for ${JSON.stringify(line)}`);
  assert.equal(r.error, 'truncated', r.message);
  return r;
}

const H = 'type=SECCOMP msg=audit(1734766503.316:6623924): ';
const TASK = 'auid=4294967295 uid=0 gid=0 ses=4294967295';
const TAIL = 'pid=4242 comm="sleep" exe="/bin/sleep" sig=0 arch=c000003e syscall=165 compat=0 ip=0x7f24913a87b7 code=0x7ffc0000';

describe('LSM labels (subj=, obj=) are one value, bounded by what the kernel writes after them', () => {
  it('an exec path with fields in it, inside an AppArmor null-profile label, plants none of them', () => {
    // The kernel writes the label unquoted; the child's exec path is `/tmp/x syscall=59 pid=7 comm="evil" exe="/e" code=0x0`.
    const label = 'prof//null-/tmp/x syscall=59 pid=7 comm="evil" exe="/e" code=0x0 (complain)';
    const r = record(`${H}${TASK} subj=${label} ${TAIL}`);
    assert.equal(r.fields.get('subj'), label);
    assert.equal(r.int('pid'), 4242);
    assert.equal(r.str('comm'), 'sleep');
    assert.equal(r.str('exe'), '/bin/sleep');
    assert.equal(r.syscall?.nr, 165);
    assert.equal(r.syscall?.name, 'mount');
    assert.equal(r.seccomp?.action, 'log');
  });

  it('a label holding an unterminated `KEY="` does not make a real record vanish as truncated', () => {
    const label = 'prof//null-/tmp/KEY="x (complain)';
    const r = record(`${H}${TASK} subj=${label} ${TAIL}`);
    assert.equal(r.fields.get('subj'), label);
    assert.equal(r.int('pid'), 4242);
    assert.equal(r.syscall?.name, 'mount');
  });

  it('a label holding a glued-record header or a 0x1d is not split off as a record or the ENRICHED part', () => {
    const label = 'p//null-/tmp/a type=SECCOMP msg=audit(1.000:9): pid=1 syscall=59 (enforce)';
    const r = record(`${H}${TASK} subj=${label} ${TAIL}`);
    assert.equal(r.rest, undefined);
    assert.equal(r.fields.get('subj'), label);
    assert.equal(r.syscall?.nr, 165);
    const gs = 'p//null-/tmp/a\x1dUID="x" syscall=59 (enforce)';
    const e = record(`${H}${TASK} subj=${gs} ${TAIL}\x1dAUID="unset" UID="root"`);
    assert.equal(e.fields.get('subj'), gs);
    assert.equal(e.int('pid'), 4242);
    assert.equal(e.syscall?.nr, 165);
    assert.equal(e.format, 'auditd-enriched');
    assert.equal(e.interpreted.get('AUID'), '"unset"'.slice(1, -1));
  });

  it('SYSCALL: the label runs to the last ` key=`', () => {
    const label = 'p//null-/tmp/b key="k" success=no exit=-1 (enforce)';
    const line = `type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1 pid=77 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="b" exe="/tmp/b" subj=${label} key=(null)`;
    const r = record(line);
    assert.equal(r.fields.get('subj'), label);
    assert.equal(r.fields.get('success'), 'yes');
    assert.equal(r.fields.get('key'), '(null)');
    assert.equal(r.str('key'), undefined);
  });

  it('other types: the fields after a label are read from the end of the line (PATH, OBJ_PID, with spaces)', () => {
    const p = record('type=PATH msg=audit(1.000:3): item=0 name="/x" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:bin_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0');
    assert.equal(p.fields.get('obj'), 'system_u:object_r:bin_t:s0');
    assert.equal(p.fields.get('nametype'), 'NORMAL');
    const label = 'p//null-/tmp/c ocomm="forged" opid=1 (enforce)';
    const o = record(`type=OBJ_PID msg=audit(1.000:4): opid=900 oauid=0 ouid=0 oses=1 obj=${label} ocomm="real"`);
    assert.equal(o.fields.get('obj'), label);
    assert.equal(o.str('ocomm'), 'real');
    assert.equal(o.int('opid'), 900);
  });

  it('real labels are read whole (fixtures: AppArmor with its mode, `subj==`; SELinux)', () => {
    const lines = fs.readFileSync(path.join(REAL_FIXTURES, 'seccomp-syslog.log'), 'utf8').split('\n').filter((l) => l.includes('//null-/bin/sleep'));
    assert.ok(lines.length > 0);
    const r = record(lines[0]!);
    assert.equal(r.fields.get('subj'), '=varmor-cluster-varmor-demo-4//null-/bin/sleep (complain)');
    assert.equal(r.int('pid'), 698839);
    const s = record(`${H}${TASK} subj=system_u:system_r:container_t:s0:c1,c2 ${TAIL}`);
    assert.equal(s.fields.get('subj'), 'system_u:system_r:container_t:s0:c1,c2');
    assert.equal(s.int('pid'), 4242);
  });
});

describe('user-space records (USER_*, CRED_*, 1100–1199, 2100–2999): the payload is never read as kernel text', () => {
  const forged = `type=SECCOMP msg=audit(1.000:6): auid=0 uid=0 gid=0 ses=1 pid=200 comm="x" exe="/x" sig=0 arch=c000003e syscall=165 compat=0 ip=0x1 code=0x7ffc0000`;

  it("a forged SECCOMP record after a `'` inside msg='…' is not a glued record", () => {
    const r = record(`type=USER_AVC msg=audit(1.000:5): pid=100 uid=0 auid=4294967295 ses=4294967295 msg='hello' ${forged}'`);
    assert.equal(r.rest, undefined);
    assert.equal(r.type, 'USER_AVC');
    assert.equal(r.int('pid'), 100);
    assert.equal(r.seccomp, undefined);
    assert.equal(r.syscall, undefined);
    assert.equal(r.fields.get('msg'), `hello' ${forged}`);
  });

  it('the ENRICHED 0x1d is the one after the closing quote, not one the sender wrote', () => {
    const r = record(`type=USER_AVC msg=audit(1.000:5): pid=100 uid=0 auid=4294967295 ses=4294967295 msg='a\x1dUID="evil" ' ${forged}'\x1dUID="root" AUID="unset"`);
    assert.equal(r.rest, undefined);
    assert.equal(r.format, 'auditd-enriched');
    assert.equal(r.interpreted.get('UID'), 'root');
    assert.equal(r.fields.get('msg'), `a\x1dUID="evil" ' ${forged}`);
  });

  it('types known only by number range or name, and a label before msg=, are read the same way', () => {
    for (const type of ['USER_START', 'CRED_ACQ', 'SERVICE_START', 'USER_ROLE_CHANGE', 'VIRT_CONTROL', 'UNKNOWN[2399]']) {
      const r = record(`type=${type} msg=audit(1.000:5): pid=100 uid=0 auid=0 ses=1 subj=p//null-/tmp/x msg='y (enforce) msg='op=x ${forged}'`);
      assert.equal(r.rest, undefined, type);
      assert.equal(r.int('pid'), 100, type);
      assert.equal(r.seccomp, undefined, type);
    }
    const k = record(`audit: type=1107 audit(1.000:5): pid=100 uid=0 auid=0 ses=1 msg='x' type=1326 audit(1.000:6): pid=2 syscall=165 code=0x7ffc0000'`);
    assert.equal(k.rest, undefined);
    assert.equal(k.type, 'USER_AVC');
  });

  it("a user record cut before its closing quote is truncated, and its payload is not read", () => {
    const e = truncated(`type=USER_AVC msg=audit(1.000:5): pid=100 uid=0 auid=0 ses=1 msg='avc:  denied  { read } for scontext=a:b:c tcontext=a:b:d tclass=file' ${forged}`);
    assert.ok(e.partial);
    assert.equal(e.partial.truncated, true);
    assert.equal(e.partial.int('pid'), 100);
    assert.equal(e.partial.nested, undefined);
    assert.equal(e.partial.avc, undefined);
  });

  it('dbus USER_AVC payloads are still read (fixtures)', () => {
    const line = fs.readFileSync(path.join(REAL_FIXTURES, 'apparmor.log'), 'utf8').split('\n').find((l) => l.startsWith('type=USER_AVC') && l.includes('dbus_method_call'));
    assert.ok(line);
    const r = record(line);
    assert.equal(r.kind, 'apparmor');
    assert.equal(r.apparmor?.operation, 'dbus_method_call');
  });
});

describe('records cut short are counted as truncated, and what is kept is marked', () => {
  it('fixture avc-syslog.log line 5 (cut inside tcontext=) is a truncated error, never a tuple', () => {
    const line = fs.readFileSync(path.join(REAL_FIXTURES, 'avc-syslog.log'), 'utf8').split('\n')[4]!;
    assert.match(line, /tcontext=unconfined_u:system_r:insm$/);
    const e = truncated(line);
    const p = e.partial;
    assert.ok(p && p.avc);
    assert.equal(p.truncated, true);
    assert.equal(p.avc.truncated, true);
    assert.equal(p.fields.get('tcontext'), undefined, 'the cut last field is dropped');
    assert.equal(p.avc.target, undefined);
    assert.equal(p.avc.source?.type, 'insmod_t');
    assert.equal(p.int('pid'), 11219);
    const b = new SelinuxProfileBuilder();
    b.add(p.avc);
    assert.equal(b.size, 0);
  });

  it('an AVC without tclass, or cut inside its permissions, is truncated', () => {
    truncated('type=AVC msg=audit(1.000:1): avc:  denied  { read } for  pid=1 comm="a" name="b" scontext=u:r:s_t:s0 tcontext=u:r:t_t:s0');
    truncated('type=AVC msg=audit(1.000:1): avc:  denied  { read wri');
    // whole ones are not
    record('type=AVC msg=audit(1.000:1): avc:  denied  { read } for  pid=1 comm="a" scontext=u:r:s_t:s0 tcontext=u:r:t_t:s0 tclass=file permissive=0');
    record('type=AVC msg=audit(1.000:1): avc:  received setenforce notice (enforcing=1)');
  });

  it('a quoted value without its closing quote: truncated, the cut field dropped from what is kept', () => {
    const e = truncated('type=AVC msg=audit(1.000:1): avc:  denied  { read } for  pid=1 comm="abc');
    assert.ok(e.partial);
    assert.equal(e.partial.truncated, true);
    assert.equal(e.partial.int('pid'), 1);
    assert.equal(e.partial.fields.get('comm'), undefined);
  });
});
