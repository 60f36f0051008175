// `auditflow run` settings: flags over a JSON config file, aliases of the deploy manifests, --record forms.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { buildRunConfig, ConfigError, readConfigFile } from '../../src/run/config';
import { parseRecordingFlags, RUN_RECORD_FLAG } from '../../src/recording/flags';

describe('run config', () => {
  it('defaults: auto source, stdout, v1, denials, no recordings', () => {
    const c = buildRunConfig({});
    assert.equal(c.auditLog, 'auto');
    assert.equal(c.output, '-');
    assert.equal(c.format, 'v1');
    assert.equal(c.events, 'denials');
    assert.equal(c.listen, '127.0.0.1:9090');
    assert.equal(c.checkpoint, '/var/lib/auditflow/checkpoint.json');
    assert.deepEqual(c.recordings, []);
  });

  it('flags win over the config file; the manifests\' aliases work; Kafka turns the default stdout stream off', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-cfg-')), 'c.json');
    fs.writeFileSync(f, JSON.stringify({ 'audit-log': '/a.log', format: 'ecs', record: ['web=app=web'], 'kafka-brokers': ['k1:9092,k2:9092'] }));
    const c = buildRunConfig({ format: 'ocsf', node: 'n7', 'metrics-address': '0.0.0.0:9100', proc: '/host/proc' }, readConfigFile(f));
    assert.equal(c.auditLog, '/a.log');
    assert.equal(c.format, 'ocsf');
    assert.equal(c.node, 'n7');
    assert.equal(c.listen, '0.0.0.0:9100');
    assert.equal(c.procRoot, '/host/proc');
    assert.deepEqual(c.kafkaBrokers, ['k1:9092', 'k2:9092']);
    assert.equal(c.output, null);
    assert.deepEqual([...new Set(c.recordings.map((r) => r.name))], ['web']);
    assert.throws(() => buildRunConfig({}, { 'no-such-key': 1 }), ConfigError);
  });

  it('fork lineage: installed and used by default; --no-install-fork-rule uses it only (a pod next to the audit-rules DaemonSet); --no-track-forks neither', () => {
    assert.deepEqual([buildRunConfig({}).trackForks, buildRunConfig({}).installForkRule], [true, true]);
    const pod = buildRunConfig({ 'no-install-fork-rule': true });
    assert.deepEqual([pod.trackForks, pod.installForkRule], [true, false]);
    assert.equal(buildRunConfig({ 'no-track-forks': true }).trackForks, false);
    // the config file knows the key too
    assert.equal(buildRunConfig({}, { 'no-install-fork-rule': true }).installForkRule, false);
  });

  it('--record: a selector, NAME=SELECTOR, defaults and refusals', () => {
    const r = parseRecordingFlags(['app=web', 'db=tier in (db,cache),!legacy', 'role'], { ...RUN_RECORD_FLAG, merge: 'none' });
    const names = r.filter((x) => x.kind === 'SeccompProfile').map((x) => x.name);
    assert.deepEqual(names, ['recorded', 'db', 'recorded-2']);
    assert.deepEqual(r[0]!.podSelector, { matchLabels: { app: 'web' } });
    assert.deepEqual(r.find((x) => x.name === 'db')!.podSelector, {
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['db', 'cache'] },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    assert.ok(r.every((x) => x.mergeStrategy === 'none' && x.namespace === null));
    assert.deepEqual(r.filter((x) => x.name === 'db').map((x) => x.kind).sort(), ['SeccompProfile', 'SelinuxProfile']);
    assert.throws(() => parseRecordingFlags(['a=b=c=d'], RUN_RECORD_FLAG), /not a label selector/);
    assert.throws(() => parseRecordingFlags(['web=app=a', 'web=app=b'], RUN_RECORD_FLAG), /given twice/);
    assert.throws(() => parseRecordingFlags(['app=web'], { ...RUN_RECORD_FLAG, defaultName: '../x' }), /DNS-1123/);
  });

  it('aggregate --recording: the same reader, where every value is NAME=SELECTOR', () => {
    const flag = { flag: '--recording', kinds: ['SelinuxProfile'] as const };
    // `web=app` is a selector to `run --record`, but the recording `web` of pods labelled `app` here
    const [web] = parseRecordingFlags(['web=app'], flag);
    assert.equal(web!.name, 'web');
    assert.equal(web!.kind, 'SelinuxProfile');
    assert.deepEqual(web!.podSelector, { matchExpressions: [{ key: 'app', operator: 'Exists' }] });
    assert.deepEqual(parseRecordingFlags(['web=app'], RUN_RECORD_FLAG)[0]!.podSelector, { matchLabels: { web: 'app' } });
    assert.throws(() => parseRecordingFlags(['app'], flag), /--recording "app": expected NAME=SELECTOR/);
    assert.throws(() => parseRecordingFlags(['Web=app=web'], flag), /DNS-1123/);
    assert.throws(() => parseRecordingFlags(['a=app=x', 'a=app=y'], flag), /given twice/);
    assert.throws(() => parseRecordingFlags(['x=tier in (a'], flag), /--recording "x=tier in \(a": SELECTOR: /);
  });
});
