// test/env/reset.sh brings the rig down to cold, and a test that needs auditd brings it up again by itself.
// On a fresh machine nothing runs; a test file that relied on an earlier file having started auditd failed there
// (issue 10: denials.test.ts). This file resets the rig mid-suite on purpose: every file after it must bring up
// what it needs, whatever order the runner picks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditMark, CACHE_DIR, envScriptDir, readAuditSince } from '../env/rig';

const reset = () => spawnSync('bash', [path.join(envScriptDir(), 'reset.sh')], { encoding: 'utf8', timeout: 300_000 });
const pids = (pattern: string) => spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim();

test('reset.sh stops the services and removes their run state; a second run has nothing to do', () => {
  const r = reset();
  assert.equal(r.status, 0, `reset.sh failed: ${r.stderr}`);
  assert.equal(spawnSync('pgrep', ['-x', 'auditd']).status, 1, 'auditd still runs after reset.sh');
  assert.equal(pids('kafka\\.Kafka /tmp/auditflow-kafka-'), '', 'a test Kafka broker still runs');
  assert.equal(pids(`containerd --config ${CACHE_DIR}/ctd/`), '', 'the private containerd still runs');
  assert.ok(!fs.existsSync(path.join(CACHE_DIR, 'kube', 'run')), 'kube-apiserver run state was kept');
  assert.deepEqual(fs.readdirSync('/tmp').filter((f) => f.startsWith('auditflow-kafka-')), []);
  const again = reset();
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /stopping|killing|removed/, 'a second reset found something running');
});

test('after a reset, a test that reads the audit log brings auditd up itself', async () => {
  const mark = await auditMark(); // must start auditd, not fail with "audit.log does not exist"
  const lines = await readAuditSince(mark);
  assert.ok(Array.isArray(lines));
  assert.notEqual(spawnSync('pgrep', ['-x', 'auditd']).status, 1, 'auditd is not running');
});
