// Record-level parsing, each case on a real line from fixtures/real (SOURCES.md) unless it says otherwise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNonAudit, isParseError, isRecord, parseLine, type AuditRecord } from '../../parsers';

function rec(line: string): AuditRecord {
  const r = parseLine(line, { year: 2024 });
  assert.ok(isRecord(r), `expected a record, got ${JSON.stringify(r)}`);
  return r;
}

describe('header forms', () => {
  it('auditd raw: type=NAME msg=audit(SEC.MS:SERIAL):', () => {
    const r = rec('type=SECCOMP msg=audit(1740670474.406:2766278): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=6412 comm="chmod" exe="/usr/bin/chmod" sig=0 arch=c000003e syscall=268 compat=0 ip=0x7f5c0fae83c7 code=0x7ffc0000');
    assert.equal(r.format, 'auditd');
    assert.equal(r.type, 'SECCOMP');
    assert.equal(r.typeNr, 1326);
    assert.equal(r.timeMs, 1740670474406);
    assert.equal(r.serial, 2766278);
    assert.equal(r.host, undefined);
  });

  it('auditd ENRICHED: interpreted fields after 0x1d, syscall number from the raw field', () => {
    // Real record written by this VM's kernel + auditd (cri-recipe.md §3): SYSCALL= reads unknown-syscall(-1).
    const r = rec('type=SECCOMP msg=audit(1795368920.417:1014145): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=26925 comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=12 compat=0 ip=0x49641b code=0x7ffc0000\x1dAUID="unset" UID="root" GID="root" ARCH=x86_64 SYSCALL=unknown-syscall(-1)');
    assert.equal(r.format, 'auditd-enriched');
    assert.equal(r.syscall?.nr, 12);
    assert.equal(r.syscall?.name, 'brk');
    assert.equal(r.syscall?.arch, 'x86_64');
    assert.equal(r.interpreted.get('SYSCALL'), 'unknown-syscall(-1)');
    assert.equal(r.interpreted.str('UID'), 'root');
    assert.equal(r.fields.get('SYSCALL'), undefined, 'interpreted fields are not raw fields');
  });

  it('kernel form in RFC 3164 syslog with [uptime]', () => {
    const r = rec('Jul  8 10:31:23 ubuntu2004 kernel: [  270.853767] audit: type=1326 audit(1625740283.502:574): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=4709 comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=13 compat=0 ip=0x7f3c012e467b code=0x7ffc0000');
    assert.equal(r.format, 'syslog');
    assert.equal(r.type, 'SECCOMP');
    assert.equal(r.host, 'ubuntu2004');
    assert.equal(r.timeMs, 1625740283502);
    assert.equal(r.serial, 574);
    assert.equal(r.syscall?.name, 'rt_sigaction');
  });

  it('kernel form in RFC 3339 syslog (rsyslog)', () => {
    const r = rec('2026-05-26T19:47:43.396634-04:00 philippe-OMEN-25L kernel: audit: type=1400 audit(1779839263.395:472): apparmor="DENIED" operation="change_onexec" class="file" info="label not found" error=-2 profile="/usr/lib/snapd/snap-confine" name="snap.firefox.firefox" pid=6209 comm="snap-confine" requested_mask="x" denied_mask="x" fsuid=1000 ouid=0');
    assert.equal(r.format, 'syslog');
    assert.equal(r.host, 'philippe-OMEN-25L');
    assert.equal(r.kind, 'apparmor');
    assert.equal(r.apparmor?.apparmor, 'DENIED');
    assert.equal(r.apparmor?.operation, 'change_onexec');
  });

  it('syslog with <PRI> and [uptime][Tn] prefixes', () => {
    const r = rec('<5>Jan 15 16:27:18 n37-031-068 kernel: [22734288.221628][   T55] audit: type=1326 audit(1705307237.424:9332888): auid=4294967295 uid=0 gid=0 ses=4294967295 subj==unconfined pid=2684228 comm="runc:[2:INIT]" exe="/" sig=0 arch=c000003e syscall=0 compat=0 ip=0x55d3f1f35a2e code=0x7ffc0000');
    assert.equal(r.format, 'syslog');
    assert.equal(r.serial, 9332888);
    assert.equal(r.str('comm'), 'runc:[2:INIT]');
  });

  it('dmesg/kmsg form and bare kernel form', () => {
    const a = rec('[ 1993.814333][   T30] audit: type=1400 audit(1782744483.667:789): avc:  denied  { write } for  pid=29603 comm="rm" name="hook-state" dev="tmpfs" ino=1776 scontext=system_u:system_r:dhcpc_t tcontext=system_u:object_r:tmpfs_t tclass=dir permissive=1');
    assert.equal(a.format, 'kmsg');
    assert.equal(a.type, 'AVC');
    const b = rec('audit: type=1326 audit(1611996299.149:466250): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=615549 comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=1 compat=0 ip=0x7f61a81c5923 code=0x7ffc0000');
    assert.equal(b.format, 'kmsg');
    assert.equal(b.syscall?.name, 'write');
  });

  it('journald form has no audit() stamp: time from syslog, serial 0', () => {
    const r = rec('Apr 25 16:56:53 ubuntu audit[17276]: SECCOMP auid=1001 uid=0 gid=0 ses=79 pid=17276 comm="curl" exe="/snap/test-snapd-curl/27/usr/bin/curl" sig=0 arch=c000003e syscall=55 compat=0 ip=0x7ff1c6d2e73a code=0x7ffc0000');
    assert.equal(r.format, 'journal');
    assert.equal(r.type, 'SECCOMP');
    assert.equal(r.serial, 0);
    assert.equal(r.timeMs, Date.UTC(2024, 3, 25, 16, 56, 53));
    assert.equal(r.syscall?.name, 'getsockopt');
  });

  it('node= prefix (auditd name_format)', () => {
    const r = rec('node=work type=PROCTITLE msg=audit(1615113648.981:15220): proctitle="whoami"');
    assert.equal(r.host, 'work');
    assert.equal(r.str('proctitle'), 'whoami');
  });

  it('unknown numeric types become UNKNOWN[n]', () => {
    const r = rec('audit: type=1999 audit(1611996299.149:1): foo=bar');
    assert.equal(r.type, 'UNKNOWN[1999]');
    assert.equal(r.kind, 'other');
    assert.equal(r.fields.get('foo'), 'bar');
  });
});

