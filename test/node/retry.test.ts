// The one retry loop and backoff (src/retry.ts): the delays, a caller that stops the loop by throwing, and
// a shutdown that ends a wait. No timing is asserted: the delays are computed, and waits are 1 ms or aborted.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, DEFAULT_BACKOFF, retry, sleepUnlessAborted } from '../../src/retry';

test('the default backoff doubles from 100 ms and stops at 5 s, however long the outage', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 100, 10_000].map((a) => backoffMs(a)), [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
  assert.equal(backoffMs(0, DEFAULT_BACKOFF), 100);
  assert.equal(backoffMs(-1), 100, 'a negative attempt is the first');
});

test('a policy sets the start and the cap (the Kubernetes work queue: 200 ms to 60 s)', () => {
  const p = { initialMs: 200, maxMs: 60_000 };
  assert.deepEqual([0, 1, 5, 8, 9, 50].map((a) => backoffMs(a, p)), [200, 400, 6400, 51_200, 60_000, 60_000]);
});

test('jitter waits 50–100 % of the delay, and differs between calls', () => {
  const p = { initialMs: 1000, maxMs: 1000, jitter: true };
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const d = backoffMs(3, p);
    assert.ok(d >= 500 && d <= 1000, `${d} outside [500, 1000]`);
    seen.add(d);
  }
  assert.ok(seen.size > 1, 'jittered delays are not all equal');
});

test('retry runs the operation until it succeeds; onFailure sees each error with its attempt number', async () => {
  const ac = new AbortController();
  const failures: [string, number][] = [];
  let calls = 0;
  const v = await retry(
    async (attempt) => {
      assert.equal(attempt, calls++);
      if (attempt < 3) throw new Error(`fail ${attempt}`);
      return 'done';
    },
    (err, attempt) => failures.push([(err as Error).message, attempt]),
    { signal: ac.signal, backoff: { initialMs: 1, maxMs: 1 } },
  );
  assert.equal(v, 'done');
  assert.deepEqual(failures, [['fail 0', 0], ['fail 1', 1], ['fail 2', 2]]);
});

test('onFailure stops the loop by throwing: that error is what retry rejects with, and op is not run again', async () => {
  const ac = new AbortController();
  let calls = 0;
  const final = new Error('permanent');
  await assert.rejects(
    retry(
      async () => {
        calls++;
        throw new Error(calls === 1 ? 'transient' : 'fatal');
      },
      (err) => {
        if ((err as Error).message === 'fatal') throw final;
      },
      { signal: ac.signal, backoff: { initialMs: 1, maxMs: 1 } },
    ),
    (e) => e === final,
  );
  assert.equal(calls, 2);
});

test('an abort ends the wait between attempts with the signal\'s reason', async () => {
  const ac = new AbortController();
  const reason = new Error('grace period over');
  let calls = 0;
  const p = retry(
    async () => {
      calls++;
      throw new Error('down');
    },
    () => setImmediate(() => ac.abort(reason)), // aborts during the first wait, which would last an hour
    { signal: ac.signal, backoff: { initialMs: 3_600_000, maxMs: 3_600_000 } },
  );
  await assert.rejects(p, (e) => e === reason);
  assert.equal(calls, 1);
  await assert.rejects(sleepUnlessAborted(3_600_000, ac.signal), (e) => e === reason, 'an aborted signal never sleeps');
});
