// Label selectors (src/profile/selector.ts): kubectl's string syntax, Kubernetes matching semantics, and the
// string form back.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { formatSelector, matchesSelector, parseSelector, SelectorError } from '../../src/profile/selector';

describe('label selectors', () => {
  it('parses every kubectl form', () => {
    assert.deepEqual(parseSelector('app=web,tier!=db,env in (a, b),zone notin (x),gpu,!legacy,k==v'), {
      matchLabels: { app: 'web', k: 'v' },
      matchExpressions: [
        { key: 'tier', operator: 'NotIn', values: ['db'] },
        { key: 'env', operator: 'In', values: ['a', 'b'] },
        { key: 'zone', operator: 'NotIn', values: ['x'] },
        { key: 'gpu', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    assert.deepEqual(parseSelector('example.com/team=sec'), { matchLabels: { 'example.com/team': 'sec' } });
    assert.deepEqual(parseSelector(''), {});
  });

  it('matches as Kubernetes does (an empty selector matches everything)', () => {
    const s = parseSelector('app=web,tier!=db,env in (a,b),!legacy');
    assert.equal(matchesSelector(s, { app: 'web', env: 'a' }), true);
    assert.equal(matchesSelector(s, { app: 'web', env: 'a', tier: 'db' }), false);
    assert.equal(matchesSelector(s, { app: 'web', env: 'c' }), false);
    assert.equal(matchesSelector(s, { app: 'web', env: 'b', legacy: 'yes' }), false);
    assert.equal(matchesSelector(s, null), false);
    assert.equal(matchesSelector({}, null), true);
    assert.equal(matchesSelector(parseSelector('x notin (1)'), {}), true, 'NotIn matches a missing key');
  });

  it('refuses invalid keys, values and syntax', () => {
    for (const bad of ['app=web,', ',app', 'a b=c', 'app=we b', 'app=-web', `k=${'v'.repeat(64)}`, 'UPPER/x=y', 'env in a,b', '=v']) {
      assert.throws(() => parseSelector(bad), SelectorError, bad);
    }
  });

  it('formats back to the kubectl form', () => {
    for (const s of ['app=web,env in (a,b)', 'gpu,!legacy', 'tier notin (db)']) assert.deepEqual(parseSelector(formatSelector(parseSelector(s))), parseSelector(s));
    assert.equal(formatSelector(parseSelector('app=web,gpu')), 'app=web,gpu');
  });
});
