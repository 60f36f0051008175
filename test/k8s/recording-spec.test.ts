// ProfileRecording → RecordingSpec mapping (what the aggregator receives from the recording controller).
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ANNOTATION_BASE_PROFILE_NAME, API_VERSION, type ProfileRecording } from '../../src/k8s/api';
import { recordingSpecOf } from '../../src/k8s/recording-controller';

const rec = (name: string, spec: Partial<ProfileRecording['spec']>): ProfileRecording => ({
  apiVersion: API_VERSION,
  kind: 'ProfileRecording',
  metadata: { name, namespace: 'team-a' },
  spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'demo' } }, ...spec } as ProfileRecording['spec'],
});

describe('recordingSpecOf', () => {
  it('maps an SPO recording, namespace and merge strategy included', () => {
    assert.deepEqual(recordingSpecOf(rec('demo', { mergeStrategy: 'Containers', containers: ['web'] })), {
      spec: { name: 'demo', namespace: 'team-a', kind: 'SeccompProfile', podSelector: { matchLabels: { app: 'demo' } }, mergeStrategy: 'containers', containers: ['web'] },
    });
    assert.equal((recordingSpecOf(rec('demo', {})) as { spec: { mergeStrategy: string } }).spec.mergeStrategy, 'none');
    // SPO's CRD spells the enums in lower case.
    const spo = recordingSpecOf(rec('demo', { recorder: 'logs' as 'Logs', mergeStrategy: 'containers' as 'Containers' }));
    assert.ok('spec' in spo);
    assert.equal(spo.spec.mergeStrategy, 'containers');
  });
  it('refuses what cannot be recorded from logs, with a reason', () => {
    const bad: [ProfileRecording, RegExp][] = [
      [rec('demo', { recorder: 'Bpf' }), /recorder Bpf is not supported: auditflow records from the audit log only/],
      [rec('demo', { recorder: 'bpf' as 'Logs' }), /recorder Bpf is not supported/],
      [rec('demo', { kind: 'AppArmorProfile' as 'SeccompProfile' }), /kind "AppArmorProfile"/],
      [rec('x'.repeat(64), {}), /DNS-1123 label/],
      [rec('demo', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] } }), /needs values/],
    ];
    for (const [r, re] of bad) {
      const s = recordingSpecOf(r);
      assert.ok('error' in s, JSON.stringify(r.spec));
      assert.match(s.error, re);
      assert.match(s.error, /nothing will be recorded|needs values/);
    }
  });
  it(`takes the base of its SeccompProfiles from the auditflow extension annotation ${ANNOTATION_BASE_PROFILE_NAME}, validated`, () => {
    const based = (base: string, spec: Partial<ProfileRecording['spec']> = {}): ProfileRecording => {
      const r = rec('demo', spec);
      r.metadata.annotations = { [ANNOTATION_BASE_PROFILE_NAME]: base };
      return r;
    };
    const ref = `oci://registry.example:5000/profiles/runtime@sha256:${'a'.repeat(64)}`;
    for (const base of [ref, 'oci://registry.example/profiles/runtime:v1', 'runtime-base']) {
      const s = recordingSpecOf(based(base));
      assert.ok('spec' in s, JSON.stringify(s));
      assert.equal(s.spec.baseProfileName, base);
    }
    assert.equal((recordingSpecOf(rec('demo', {})) as { spec: { baseProfileName?: string } }).spec.baseProfileName, undefined, 'no annotation: no base');
    const bad: [ProfileRecording, RegExp][] = [
      [based('oci://no-repository'), /expected REGISTRY\/REPOSITORY/],
      [based('oci://registry.example/profiles/runtime@sha256:short'), /digest must be sha256/],
      [based('../etc/passwd'), /./],
      [based(''), /./],
      [based('runtime-base', { kind: 'SelinuxProfile' }), /for SeccompProfile recordings/],
    ];
    for (const [r, re] of bad) {
      const s = recordingSpecOf(r);
      assert.ok('error' in s, JSON.stringify(r.metadata));
      assert.equal(s.reason, 'InvalidBaseProfileName');
      assert.match(s.error, re);
      assert.match(s.error, /auditflow\.dev\/base-profile-name/);
    }
  });
});
