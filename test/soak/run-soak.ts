// `npm run soak`: the long chaos soak of issue 11 (test/soak/soak.ts), one phase per rate, and a figures table
// per phase. Exit 1 when a phase has uncounted losses or RSS grows beyond the margin.
//
//   node dist/test/soak/run-soak.js [--rates 10000,50000] [--seconds 180] [--seed N] [--no-kafka]
//                                   [--loss-bursts N] [--rss-margin-mb 200]
//
// --loss-bursts N: N times, while auditflow is down, rotate auditd num_logs+1 times so files are deleted unread
// and auditflow must count them as lost. It deletes files other readers of this auditd may still need: use it
// on a machine where nothing else reads the audit log.
import { parseArgs } from 'node:util';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { figuresTable, rssFlat, runSoak, type SoakFigures } from './soak';

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    options: {
      rates: { type: 'string', default: '10000,50000' },
      seconds: { type: 'string', default: '180' },
      seed: { type: 'string' },
      'no-kafka': { type: 'boolean', default: false },
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
  const results: { f: SoakFigures; rss: { ok: boolean; why: string } }[] = [];
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
        lossBursts: Number(v['loss-bursts']),
        catchUpMs: 300_000,
        keepLogsDir: `/tmp/soak-of-auditflow-logs-${seed}`,
        log: (l) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${l}`),
      });
      const rss = rssFlat(f, margin);
      results.push({ f, rss });
      console.log(figuresTable(f));
      console.log(`logs of the runs: /tmp/soak-of-auditflow-logs-${seed}`);
      console.log(`RSS flat (margin ${margin} MB): ${rss.ok ? 'yes' : 'NO'} (${rss.why})`);
    }
  } finally {
    await kafka?.stop().catch(() => undefined);
  }
  let bad = 0;
  console.log('\n== summary');
  for (const { f, rss } of results) {
    const ok = f.uncounted === 0 && rss.ok;
    if (!ok) bad++;
    console.log(`${ok ? 'PASS' : 'FAIL'} ${f.rate}/s × ${f.seconds} s seed ${f.seed}: ${f.records} records, ${f.lost} lost (${f.countedLost} counted, ${f.uncounted} uncounted), ${f.extraCopies} duplicates, ${f.kills} kills, ${f.rotations} rotations, ${f.kafkaKills} broker kills, max lag ${(f.maxLagMs / 1000).toFixed(1)} s (${(f.maxLagKafkaDownMs / 1000).toFixed(1)} s with the broker down), counted lost ${f.auditflowLostTotal} (upper bound; ${f.overCounted} workload serials in it delivered), RSS peaks ${Math.min(...f.rssPeaksMb)}-${Math.max(...f.rssPeaksMb)} MB`);
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