describe('SECCOMP', () => {
  const line = (code: string) =>
    `type=SECCOMP msg=audit(1669382477.611:459): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=6649 comm="virtiofsd" exe="/usr/libexec/virtiofsd" sig=31 arch=c000003e syscall=39 compat=0 ip=0x3fff15f748a code=${code}`;
  const cases: Array<[string, string, number]> = [
    ['0x80000000', 'kill_process', 0],
    ['0x0', 'kill_thread', 0],
    ['0x30000', 'trap', 0],
    ['0x50001', 'errno', 1],
    ['0x5000d', 'errno', 13],
    ['0x7fc00000', 'user_notif', 0],
    ['0x7ff00007', 'trace', 7],
    ['0x7ffc0000', 'log', 0],
    ['0x7fff0000', 'allow', 0],
  ];
  for (const [code, action, data] of cases) {
    it(`code=${code} decodes to ${action}/${data}`, () => {
      const r = rec(line(code));
      assert.equal(r.kind, 'seccomp');
      assert.equal(r.seccomp?.action, action);
      assert.equal(r.seccomp?.actionData, data);
      assert.equal(r.seccomp?.sig, 31);
      assert.equal(r.seccomp?.compat, false);
    });
  }

  it('s390x kill record (real, qemu-devel)', () => {
    const r = rec('type=SECCOMP msg=audit(1669382477.611:459): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=system_u:system_r:virtd_t:s0-s0:c0.c1023 pid=6649 comm="virtiofsd" exe="/usr/libexec/virtiofsd" sig=31 arch=80000016 syscall=119 compat=0 ip=0x3fff15f748a code=0x80000000AUID="unset" UID="root" GID="root" ARCH=s390x SYSCALL=sigreturn');
    assert.equal(r.syscall?.arch, 's390x');
    assert.equal(r.syscall?.name, 'sigreturn');
    assert.equal(r.seccomp?.action, 'kill_process');
    // The 0x1d separator was lost in this published copy: the raw code is still read exactly, and the
    // interpreted fields are recognised as such.
    assert.equal(r.seccomp?.code, '0x80000000');
    assert.equal(r.format, 'auditd-enriched');
    assert.equal(r.interpreted.get('SYSCALL'), 'sigreturn');
    assert.equal(r.fields.get('AUID'), undefined);
  });

  it('unknown syscall number keeps syscallNr and gets no name', () => {
    const r = rec('type=SECCOMP msg=audit(1740670474.406:1): pid=1 comm="x" exe="/x" sig=0 arch=c000003e syscall=9999 compat=0 ip=0x0 code=0x7ffc0000');
    assert.equal(r.syscall?.nr, 9999);
    assert.equal(r.syscall?.name, undefined);
  });

  it('unknown arch keeps the number and gets no name', () => {
    const r = rec('type=SECCOMP msg=audit(1740670474.406:1): pid=1 comm="x" exe="/x" sig=0 arch=deadbeef syscall=1 compat=0 ip=0x0 code=0x7ffc0000');
    assert.equal(r.syscall?.arch, undefined);
    assert.equal(r.syscall?.auditArch, 'deadbeef');
    assert.equal(r.syscall?.name, undefined);
  });
});

