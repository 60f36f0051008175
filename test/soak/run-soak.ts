// `npm run soak`: the long chaos soak of issue 11 (test/soak/soak.ts), one phase per rate, and a figures table
// per phase. Exit 1 when a phase has uncounted losses, RSS grows beyond the margin, or the aggregator's profile
// is not exactly the workload's syscalls.
//
//   node dist/test/soak/run-soak.js [--rates 10000,50000] [--seconds 180] [--seed N] [--no-kafka]
//                                   [--no-aggregator] [--loss-bursts N] [--rss-margin-mb 200]
//
// With Kafka (the default) the aggregator leg runs too (test/soak/aggregation.ts): `auditflow aggregate
// --kubernetes` SIGKILLed at random, and the apiserver restarted at random. That apiserver is a private
// instance (test/env/kube.ts ensurePrivateKube, state in $AUDITFLOW_CACHE/kube/soak-run, its own ports and
// etcd), started for the soak and stopped after it: the shared one serves other test processes.
//
// --loss-bursts N: N times, while auditflow is down, rotate auditd num_logs+1 times so files are deleted unread
// and auditflow must count them as lost. It deletes files other readers of this auditd may still need: use it
// on a machine where nothing else reads the audit log.
import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { ensurePrivateKube } from '../env/kube';
import { CACHE_DIR } from '../env/rig';
import { figuresTable, profileConsistent, rssFlat, runSoak, type SoakFigures } from './soak';

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    options: {
      rates: { type: 'string', default: '10000,50000' },
      seconds: { type: 'string', default: '180' },
      seed: { type: 'string' },
      'no-kafka': { type: 'boolean', default: false },
      'no-aggregator': { type: 'boolean', default: false },
      'loss-bursts': { type: 'string', default: '0' },
      'rss-margin-mb': { type: 'string', default: '200' },
    },
  });
  const rates = v.rates!.split(',').map(Number);
  const seconds = Number(v.seconds);
  const seed0 = v.seed !== undefined ? Number(v.seed) : Date.now() % 100000;
  const margin = Number(v['rss-margin-mb']);
  let kafka: KafkaBroker | undefined;
  if (!v['no-kafka']) kafka = await ensureKafka();
  const kube = kafka && !v['no-aggregator'] ? await ensurePrivateKube(path.join(CACHE_DIR, 'kube', 'soak-run'), 46443) : undefined;
  const results: { f: SoakFigures; rss: { ok: boolean; why: string }; profile: { ok: boolean; why: string } }[] = [];
  try {
    for (const [i, rate] of rates.entries()) {
      const seed = seed0 + i;
      console.log(`\n== soak phase ${i + 1}: ${rate} records/s for ${seconds} s, seed ${seed}${kafka ? ', Kafka' : ''}`);
      const f = await runSoak({
        seed,
        rate,
        seconds,
        killAfterMs: [3000, 15000],
        downMs: [200, 5000],
        rotateEveryMs: [3000, 15000],
        ...(kafka ? { kafka, killKafkaEveryMs: [20000, 60000] as [number, number], kafkaDownMs: [1000, 10000] as [number, number] } : {}),
        ...(kube ? { aggregation: { kube, killAggregatorEveryMs: [5000, 20000] as [number, number], aggregatorDownMs: [500, 8000] as [number, number], restartApiserverEveryMs: [10000, 30000] as [number, number] } } : {}),
        lossBursts: Number(v['loss-bursts']),
        catchUpMs: 300_000,
        keepLogsDir: `/tmp/soak-of-auditflow-logs-${seed}`,
        log: (l) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${l}`),
      });
      const rss = rssFlat(f, margin);
      const profile = profileConsistent(f);
      results.push({ f, rss, profile });
      console.log(figuresTable(f));
      console.log(`logs of the runs: /tmp/soak-of-auditflow-logs-${seed}`);
      console.log(`RSS flat (margin ${margin} MB): ${rss.ok ? 'yes' : 'NO'} (${rss.why})`);
      if (f.aggregation) console.log(`aggregator profile consistent: ${profile.ok ? 'yes' : 'NO'} (${profile.why})`);
    }
  } finally {
    await kafka?.stop().catch(() => undefined);
    await kube?.stop().catch(() => undefined);
  }
  let bad = 0;
  console.log('\n== summary');
  for (const { f, rss, profile } of results) {
    const ok = f.uncounted === 0 && rss.ok && profile.ok;
    if (!ok) bad++;
    console.log(`${ok ? 'PASS' : 'FAIL'} ${f.rate}/s × ${f.seconds} s seed ${f.seed}: ${f.records} records, ${f.lost} lost (${f.countedLost} counted, ${f.uncounted} uncounted), ${f.extraCopies} duplicates, ${f.kills} kills, ${f.rotations} rotations, ${f.kafkaKills} broker kills, ${f.aggregatorKills} aggregator kills, ${f.apiserverRestarts} apiserver restarts${f.aggregation ? ` (profile ${profile.ok ? 'consistent' : 'NOT consistent'}: ${profile.why})` : ''}, max lag ${(f.maxLagMs / 1000).toFixed(1)} s (${(f.maxLagKafkaDownMs / 1000).toFixed(1)} s with the broker down), counted lost ${f.auditflowLostTotal} (upper bound; ${f.overCounted} workload serials in it delivered), RSS peaks ${Math.min(...f.rssPeaksMb)}-${Math.max(...f.rssPeaksMb)} MB (flat within ${margin} MB: ${rss.ok ? 'yes' : 'NO'}, ${rss.why})`);
    if (f.uncounted) console.log(`  uncounted serials, e.g. ${f.uncountedSample.join(' ')}${f.stillCatchingUp ? ' (output still growing when the catch-up time ran out)' : ''}`);
  }
  return bad ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(2);
  },
);
