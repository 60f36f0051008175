// Profile stacking (spec.baseProfileName): merge semantics, depth limit, cycles, missing and hostile bases.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { mergeStack, resolveStack } from '../../src/agent/stack';
import { API_VERSION, type SeccompProfile } from '../../src/k8s/api';

function profile(name: string, spec: Partial<SeccompProfile['spec']> = {}): SeccompProfile {
  return { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name }, spec: { defaultAction: 'SCMP_ACT_ERRNO', ...spec } };
}

function lookupOf(...ps: SeccompProfile[]) {
  const m = new Map(ps.map((p) => [p.metadata.name, p]));
  return (n: string) => m.get(n);
}

describe('resolveStack', () => {
  it('a profile without base installs as itself', () => {
    const p = profile('app', { architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['write', 'read'] }] });
    const r = resolveStack('app', lookupOf(p));
    assert.ok(r.ok);
    assert.deepEqual(r.chain, ['app']);
    assert.deepEqual(r.profile, { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read', 'write'] }] });
  });

  it('unions syscalls, architectures and flags over a three-level stack, keeping the top defaultAction', () => {
    const runc = profile('runc-base', { defaultAction: 'SCMP_ACT_KILL', architectures: ['SCMP_ARCH_X86'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['futex', 'execve'] }] });
    const mid = profile('mid', { baseProfileName: 'runc-base', flags: ['SECCOMP_FILTER_FLAG_LOG'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['openat'] }] });
    const app = profile('app', {
      defaultAction: 'SCMP_ACT_LOG',
      baseProfileName: 'mid',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { action: 'SCMP_ACT_ALLOW', names: ['write', 'futex'] },
        { action: 'SCMP_ACT_ERRNO', names: ['mkdir'], errnoRet: 1 },
      ],
    });
    const r = resolveStack('app', lookupOf(runc, mid, app));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.chain, ['app', 'mid', 'runc-base']);
    assert.equal(r.profile.defaultAction, 'SCMP_ACT_LOG');
    assert.deepEqual(r.profile.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    assert.deepEqual(r.profile.flags, ['SECCOMP_FILTER_FLAG_LOG']);
    assert.deepEqual(r.profile.syscalls, [
      { action: 'SCMP_ACT_ALLOW', names: ['execve', 'futex', 'openat', 'write'] },
      { action: 'SCMP_ACT_ERRNO', errnoRet: 1, names: ['mkdir'] },
    ]);
  });

  it('keeps rules with argument filters apart from plain rules of the same action', () => {
    const base = profile('b', { syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['personality'], args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }] });
    const top = profile('t', { baseProfileName: 'b', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read'] }] });
    const merged = mergeStack([top, base]);
    assert.equal(merged.syscalls!.length, 2);
    assert.deepEqual(merged.syscalls![0], { action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }], names: ['personality'] });
    assert.deepEqual(merged.syscalls![1], { action: 'SCMP_ACT_ALLOW', names: ['read'] });
  });

  it('reports a missing base with the chain, including the missing name', () => {
    const r = resolveStack('app', lookupOf(profile('app', { baseProfileName: 'mid' }), profile('mid', { baseProfileName: 'gone' })));
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /base profile "gone" not found \(app -> mid -> gone\)/);
    assert.deepEqual(r.chain, ['app', 'mid', 'gone']);
  });

  it('detects cycles, including a profile that is its own base', () => {
    const r = resolveStack('x', lookupOf(profile('x', { baseProfileName: 'y' }), profile('y', { baseProfileName: 'x' })));
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /cycle: x -> y -> x/);
    const self = resolveStack('s', lookupOf(profile('s', { baseProfileName: 's' })));
    assert.match((self as { reason: string }).reason, /cycle: s -> s/);
  });

  it('refuses chains deeper than the limit and accepts one exactly at it', () => {
    const ps = Array.from({ length: 5 }, (_, i) => profile(`p${i}`, i < 4 ? { baseProfileName: `p${i + 1}` } : {}));
    assert.ok(resolveStack('p0', lookupOf(...ps), 4).ok, 'p0 -> p1 -> p2 -> p3 -> p4 is 4 bases deep');
    const r = resolveStack('p0', lookupOf(...ps), 3);
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /deeper than 3/);
  });

  it('refuses hostile and unsupported base names without looking them up', () => {
    const looked: string[] = [];
    for (const base of ['../../etc/passwd', '/etc/shadow', 'a\0b', 'UPPER', 'x'.repeat(300), 'oci://ghcr.io/x/y:latest']) {
      const app = profile('app', { baseProfileName: base });
      const r = resolveStack('app', (n) => (looked.push(n), n === 'app' ? app : undefined));
      assert.equal(r.ok, false, base);
      assert.match((r as { reason: string }).reason, base.startsWith('oci://') ? /not supported/ : /is invalid/);
    }
    assert.deepEqual([...new Set(looked)], ['app']);
  });
});