describe('SELinux', () => {
  it('AVC denied with SYSCALL sibling fields and MCS categories', () => {
    const r = rec('type=AVC msg=audit(1170021493.977:293): avc:  denied  { read write } for  pid=13010 comm="pickup" name="maildrop" dev=hda7 ino=14911367 scontext=system_u:system_r:postfix_pickup_t:s0-s0:c0.c1023 tcontext=system_u:object_r:postfix_spool_maildrop_t:s0 tclass=dir');
    assert.equal(r.kind, 'selinux');
    assert.deepEqual(r.avc?.permissions, ['read', 'write']);
    assert.equal(r.avc?.decision, 'denied');
    assert.equal(r.avc?.tclass, 'dir');
    assert.deepEqual(r.avc?.source, { user: 'system_u', role: 'system_r', type: 'postfix_pickup_t', level: 's0-s0:c0.c1023' });
    assert.deepEqual(r.avc?.target, { user: 'system_u', role: 'object_r', type: 'postfix_spool_maildrop_t', level: 's0' });
    assert.equal(r.avc?.permissive, undefined);
    assert.equal(r.str('name'), 'maildrop');
    assert.equal(r.int('pid'), 13010);
  });

  it('contexts without a level (refpolicy without MLS)', () => {
    const r = rec('[ 1993.814333][   T30] audit: type=1400 audit(1782744483.667:789): avc:  denied  { write } for  pid=29603 comm="rm" name="hook-state" dev="tmpfs" ino=1776 scontext=system_u:system_r:dhcpc_t tcontext=system_u:object_r:tmpfs_t tclass=dir permissive=1');
    assert.equal(r.avc?.source?.type, 'dhcpc_t');
    assert.equal(r.avc?.source?.level, undefined);
    assert.equal(r.avc?.permissive, true);
  });

  it('USER_AVC: the decision inside msg=\'…\'', () => {
    const r = rec("type=USER_AVC msg=audit(1482353422.283:9549): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:init_t:s0 msg='avc:  denied  { status } for auid=1000 uid=0 gid=0 path=\"/usr/lib/systemd/system/foo.service\" cmdline=\"systemctl status foo\" scontext=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 tcontext=system_u:object_r:systemd_unit_file_t:s0 tclass=service  exe=\"/usr/lib/systemd/systemd\" sauid=0 hostname=? addr=? terminal=?'");
    assert.equal(r.kind, 'selinux');
    assert.equal(r.avc?.decision, 'denied');
    assert.deepEqual(r.avc?.permissions, ['status']);
    assert.equal(r.avc?.tclass, 'service');
    assert.equal(r.avc?.target?.type, 'systemd_unit_file_t');
    assert.equal(r.int('pid'), 1, 'outer pid is the reporting process');
    assert.equal(r.nested?.str('path'), '/usr/lib/systemd/system/foo.service');
  });

  it('SELINUX_ERR', () => {
    const r = rec('type=SELINUX_ERR msg=audit(1311948547.151:138): op=security_compute_sid invalid_context=system_u:object_r:bin_t:s0 for scontext=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 tcontext=system_u:object_r:bin_t:s0 tclass=process');
    assert.equal(r.kind, 'selinux');
    assert.equal(r.selinuxErr?.op, 'security_compute_sid');
    assert.equal(r.selinuxErr?.reason, 'invalid_context');
    assert.equal(r.selinuxErr?.tclass, 'process');
  });

  it('a workload cannot inject contexts through comm or a file name', () => {
    // What the kernel writes for a process named `scontext=a` opening `tcontext=system_u:object_r:shadow_t:s0`
    // (untrusted strings without spaces are double-quoted).
    const r = rec('type=AVC msg=audit(1700000000.000:1): avc:  denied  { read } for  pid=42 comm="scontext=a" name="tcontext=system_u:object_r:shadow_t:s0" dev="sda1" ino=1 scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:etc_t:s0 tclass=file permissive=0');
    assert.equal(r.avc?.scontext, 'system_u:system_r:container_t:s0:c1,c2');
    assert.equal(r.avc?.tcontext, 'system_u:object_r:etc_t:s0');
    assert.equal(r.avc?.target?.type, 'etc_t');
    assert.equal(r.str('comm'), 'scontext=a');
    // And hex-encoded (with a space the kernel hex-encodes the name).
    const name = Buffer.from('x tcontext=system_u:object_r:shadow_t:s0').toString('hex').toUpperCase();
    const h = rec(`type=AVC msg=audit(1700000000.000:2): avc:  denied  { read } for  pid=42 comm="cat" name=${name} scontext=system_u:system_r:container_t:s0 tcontext=system_u:object_r:etc_t:s0 tclass=file permissive=0`);
    assert.equal(h.avc?.target?.type, 'etc_t');
    assert.equal(h.str('name'), 'x tcontext=system_u:object_r:shadow_t:s0');
  });
});

