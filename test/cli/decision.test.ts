// One decision for every output (issue 12): the event stream's `--events denials` filter, the ECS and OCSF
// mappings and `auditflow denials` classify each event alike, SELINUX_ERR included; the outcome of events
// that are no decision is normalised as go-libaudit's aucoalesce does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRecord, parseLine } from '../../parsers';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { isDenial, outcomeOf } from '../../src/event/decision';
import { eventFilter } from '../../src/run/route';
import { toEcs, toOcsf } from '../../src/sink/format';
import { runCli } from '../env/cli';

function ev(line: string): EventV1 {
  const r = parseLine(line);
  assert.ok(isRecord(r), line);
  return eventFromRecord(r, { node: 'n1', file: null, raw: false });
}

// real record shapes (the SELINUX_ERR is line 451 of fixtures/real/avc-auditd.log)
const LINES: Record<string, { line: string; denied: boolean }> = {
  'seccomp errno': { denied: true, line: 'type=SECCOMP msg=audit(1795368920.417:1): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=26925 comm="mkdir" exe="/bin/busybox" sig=0 arch=c000003e syscall=83 compat=0 ip=0x49641b code=0x50001' },
  'seccomp log': { denied: false, line: 'type=SECCOMP msg=audit(1795368920.417:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=26925 comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=0 compat=0 ip=0x49641b code=0x7ffc0000' },
  'AVC denied': { denied: true, line: 'type=AVC msg=audit(1795368920.500:3): avc:  denied  { read write } for  pid=4242 comm="app" name="data" dev="sda1" ino=1 scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:var_lib_t:s0 tclass=file permissive=0' },
  'AVC granted': { denied: false, line: 'type=AVC msg=audit(1795368920.500:4): avc:  granted  { setenforce } for  pid=1 comm="load_policy" scontext=system_u:system_r:init_t:s0 tcontext=system_u:object_r:security_t:s0 tclass=security' },
  SELINUX_ERR: { denied: true, line: 'type=SELINUX_ERR msg=audit(1163774199.777:11573): security_compute_sid:  invalid context staff_u:staff_r:staff_userhelper_t:s0 for scontext=staff_u:staff_r:staff_t:s0 tcontext=system_u:object_r:userhelper_exec_t:s0 tclass=process' },
  'AppArmor DENIED': { denied: true, line: 'type=AVC msg=audit(1279948227.175:28): apparmor="DENIED" operation="open" parent=1 profile="/usr/sbin/ntpd" name="/etc/shadow" pid=1 comm="ntpd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0' },
  'AppArmor STATUS': { denied: false, line: 'type=AVC msg=audit(1279948227.175:27): apparmor="STATUS" operation="profile_replace" name="/sbin/dhclient3" pid=12291 comm="apparmor_parser"' },
  'SYSCALL success=no': { denied: false, line: 'type=SYSCALL msg=audit(1795368920.600:5): arch=c000003e syscall=2 success=no exit=-13 a0=1 a1=0 a2=0 a3=0 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="cat" exe="/bin/cat" key=(null)' },
};

test('run --events denials, ECS, OCSF and the decision module agree on every record kind; SELINUX_ERR is a denial', () => {
  const filter = eventFilter('denials');
  for (const [name, { line, denied }] of Object.entries(LINES)) {
    const e = ev(line);
    assert.equal(isDenial(e), denied, `${name}: isDenial`);
    assert.equal(filter(e), denied, `${name}: run --events denials`);
    const ecs = toEcs(e) as { event: { type: string[]; outcome: string } };
    assert.equal(ecs.event.type.includes('denied'), denied, `${name}: ECS event.type ${JSON.stringify(ecs.event.type)}`);
    const ocsf = toOcsf(e) as { action_id?: number; status_id?: number };
    assert.equal(ocsf.action_id === 2, denied, `${name}: OCSF action_id ${ocsf.action_id}`);
    if (denied) {
      assert.equal(ecs.event.outcome, 'failure', `${name}: ECS outcome`);
      assert.equal(ocsf.status_id, 2, `${name}: OCSF status_id`);
    }
  }
  const err = toEcs(ev(LINES.SELINUX_ERR!.line)) as { event: { action: string; category: string[] }; message: string };
  assert.equal(err.event.action, 'selinux-denied');
  assert.deepEqual(err.event.category, ['process', 'intrusion_detection']);
  assert.match(err.message, /^selinux denied: .*process/);
});

test('auditflow denials returns exactly the events the run filter passes (SELINUX_ERR included)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-decision-'));
  try {
    const file = path.join(dir, 'events.ndjson');
    const events = Object.values(LINES).map(({ line }) => ev(line));
    fs.writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const r = runCli(['denials', '-o', 'ndjson', file]);
    assert.equal(r.code, 0, r.stderr);
    const got = r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as EventV1).serial).sort((a, b) => a - b);
    const want = events.filter(eventFilter('denials')).map((e) => e.serial).sort((a, b) => a - b);
    assert.deepEqual(got, want);
    assert.ok(got.includes(11573), 'the SELINUX_ERR is listed');
    const act = runCli(['denials', '-o', 'ndjson', '--action', 'denied', file]);
    assert.ok(act.stdout.includes('"SELINUX_ERR"'), 'SELINUX_ERR has action "denied"');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the outcome of other records is normalised as aucoalesce does: success= first, else res=, case-insensitive', () => {
  const user = (res: string) => ev(`type=USER_LOGIN msg=audit(1795368920.700:9): pid=1 uid=0 auid=0 ses=1 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=10.0.0.1 terminal=ssh res=${res}'`);
  assert.equal(outcomeOf(user('success')), 'success');
  assert.equal(outcomeOf(user('SUCCESS')), 'success');
  assert.equal(outcomeOf(user('failed')), 'failure');
  assert.equal(outcomeOf(user('1')), 'success');
  assert.equal(outcomeOf(user('0')), 'failure');
  assert.equal(outcomeOf(user('denied')), 'failure', 'any other value is a failure');
  assert.equal(outcomeOf(ev(LINES['SYSCALL success=no']!.line)), 'failure');
  const both = ev(LINES['SYSCALL success=no']!.line);
  both.fields = { ...both.fields, res: 'success' };
  assert.equal(outcomeOf(both), 'failure', 'success= wins over res=');
  assert.equal(outcomeOf(ev('type=CWD msg=audit(1795368920.800:10): cwd="/"')), 'unknown');
  // both mappings take it from there
  const u = user('failed');
  assert.equal((toEcs(u) as { event: { outcome: string } }).event.outcome, 'failure');
  assert.equal((toOcsf(u) as { status_id: number }).status_id, 2);
  const s = user('Success');
  assert.equal((toEcs(s) as { event: { outcome: string } }).event.outcome, 'success');
  assert.equal((toOcsf(s) as { status_id: number }).status_id, 1);
});
