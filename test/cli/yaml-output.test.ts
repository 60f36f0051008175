// Issue 10, YAML: names from the audit log (SELinux types, syscalls, labels) are map keys and values of the
// SeccompProfile/SelinuxProfile YAML; YAML 1.1 readers (PyYAML here, Go's yaml.v2 in SPO) and YAML 1.2
// readers (js-yaml) must read every one back as the same string.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AvcInfo } from '../../parsers';
import { SelinuxProfileBuilder } from '../../src/profile/selinux';
import { toYaml } from '../../src/profile/yaml';
import { jsYamlLoad, pyYamlLoad } from '../env/yaml-check';

/** Scalars YAML 1.1 or 1.2 would read as something else, or that break a line or the syntax. */
const YAML_HOSTILE = [
  'null', 'NULL', 'Null', '~', 'on', 'On', 'ON', 'yes', 'Yes', 'YES', 'y', 'Y', 'n', 'N', 'true', 'True', 'TRUE',
  'off', 'Off', 'no', 'NO', 'false', 'False',
  '0x1f', '1e3', '1.5', '0o7', '0o17', '1_000', '12:30', '12:30:45', '190:20:30.15', '.inf', '-.inf', '.nan', '.NaN',
  '2001-12-14', '2001-12-14t21:59:43.10-05:00', '0b101', '+1', '-1', '1.', '010', '0777', '<<', '=', '', ' ',
  'a: b', 'a #b', '#c', '-x', '- x', '*alias', '&anchor', '!tag', '!!str', '%dir', '@x', '`x', '|', '>', '?', '? x',
  "'", '"', '\\', 'a\\b', '\\x41', '[a]', '{a}', ',', 'x,y', '---', '...', 'tab\there', 'nl\nx', 'cr\rx', '\x00',
  '\x07', '\x1b]0;pwned\x07', '\x7f', '\x85', '\x9b', 'a\u2028b', 'a\u2029b', '\u202etxt.exe', '\ufeff', 'z\u200bw',
  '\ud800', 'lone\udfff', '\ufffe', '\uffff', 'é', '日本', '😀', '\u{e0001}tag', 'ends with space ', ' leading',
  'ok_name', 'container_file_t', 'spo.x-k8s.io/recording-id', '../../etc/passwd',
];

test('every hostile string reads back as itself, as a key and as a value, in PyYAML (1.1) and js-yaml (1.2)', () => {
  const doc: Record<string, unknown> = {};
  for (const [i, s] of YAML_HOSTILE.entries()) doc[s] = { value: s, list: [s, `${i}`], nested: { [s]: [s] } };
  const yaml = toYaml({ spec: { allow: doc }, last: 'x' });
  assert.deepEqual(jsYamlLoad(yaml), { spec: { allow: doc }, last: 'x' });
  const [py] = pyYamlLoad([yaml]);
  assert.ok(py && 'ok' in py, `PyYAML refused the YAML: ${py && 'error' in py ? py.error : ''}`);
  assert.deepEqual(py.ok, { spec: { allow: doc }, last: 'x' });
});

test('the YAML text carries no raw control, line-separator, bidi or format character', () => {
  const yaml = toYaml({ allow: Object.fromEntries(YAML_HOSTILE.map((s) => [s, [s]])) });
  const bad = yaml.match(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\p{Cf}\p{Cs}\ufffe\uffff]/gu);
  assert.equal(bad, null, `raw characters: ${JSON.stringify(bad)}`);
  // one line per scalar: nothing a name holds can start another key
  assert.equal(yaml.trimEnd().split('\n').length, 1 + 2 * YAML_HOSTILE.length);
});

test('a SelinuxProfile whose target types are YAML 1.1 words keeps every rule in PyYAML (SPO reads YAML 1.1)', () => {
  const types = ['null', 'NULL', 'on', 'yes', 'y', 'true', 'off', 'no', 'n', 'False', 'Null', 'ON'];
  const b = new SelinuxProfileBuilder();
  for (const t of types) {
    b.add({
      decision: 'denied', permissions: ['read'], scontext: undefined, tcontext: undefined, tclass: 'file', permissive: undefined,
      source: { user: 'u', role: 'r', type: 'container_t', level: undefined }, target: { user: 'u', role: 'r', type: t, level: undefined },
    } as AvcInfo);
  }
  const res = b.toResource('demo');
  const yaml = toYaml(res);
  const [py] = pyYamlLoad([yaml]);
  assert.ok(py && 'ok' in py, `PyYAML refused the YAML: ${py && 'error' in py ? py.error : ''}`);
  const allow = (py.ok as { spec: { allow: Record<string, unknown> } }).spec.allow;
  assert.deepEqual(Object.keys(allow).sort(), [...types].sort(), 'one rule per target type, keys are the type names');
  assert.deepEqual(py.ok, JSON.parse(JSON.stringify(res)));
  assert.deepEqual(jsYamlLoad(yaml), JSON.parse(JSON.stringify(res)));
});

test('keys longer than a YAML simple key (1024 characters) are written as explicit keys and read back', () => {
  const long = 'a'.repeat(3000);
  const longQuoted = 'n\u202e'.repeat(700);
  const doc = { m: { [long]: 'v', [longQuoted]: ['x', 'y'], [long + 'b']: { k: long }, [long + 'c']: [], short: 1 }, l: [{ [long]: 'first' }] };
  const yaml = toYaml(doc);
  assert.deepEqual(jsYamlLoad(yaml), doc);
  const [py] = pyYamlLoad([yaml]);
  assert.ok(py && 'ok' in py, `PyYAML refused the YAML: ${py && 'error' in py ? py.error : ''}`);
  assert.deepEqual(py.ok, doc);
});

test('numbers read back as the same numbers in YAML 1.1 and 1.2 (a float needs a ".")', () => {
  const doc = { a: 0, b: -3, c: 1.5, d: 1e21, e: 1.5e-7, f: -2e-9, g: 2 ** 53, t: true, u: false, z: null };
  const yaml = toYaml(doc);
  assert.deepEqual(jsYamlLoad(yaml), doc);
  const [py] = pyYamlLoad([yaml]);
  assert.ok(py && 'ok' in py);
  assert.deepEqual(py.ok, doc);
});
