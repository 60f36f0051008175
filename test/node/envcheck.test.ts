// The start-up environment check against this machine's real kernel and auditd (test/env/auditd.sh), and
// against a /proc whose seccomp logging is off.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkEnvironment, exportEnvReport, parseAuditctlStatus } from '../../src/audit/envcheck';
import { registry } from '../../src/metrics';
import { auditStatus, ensureAuditd } from '../env/rig';

describe('environment check', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-envcheck-'));
  before(async () => {
    await ensureAuditd();
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('sees auditd registered, seccomp "log" enabled, and the kernel backlog and lost counter', async () => {
    const r = await checkEnvironment();
    const st = await auditStatus();
    assert.equal(r.auditdRegistered, true, JSON.stringify(r));
    assert.equal(r.auditDaemon, 'auditd');
    assert.equal(r.audit?.pid, st.pid);
    assert.equal(r.audit?.backlogLimit, st.backlog_limit);
    assert.ok(r.audit!.lost >= 0);
    assert.equal(r.seccompLogEnabled, true);
    assert.ok(r.seccompActionsLogged!.includes('log'));
    assert.ok(r.printkRatelimit && r.printkRatelimit.intervalS >= 0);
    exportEnvReport(r);
    const text = await registry.metrics();
    assert.match(text, /^auditflow_env_auditd_registered 1$/m);
    assert.match(text, /^auditflow_env_seccomp_actions_logged_log 1$/m);
    assert.match(text, new RegExp(`^auditflow_env_audit_backlog_limit ${st.backlog_limit}$`, 'm'));
  });

  it('reports seccomp logging off and an unknown audit status as problems, without failing', async () => {
    const proc = path.join(tmp, 'proc');
    fs.mkdirSync(path.join(proc, 'sys/kernel/seccomp'), { recursive: true });
    fs.writeFileSync(path.join(proc, 'sys/kernel/seccomp/actions_logged'), 'kill_process kill_thread errno\n');
    const r = await checkEnvironment({ procRoot: proc, auditctl: path.join(tmp, 'no-such-auditctl') });
    assert.equal(r.seccompLogEnabled, false);
    assert.equal(r.auditdRegistered, null);
    assert.ok(r.problems.some((p) => /lacks "log"/.test(p)), r.problems.join('\n'));
    assert.ok(r.problems.some((p) => /audit status unknown/.test(p)), r.problems.join('\n'));
  });

  it('parses auditctl -s', () => {
    const s = parseAuditctlStatus('enabled 1\nfailure 1\npid 7057\nrate_limit 0\nbacklog_limit 65536\nlost 12\nbacklog 3\nloginuid_immutable 0 unlocked\n');
    assert.deepEqual(s, { enabled: 1, pid: 7057, rateLimit: 0, backlogLimit: 65536, lost: 12, backlog: 3 });
    assert.equal(parseAuditctlStatus('garbage'), null);
  });
});
