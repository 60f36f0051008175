// The record-type table (parsers/record-types.ts) is the one place that lists what auditflow knows about a
// type: each consumer (kind, tokenizer label bound, coalescer standalone set, the event's primary record)
// is checked here against every entry, on real parsing, so a consumer with a list of its own shows up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Coalescer, isRecord, kindOfType, parseLine, primaryRank, RECORD_TYPES, recordTypeNumber, recordTypeTraits, type AuditEvent, type AuditRecord } from '../../parsers';
import { labelNextFor } from '../../parsers/fields';
import { primaryRecord } from '../../src/event/v1';

const TYPES = Object.keys(RECORD_TYPES);

// what a SECCOMP record cannot do without
const SECCOMP_FIELDS = ' arch=c000003e syscall=2 code=0x7ffc0000';

function rec(type: string, serial: number, body = 'pid=1 uid=0 comm="x"'): AuditRecord {
  const r = parseLine(`type=${type} msg=audit(1700000000.000:${serial}): ${body}${type === 'SECCOMP' ? SECCOMP_FIELDS : ''}`);
  assert.ok(isRecord(r), `type=${type}: ${JSON.stringify(r)}`);
  return r;
}

test('every entry is a record type with a number (a typo would be a dead entry)', () => {
  assert.deepEqual(TYPES.filter((t) => recordTypeNumber(t) === undefined), []);
});

test('a kernel LOGIN record (type=1006) is named, and its label is bounded by its entry', () => {
  // the table knew LOGIN's label bound, the numbering did not know 1006: kernel lines read UNKNOWN[1006]
  const r = parseLine('audit: type=1006 audit(1700000000.000:7): pid=1 uid=0 subj=system_u:system_r:init_t:s0 old-auid=4294967295 auid=0 tty=(none) old-ses=4294967295 ses=1 res=1');
  assert.ok(isRecord(r), JSON.stringify(r));
  assert.equal(r.type, 'LOGIN');
  assert.equal(r.fields.get('old-auid'), '4294967295');
  assert.equal(recordTypeNumber('USER'), 1005);
  // likewise the SELinux kind of USER_MAC_POLICY_LOAD (2310, libaudit.h), written by user-space managers
  assert.equal(recordTypeNumber('USER_MAC_POLICY_LOAD'), 2310);
});

test('the kind of a record is its entry\'s, AppArmor\'s by prefix, `other` without an entry', () => {
  for (const t of TYPES) {
    assert.equal(kindOfType(t), RECORD_TYPES[t]!.kind ?? 'other', t);
    // the parser uses the same kind, unless the content refines it (tested with AppArmor's AVC below)
    assert.equal(rec(t, 1).kind, RECORD_TYPES[t]!.kind ?? 'other', `parsed ${t}`);
  }
  for (const t of ['APPARMOR', 'APPARMOR_DENIED', 'APPARMOR_STATUS']) assert.deepEqual([kindOfType(t), recordTypeTraits(t).primaryRank], ['apparmor', 0]);
  for (const t of ['PATH', 'EXECVE', 'CWD', 'UNKNOWN[1999]', '__proto__', 'constructor']) assert.deepEqual([kindOfType(t), recordTypeTraits(t)], ['other', {}]);
  const aa = rec('AVC', 2, 'apparmor="DENIED" operation="open" profile="p" name="/etc/shadow" pid=1 comm="cat" requested_mask="r" denied_mask="r"');
  assert.equal(aa.kind, 'apparmor');
});

test('the tokenizer bounds a task label by the entry\'s labelNext: spaces inside the label stay in it', () => {
  for (const t of TYPES) {
    const next = RECORD_TYPES[t]!.labelNext;
    assert.equal(labelNextFor(t), next ?? '', t);
    if (next === undefined) continue;
    // an unquoted label with a space in it, as the kernel writes it (subj= is never quoted)
    const r = rec(t, 3, `subj=unconfined (enforce)${next}7 uid=0`);
    assert.equal(r.fields.get('subj'), 'unconfined (enforce)', t);
    assert.equal(r.fields.get(next.trim().slice(0, -1)), '7', t);
  }
});

test('the coalescer emits exactly the standalone entries at once; the others wait for their siblings', () => {
  for (const t of [...TYPES, 'PATH']) {
    const out: AuditEvent[] = [];
    const c = new Coalescer((e) => out.push(e));
    c.push(rec(t, 10));
    assert.equal(out.length, RECORD_TYPES[t]?.standalone ? 1 : 0, t);
  }
});

test('a multi-record event is about its lowest-ranked record: the decision, then ANOM_ABEND, then SYSCALL', () => {
  const ranked = TYPES.filter((t) => RECORD_TYPES[t]!.primaryRank !== undefined);
  for (const t of ranked) {
    for (const other of ['PATH', 'SYSCALL', 'ANOM_ABEND']) {
      if (other === t) continue;
      const records = [rec(other, 20), rec(t, 20)];
      const want = primaryRank(t, kindOfType(t)) <= primaryRank(other, kindOfType(other)) ? t : other;
      assert.equal(primaryRecord({ timeMs: 0, serial: 20, records }).type, want, `${t} with ${other}`);
    }
  }
  assert.ok(primaryRank('SECCOMP', 'seccomp') < primaryRank('ANOM_ABEND', 'other'));
  assert.ok(primaryRank('ANOM_ABEND', 'other') < primaryRank('SYSCALL', 'other'));
  assert.ok(primaryRank('SYSCALL', 'other') < primaryRank('PATH', 'other'));
  // AppArmor's AVC ranks as a decision by its (content-refined) kind
  assert.equal(primaryRank('AVC', 'apparmor'), 0);
});
