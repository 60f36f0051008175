// `auditflow run` settings: flags over a JSON config file, aliases of the deploy manifests, --record forms.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { buildRunConfig, ConfigError, parseRecordings, readConfigFile } from '../../src/run/config';

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

  it('--record: a selector, NAME=SELECTOR, defaults and refusals', () => {
    const r = parseRecordings(['app=web', 'db=tier in (db,cache),!legacy', 'role'], { merge: 'none' });
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
    assert.throws(() => parseRecordings(['a=b=c=d']), /not a label selector/);
    assert.throws(() => parseRecordings(['web=app=a', 'web=app=b']), /given twice/);
    assert.throws(() => parseRecordings(['app=web'], { name: '../x' }), /DNS-1123/);
  });
});