describe('AppArmor', () => {
  it('apparmor= inside AVC', () => {
    const r = rec('type=AVC msg=audit(1279948288.415:39): apparmor="DENIED" operation="open" parent=12332 profile="/usr/sbin/cupsd" name="/home/user/.ssh/" pid=12333 comm="ls" requested_mask="r" denied_mask="r" fsuid=0 ouid=1000');
    assert.equal(r.kind, 'apparmor');
    assert.deepEqual(r.apparmor, { apparmor: 'DENIED', operation: 'open', profile: '/usr/sbin/cupsd', name: '/home/user/.ssh/', requestedMask: 'r', deniedMask: 'r' });
  });

  it('apparmor= inside a USER_AVC payload (dbus)', () => {
    const r = rec('Jun  5 10:00:00 ns1 kernel: [1.0] audit: type=1107 audit(1591351200.000:10): pid=1 uid=103 auid=4294967295 ses=4294967295 msg=\'apparmor="DENIED" operation="dbus_method_call" bus="system" path="/org/freedesktop/hostname1" interface="org.freedesktop.DBus.Properties" member="GetAll" mask="send" name=":1.2" pid=2 label="snap.x" peer_pid=3 peer_label="unconfined"\'');
    assert.equal(r.type, 'USER_AVC');
    assert.equal(r.kind, 'apparmor');
    assert.equal(r.apparmor?.operation, 'dbus_method_call');
  });

  it('APPARMOR_DENIED type (1503) carries the verdict in its type', () => {
    const r = rec('audit: type=1503 audit(1279948288.415:39): operation="open" pid=1 parent=2 profile="/bin/x" requested_mask="r::" denied_mask="r::" fsuid=0 ouid=0 name="/etc/shadow"');
    assert.equal(r.type, 'APPARMOR_DENIED');
    assert.equal(r.kind, 'apparmor');
    assert.equal(r.apparmor?.apparmor, 'DENIED');
  });
});

