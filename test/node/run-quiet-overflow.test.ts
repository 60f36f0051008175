// The quiet SECCOMP path (src/run/pipeline.ts) keeps the enrichment of the groups it has seen (process, second,
// syscall, executable) across batches, and forgets them all when more than it keeps arrive. A batch that both
// met groups seen before and brought that many new ones once lost the answers of the former mid-batch: their
// records went uncounted in the default run (metrics, recorder runs) and `--events all` crashed rendering them
// ("Cannot read properties of null (reading 'container')"), found by the live bench with process churn. Here a
// log of more new processes than the cache keeps, with one long-lived process between them in the same second,
// must give what the general path gives: the same metrics, and the same NDJSON bytes.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Enricher } from '../../src/enrich/enricher';
import { ProcCache } from '../../src/enrich/proc-cache';
import type { EventV1 } from '../../src/event/v1';
import { isDenial } from '../../src/event/decision';
import { createLogger } from '../../src/log';
import { registry } from '../../src/metrics';
import { Pipeline } from '../../src/run/pipeline';
import { NdjsonSink } from '../../src/sink/ndjson';
import { openTailer } from '../../src/tail';

/** more new processes than the quiet path keeps enriched groups of (QUIET_SEEN_MAX, 4096) */
const PROCESSES = 6000;

async function counted(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of ['auditflow_events_total', 'auditflow_enrich_events_total', 'auditflow_records_parsed_total']) {
    for (const v of (await registry.getSingleMetric(name)!.get()).values) out[`${name}${JSON.stringify(v.labels)}`] = v.value;
  }
  return out;
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v !== (a[k] ?? 0)) out[k] = v - (a[k] ?? 0);
  return out;
}

describe('pipeline: the quiet path when its cache of enriched groups overflows', () => {
  let tmp: string;
  let file: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-quiet-overflow-'));
    // One second of audit time: each new process (pids no process holds, so enriched as gone) logs a syscall,
    // and pid 1 (the host's init, alive) one every tenth line, so batches throughout hold a group seen before.
    const sec = Math.floor(Date.now() / 1000);
    const line = (serial: number, pid: number, comm: string) =>
      `type=SECCOMP msg=audit(${sec}.${String(serial % 1000).padStart(3, '0')}:${serial}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=${pid} comm="${comm}" exe="/usr/bin/${comm}" sig=0 arch=c000003e syscall=268 compat=0 ip=0x7f5c0fae83c7 code=0x7ffc0000`;
    const lines: string[] = [];
    for (let i = 0; i < PROCESSES; i++) {
      lines.push(line(lines.length + 1, 3_900_000 + i, 'chmod'));
      if (i % 10 === 0) lines.push(line(lines.length + 1, 1, 'init'));
    }
    file = path.join(tmp, 'audit.log');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const log = createLogger('test');

  it('the default run counts every record, as the general path does', async () => {
    const run = async (denialsOnly: boolean) => {
      const tailer = await openTailer({ path: file, checkpointPath: null, startAt: 'start', follow: false }, log);
      const enricher = new Enricher({ procs: new ProcCache(), resolver: null, log });
      const sink = { name: 'mem', write: async (_: readonly EventV1[]) => undefined, flush: async () => undefined, close: async () => undefined };
      const p = new Pipeline({ tailer, enricher, node: 'n1', sourceFile: file, log, idleFlushMs: Infinity, routes: [{ sink, accept: isDenial, denialsOnly }] });
      const m0 = await counted();
      await p.run();
      return { stats: p.stats, metrics: delta(m0, await counted()) };
    };
    const general = await run(false);
    const quiet = await run(true);
    const records = PROCESSES + PROCESSES / 10;
    assert.equal(general.stats.events, records, 'the general path made an event of each record');
    assert.equal(quiet.stats.quiet, records, 'the quiet path read every record');
    assert.equal(quiet.stats.events, records, 'and counted every one as an event');
    assert.deepEqual(quiet.metrics, general.metrics, 'the same metrics counted');
  });

  it('--events all to v1, ECS and OCSF renders every record, byte for byte the general path', async () => {
    const run = async (format: 'v1' | 'ecs' | 'ocsf', acceptsAll: boolean) => {
      const out = path.join(tmp, `events-${format}-${acceptsAll}.ndjson`);
      const tailer = await openTailer({ path: file, checkpointPath: null, startAt: 'start', follow: false }, log);
      const enricher = new Enricher({ procs: new ProcCache(), resolver: null, log });
      const sink = new NdjsonSink({ output: out, format, log, sync: false });
      await sink.open();
      const p = new Pipeline({ tailer, enricher, node: 'n1', sourceFile: file, log, idleFlushMs: Infinity, routes: [{ sink, accept: () => true, acceptsAll }] });
      await p.run();
      return { stats: p.stats, text: fs.readFileSync(out, 'utf8') };
    };
    for (const format of ['v1', 'ecs', 'ocsf'] as const) {
      const general = await run(format, false);
      const rendered = await run(format, true);
      assert.equal(rendered.stats.quiet, PROCESSES + PROCESSES / 10, `${format}: every record took the quiet path`);
      assert.equal(rendered.text.split('\n').length - 1, PROCESSES + PROCESSES / 10, `${format}: a line for every record`);
      assert.equal(rendered.text, general.text, `${format}: the same bytes`);
    }
  });
});
