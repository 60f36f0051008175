// The runtime handler `runc-seccomp-flags` of the private containerd (test/env/cri.sh, runc-build.sh): a pod
// whose Localhost profile denies mkdir with SCMP_ACT_ERRNO and carries SECCOMP_FILTER_FLAG_LOG gets EPERM, and the
// kernel audits the denial (type=SECCOMP code=0x50000). Debian's runc 1.1.5 refuses the flag, so without this
// handler denials under an ERRNO profile never reach audit.log and cannot be investigated.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureContainerd, removePod, runPod, type RunningPod } from '../env/cri';
import { auditField, auditMark, ensureAuditd, readAuditSince, auditType } from '../env/rig';

describe('CRI runtime handler runc-seccomp-flags', () => {
  let tmp: string;
  const pods: RunningPod[] = [];
  before(async () => {
    await ensureAuditd();
    ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-flags-'));
  });
  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function runMkdir(runtimeHandler: '' | 'runc-seccomp-flags', flags: string[]) {
    const profile = path.join(tmp, `deny-mkdir-${runtimeHandler || 'default'}.json`);
    const spec: Record<string, unknown> = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
    };
    if (flags.length) spec.flags = flags;
    fs.writeFileSync(profile, JSON.stringify(spec));
    const mark = await auditMark();
    const pod = await runPod({
      name: `flags-${runtimeHandler || 'debian'}-${process.pid}`,
      namespace: 'default',
      containers: [{ name: 'main', command: ['sh', '-c', 'mkdir /tmp/denied; echo "rc=$?"'] }],
      seccompProfilePath: profile,
      ...(runtimeHandler ? { runtimeHandler } : {}),
    });
    pods.push(pod);
    const log = path.join(pod.logDirectory, 'main', '0.log');
    const t0 = Date.now();
    while (!(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('rc='))) {
      if (Date.now() - t0 > 30_000) throw new Error(`container output never appeared in ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const out = fs.readFileSync(log, 'utf8');
    const lines = await readAuditSince(mark);
    const denials = lines.filter(
      (l) => auditType(l) === 'SECCOMP' && auditField(l, 'code') === '0x50000' && auditField(l, 'comm') === '"mkdir"',
    );
    return { out, denials };
  }

  it('runs the newer runc: EPERM for mkdir and an audited errno denial', async () => {
    const r = await runMkdir('runc-seccomp-flags', ['SECCOMP_FILTER_FLAG_LOG']);
    assert.match(r.out, /Operation not permitted/);
    assert.match(r.out, /rc=1/);
    assert.ok(r.denials.length >= 1, `expected a type=SECCOMP code=0x50000 record for comm "mkdir"; got ${r.denials.length}`);
    assert.ok(r.denials.every((l) => ['83', '258'].includes(auditField(l, 'syscall') ?? '')), r.denials.join('\n'));
  });

  it('without the flag the same denial is not audited (why the handler exists)', async () => {
    const r = await runMkdir('runc-seccomp-flags', []);
    assert.match(r.out, /rc=1/);
    assert.equal(r.denials.length, 0, r.denials.join('\n'));
  });
});