describe('values', () => {
  it('hex-encoded exe and proctitle with NUL-separated argv', () => {
    const r = rec('type=SYSCALL msg=audit(1492037289.295:58): arch=c000003e syscall=42 success=no exit=-115 a0=6 a1=7ffed2893080 a2=10 a3=fe items=0 ppid=1 pid=1172 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="google_accounts" exe=2F7573722F62696E2F707974686F6E322E373B3538643163636662202864656C6574656429 subj=system_u:system_r:unconfined_service_t:s0 key=(null)');
    assert.equal(r.str('exe'), '/usr/bin/python2.7;58d1ccfb (deleted)');
    assert.equal(r.str('key'), undefined, '(null) is no value');
    assert.equal(r.str('tty'), undefined, '(none) is no value');
    assert.equal(r.syscall?.name, 'connect');
    const p = rec('type=PROCTITLE msg=audit(1492037291.036:59): proctitle=67726570002D2D636F6C6F723D6175746F006D617070696E67');
    assert.equal(p.str('proctitle'), 'grep --color=auto mapping');
  });

  it('first of duplicated keys wins (laurel record-ptrace)', () => {
    const r = rec('type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=101 uid=0 uid=1000 pid=5');
    assert.equal(r.int('uid'), 0);
  });

  it('invalid UTF-8 is flagged, the record still parsed', () => {
    const line = Buffer.concat([Buffer.from('type=AVC msg=audit(1.000:1): avc:  denied  { read } for  pid=1 comm="a'), Buffer.from([0xa0]), Buffer.from('" scontext=u:r:a_t:s0 tcontext=u:r:b_t:s0 tclass=file')]).toString('utf8');
    const r = rec(line);
    assert.equal(r.utf8Invalid, true);
    assert.equal(r.avc?.target?.type, 'b_t');
  });

  it('two records glued on one line: both are read', () => {
    const line = 'host=lenovo type=AVC msg=audit(1162852201.019:185): avc:  denied  { read } for  pid=3 comm="qemu" scontext=u:r:a_t:s0 tcontext=u:r:b_t:s0 tclass=file host=lenovo type=SYSCALL msg=audit(1162852201.019:185): arch=40000003 syscall=5 success=no exit=-13 pid=3 comm="qemu"';
    const a = rec(line);
    assert.equal(a.type, 'AVC');
    assert.equal(a.avc?.tclass, 'file');
    assert.ok(a.rest, 'the second record is handed back');
    const b = rec(a.rest!);
    assert.equal(b.type, 'SYSCALL');
    assert.equal(b.serial, 185);
    assert.equal(b.syscall?.arch, 'x86');
    assert.equal(b.syscall?.name, 'open');
  });
});

describe('bad input is a typed error or noise, never a throw', () => {
  const errors: Array<[string, string, string]> = [
    ['empty', '', 'empty'],
    ['garbage', 'hello world', 'no-audit-header'],
    ['NUL byte', 'type=SECCOMP msg=audit(1.000:1): pid=1\0 code=0x0', 'nul-byte'],
    ['truncated stamp', 'type=SECCOMP msg=audit(1740535410.396:17', 'truncated'],
    ['bad stamp', 'type=SECCOMP msg=audit(abc): pid=1', 'bad-timestamp'],
    // No Date holds it: as a record it would make its event unrenderable (toISOString throws).
    ['stamp beyond any date', 'type=SECCOMP msg=audit(99999999999999999.000:1): pid=1 arch=c000003e syscall=1 code=0x7ffc0000', 'bad-timestamp'],
    ['truncated quote', 'type=AVC msg=audit(1.000:1): avc:  denied  { read } for  pid=1 comm="abc', 'truncated'],
    ['SECCOMP without code', 'type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e syscall=1', 'truncated'],
    ['SECCOMP bad code', 'type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e syscall=1 code=zz', 'bad-field'],
    ['bad type', 'type=se;ccomp msg=audit(1.000:1): pid=1', 'bad-type'],
    ['huge line', 'type=EXECVE msg=audit(1.000:1): a0="' + 'A'.repeat(1 << 20) + '"', 'line-too-long'],
  ];
  for (const [what, line, reason] of errors) {
    it(`${what} → ${reason}`, () => {
      const r = parseLine(line);
      assert.ok(isParseError(r), `expected a parse error, got ${isRecord(r) ? 'a record' : JSON.stringify(r)}`);
      assert.equal(r.error, reason);
      assert.ok(r.excerpt.length <= 256);
    });
  }

  it('ordinary syslog and kmsg lines are noise, not errors', () => {
    for (const line of ['Nov 22 10:00:00 host sshd[1]: Accepted publickey for root', '[   12.345678] EXT4-fs (vda): mounted filesystem']) {
      const r = parseLine(line);
      assert.ok(isNonAudit(r) && r.skip === 'not-audit', line);
    }
  });

  it('kauditd_printk_skb suppression notices count lost records', () => {
    const r = parseLine('[ 6044.127265] kauditd_printk_skb: 47 callbacks suppressed');
    assert.ok(isNonAudit(r));
    assert.equal(r.skip, 'printk-suppressed');
    assert.equal(r.suppressed, 47);
  });
});
