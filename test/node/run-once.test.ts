// `auditflow run --once` over the real fixture logs (no following, no CRI): the same audit events as
// `auditflow parse --events`, --events denials keeps only denials, --format ecs/ocsf, and usage errors.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, runCli } from '../env/cli';

const FIXTURES = ['multi-record.log', 'avc-auditd.log', 'seccomp-auditd.log', 'seccomp-syslog.log', 'enriched.log'].map((f) => path.join(ROOT, 'fixtures/real', f));
const ONCE = ['run', '--once', '--from-start', '--checkpoint', 'none', '--cri-socket', 'none', '--listen', 'none', '--no-progress'];

const stamps = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('auditflow run --once', () => {
  for (const f of FIXTURES) {
    it(`${path.basename(f)}: every audit event of auditflow parse --events, enriched or marked`, () => {
      const run = runCli([...ONCE, '--audit-log', f, '--events', 'all']);
      assert.equal(run.code, 0, run.stderr);
      const parse = runCli(['parse', '--events', f]);
      assert.equal(parse.code, 0, parse.stderr);
      const key = (e: Record<string, unknown>) => `${e.timestamp}:${e.serial}:${e.type}`;
      const got = stamps(run.stdout);
      assert.deepEqual(got.map(key).sort(), stamps(parse.stdout).map(key).sort());
      for (const e of got) {
        assert.ok(['resolved', 'host', 'unresolved'].includes(e.enrichment as string));
        if (e.enrichment === 'unresolved') assert.ok(e.enrichmentError, JSON.stringify(e));
      }
    });
  }

  it('--events denials (the default) keeps seccomp actions other than log/allow and AVC denials only', () => {
    const all = stamps(runCli([...ONCE, '--audit-log', FIXTURES[2]!, '--events', 'all']).stdout);
    const r = runCli([...ONCE, '--audit-log', FIXTURES[2]!]);
    assert.equal(r.code, 0, r.stderr);
    const den = stamps(r.stdout);
    const isDenial = (e: Record<string, unknown>) => (e.action !== undefined ? !['log', 'allow'].includes(e.action as string) : (e.selinux as { decision?: string } | undefined)?.decision === 'denied');
    assert.ok(den.length > 0 && den.length < all.length, `${den.length} denials of ${all.length}`);
    assert.ok(den.every(isDenial));
    assert.equal(den.length, all.filter(isDenial).length);
  });

  it('--format ecs and ocsf', () => {
    for (const format of ['ecs', 'ocsf']) {
      const r = runCli([...ONCE, '--audit-log', FIXTURES[1]!, '--events', 'all', '--format', format]);
      assert.equal(r.code, 0, r.stderr);
      const evs = stamps(r.stdout);
      assert.ok(evs.length > 0);
      assert.ok(evs.every((e) => e.schema !== 'auditflow.event/v1'));
      if (format === 'ecs') assert.ok(evs.every((e) => e['@timestamp']));
      else assert.ok(evs.every((e) => typeof e.class_uid === 'number'));
    }
  });

  it('usage errors exit 2 with the reason', () => {
    for (const [args, msg] of [
      [['--format', 'xml'], /--format must be one of v1, ecs, ocsf/],
      [['--events', 'some'], /--events must be all or denials/],
      [['--record', 'a=b=c=d'], /not a label selector/],
      [['--record', 'Bad=app=web'], /recording name "Bad" must be a DNS-1123 label/],
      [['--listen', 'nonsense'], /not host:port/],
    ] as const) {
      const base = ['run', '--once', '--from-start', '--checkpoint', 'none', '--cri-socket', 'none', '--no-progress', '--audit-log', FIXTURES[0]!];
      const r = runCli([...base, ...(args[0] === '--listen' ? [] : ['--listen', 'none']), ...args]);
      // a bad listen address is found when binding: a runtime failure (1), the rest are usage errors (2)
      assert.equal(r.code, args[0] === '--listen' ? 1 : 2, r.stderr);
      assert.match(r.stderr, msg);
    }
  });
});
