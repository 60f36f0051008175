// The short chaos soak of issue 11 (test/soak/soak.ts; `npm run soak` is the long one): ~10k records/s through
// the real auditd for 30 s while `auditflow run` is SIGKILLed and restarted and auditd rotated at seeded random
// times (SOAK_SEED to replay one); then every serial auditd wrote for the workload is either in the output or
// inside a serial range auditflow logged as lost. RSS: no run's peak above the first run's peak + 150 MB. With a
// real Kafka broker (test/env/kafka.ts) as a second sink, SIGKILLed once and restarted while run produces. And the
// aggregator leg (test/soak/aggregation.ts): `auditflow aggregate --kubernetes` SIGKILLed and restarted at random,
// the apiserver restarted at random (a private instance: the shared one serves other test processes), and the
// SeccompProfile it writes must name exactly the syscalls run delivered with the workload's pod.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as path from 'node:path';
import { ensureKafka } from '../env/kafka';
import { ensurePrivateKube } from '../env/kube';
import { CACHE_DIR, ensureAuditd } from '../env/rig';
import { figuresTable, profileConsistent, rssFlat, runSoak } from '../soak/soak';

describe('chaos soak (short)', () => {
  it('kills and rotations under 10k records/s: every workload serial delivered or counted lost, the profile exact', { timeout: 420_000 }, async (t) => {
    await ensureAuditd();
    const seed = Number(process.env.SOAK_SEED ?? Date.now() % 100000);
    const [kafka, kube] = await Promise.all([ensureKafka(), ensurePrivateKube(path.join(CACHE_DIR, 'kube', 'soak-short-run'), 46543)]);
    t.after(() => Promise.all([kafka.stop(), kube.stop()]));
    const f = await runSoak({
      kafka,
      killKafkaEveryMs: [4000, 10000],
      kafkaDownMs: [1000, 3000],
      maxKafkaKills: 1,
      aggregation: { kube, killAggregatorEveryMs: [6000, 12000], aggregatorDownMs: [500, 3000], restartApiserverEveryMs: [10000, 20000], settleMs: 60_000 },
      seed,
      rate: 10_000,
      seconds: 30,
      killAfterMs: [2000, 6000],
      downMs: [200, 3000],
      rotateEveryMs: [3000, 8000],
      catchUpMs: 120_000, // an upper bound: the check ends as soon as everything is accounted for
      log: (l) => t.diagnostic(l),
    });
    for (const line of figuresTable(f).split('\n')) t.diagnostic(line);
    assert.ok(f.records >= 0.8 * f.rate * f.seconds, `a real load: ${f.records} workload records, expected about ${f.rate * f.seconds}`);
    assert.ok(
      f.kills >= 3 && f.rotations >= 2 && f.kafkaKills === 1 && f.aggregatorKills >= 1 && f.apiserverRestarts >= 1,
      `chaos happened: ${f.kills} kills, ${f.rotations} rotations, ${f.kafkaKills} broker kills, ${f.aggregatorKills} aggregator kills, ${f.apiserverRestarts} apiserver restarts`,
    );
    assert.equal(f.uncounted, 0, `serials neither delivered nor counted lost (seed ${seed}), e.g. ${f.uncountedSample.join(' ')}${f.stillCatchingUp ? '; the output was still growing when the catch-up time ran out' : ''}`);
    const rss = rssFlat(f, 150);
    assert.ok(rss.ok, `RSS flat: ${rss.why}`);
    const profile = profileConsistent(f);
    assert.ok(profile.ok, `the aggregator's profile (seed ${seed}): ${profile.why}`);
  });
});
