// The promise of `auditflow profile`: a profile built from a real container's audit records lets that
// container run under it, and refuses what it never did. Real kernel, auditd and runc (test/env).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli as auditflow } from '../env/cli';
import { auditMark, ensureAuditd, readAuditSince } from '../env/rig';
import { runcRun } from '../env/runc';

const WORKLOAD = ['sh', '-c', 'echo hi > /tmp/x; cat /tmp/x; ls /; id; wc -c /bin/busybox'];


test('record a busybox container with runc, build its profile, run it under the profile', { timeout: 180_000 }, async () => {
  await ensureAuditd();
  const mark = await auditMark();
  const recorded = await runcRun({ args: WORKLOAD, seccomp: { defaultAction: 'SCMP_ACT_LOG' } });
  assert.equal(recorded.exitCode, 0, recorded.stderr);
  assert.ok(recorded.ses !== undefined, 'the run has its own audit session');

  // Everything auditd wrote meanwhile (other tests' records too): the profile command selects by session.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-profile-'));
  const log = path.join(dir, 'audit.log');
  fs.writeFileSync(log, (await readAuditSince(mark)).join('\n') + '\n');

  const built = auditflow(['profile', '--format', 'oci', '--ses', String(recorded.ses), log]);
  assert.equal(built.code, 0, built.stderr);
  const profile = JSON.parse(built.stdout);
  assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
  const names: string[] = profile.syscalls[0].names;
  for (const n of ['execve', 'openat', 'write', 'getdents64', 'getuid']) assert.ok(names.includes(n), `${n} recorded`);
  assert.ok(!names.includes('mkdir') && !names.includes('mkdirat'), 'the workload made no directory');

  const replay = await runcRun({ args: WORKLOAD, seccomp: profile });
  assert.equal(replay.exitCode, 0, `the recorded workload fails under its own profile: ${replay.stderr}`);
  assert.equal(replay.stdout, recorded.stdout);

  // The same profile refuses what the recording never saw.
  const other = await runcRun({ args: ['sh', '-c', 'mkdir /tmp/d && echo made'], seccomp: profile });
  assert.notEqual(other.exitCode, 0, 'mkdir was not recorded, so it must be refused');
  assert.doesNotMatch(other.stdout, /made/);
  assert.match(other.stderr + other.stdout, /Operation not permitted/);
});
