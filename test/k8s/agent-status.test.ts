// Status computation and pod references of the node agent (pure parts).
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { profileNameOfLocalhost, seccompProfilesOf, selinuxProfilesOf, type PodLike } from '../../src/agent/pods';
import { CilError, selinuxProfileCil } from '../../src/agent/selinux';
import { aggregateState, labelValue, lowerOfTwoStates, nodeStatusName, profileId } from '../../src/agent/status';
import { API_VERSION, type SelinuxProfile } from '../../src/k8s/api';
import { sameConditions, setCondition } from '../../src/k8s/conditions';

describe('aggregateState', () => {
  it("is SPO's lowest common state: Error < Terminating < Partial < Disabled < Pending < InProgress < Installed", () => {
    assert.equal(aggregateState([]), 'Pending');
    assert.equal(aggregateState(['Installed', 'Installed']), 'Installed');
    assert.equal(aggregateState(['Installed', 'Error', 'Terminating']), 'Error');
    assert.equal(aggregateState(['Installed', 'Terminating', 'Partial']), 'Terminating');
    assert.equal(aggregateState(['Disabled', 'Partial', 'Pending']), 'Partial');
    assert.equal(aggregateState(['Installed', 'Disabled', 'Pending']), 'Disabled');
    assert.equal(aggregateState(['Installed', 'InProgress', 'Pending']), 'Pending');
    assert.equal(aggregateState(['Installed', 'InProgress']), 'InProgress');
    const order = ['Error', 'Terminating', 'Partial', 'Disabled', 'Pending', 'InProgress', 'Installed'] as const;
    for (let i = 0; i < order.length; i++) for (let j = i; j < order.length; j++) {
      assert.equal(lowerOfTwoStates(order[i]!, order[j]!), order[i]);
      assert.equal(lowerOfTwoStates(order[j]!, order[i]!), order[i]);
    }
  });
});

describe('names of node status objects and label values', () => {
  it("is SPO's <kind lower case>-<profile>-<node> when it fits, a bounded valid name with a hash otherwise", () => {
    assert.equal(nodeStatusName('SeccompProfile', 'app', 'n1'), 'seccompprofile-app-n1');
    assert.equal(nodeStatusName('RawSelinuxProfile', 'app', 'n1'), 'rawselinuxprofile-app-n1');
    assert.equal(profileId('SelinuxProfile', 'app'), 'SelinuxProfile-app');
    const a = nodeStatusName('SeccompProfile', 'p'.repeat(250), 'node-a');
    const b = nodeStatusName('SeccompProfile', 'p'.repeat(250), 'node-b');
    assert.ok(a.length <= 253 && b.length <= 253);
    assert.notEqual(a, b);
    assert.match(a, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });
  it('keeps valid label values and derives valid ones from long values', () => {
    assert.equal(labelValue('SeccompProfile-app'), 'SeccompProfile-app');
    const v = labelValue(`SeccompProfile-${'x'.repeat(100)}`);
    assert.ok(v.length <= 63);
    assert.match(v, /^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$/);
    assert.notEqual(labelValue(`SeccompProfile-${'x'.repeat(100)}`), labelValue(`SeccompProfile-${'x'.repeat(101)}`));
  });
});

describe('pods referencing profiles', () => {
  const pod = (spec: PodLike['spec'], phase = 'Running'): PodLike => ({ metadata: { name: 'p', namespace: 'ns' }, spec, status: { phase } });
  it('reads operator/<name>.json at pod and container level, ignoring other profiles', () => {
    const p = pod({
      securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'operator/pod-level.json' } },
      containers: [
        { securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'operator/c1.json' } } },
        { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } },
        { securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'my/own.json' } } },
      ],
      initContainers: [{ securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'operator/init.json' } } }],
    });
    assert.deepEqual([...seccompProfilesOf(p)].sort(), ['c1', 'init', 'pod-level']);
    assert.equal(seccompProfilesOf(pod(p.spec, 'Succeeded')).size, 0, 'a finished pod uses nothing');
  });
  it('parses localhostProfile strictly', () => {
    assert.equal(profileNameOfLocalhost('operator/a.json'), 'a');
    assert.equal(profileNameOfLocalhost('operator/a/b.json'), undefined);
    assert.equal(profileNameOfLocalhost('operator/.json'), undefined);
    assert.equal(profileNameOfLocalhost('other/a.json'), undefined);
    assert.equal(profileNameOfLocalhost(undefined), undefined);
  });
  it('reads SELinux types <name>.process', () => {
    assert.deepEqual([...selinuxProfilesOf(pod({ containers: [{ securityContext: { seLinuxOptions: { type: 'web.process' } } }] }))], ['web']);
  });
});

describe('SelinuxProfile CIL', () => {
  const sp = (name: string, spec: SelinuxProfile['spec']): SelinuxProfile => ({ apiVersion: API_VERSION, kind: 'SelinuxProfile', metadata: { name }, spec });
  it('renders a block inheriting the templates with sorted allow rules', () => {
    const cil = selinuxProfileCil(sp('web', { inherit: [{ kind: 'System', name: 'container' }], allow: { var_log_t: { file: ['write', 'open', 'read'] }, '@self': { tcp_socket: ['listen'] } } }));
    assert.equal(cil, '(block web\n    (blockinherit container)\n    (allow process process (tcp_socket (listen)))\n    (allow process var_log_t (file (open read write)))\n)\n');
  });
  it('refuses names and identifiers that are not CIL names', () => {
    assert.throws(() => selinuxProfileCil(sp('a.b', {})), CilError);
    assert.throws(() => selinuxProfileCil(sp('ok', { allow: { 'x) (allow y': { file: ['read'] } } })), CilError);
    assert.throws(() => selinuxProfileCil(sp('ok', { allow: { t: { file: ['read)'] } } })), CilError);
  });
});

describe('conditions', () => {
  it('keeps lastTransitionTime while the status stays, moves it on a change', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Pending' }, t0);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'Error', message: 'x' }, new Date('2026-01-02T00:00:00Z'));
    assert.equal(b[0]!.lastTransitionTime, '2026-01-01T00:00:00Z');
    const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'Installed' }, new Date('2026-01-03T00:00:00Z'));
    assert.equal(c[0]!.lastTransitionTime, '2026-01-03T00:00:00Z');
    assert.ok(sameConditions(b, setCondition(b, { type: 'Ready', status: 'False', reason: 'Error', message: 'x' })));
    assert.ok(!sameConditions(a, b));
  });
});
