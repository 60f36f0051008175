// Group commit (src/run/pipeline.ts, EventSink.sync): the NDJSON file sink of `auditflow run` fsyncs once per
// interval instead of once per batch. The at-least-once contract must hold all the same: the tailer is acked
// for a batch only after a sync that began once the batch's events were written, so a crash never loses an
// acked event. A real tailer reads a real file in many small batches; the real NDJSON sink writes a real file.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { Enricher } from '../../src/enrich/enricher';
import { ProcCache } from '../../src/enrich/proc-cache';
import { createLogger } from '../../src/log';
import { Pipeline } from '../../src/run/pipeline';
import { NdjsonSink } from '../../src/sink/ndjson';
import { openTailer } from '../../src/tail';
import type { TailPosition } from '../../src/tail/types';

describe('pipeline: group commit of the NDJSON sink', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-group-commit-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('acks a batch only after a sync that followed its write, with far fewer syncs than batches', async () => {
    // this process's own pid, stamped now: every record resolves at once (to the host), none is held back
    const now = Date.now() / 1000;
    const lines: string[] = [];
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      lines.push(`type=SECCOMP msg=audit(${(now + i / 1e6).toFixed(3)}:${1000 + i}): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=${process.pid} comm="node" exe="/usr/bin/node" sig=0 arch=c000003e syscall=${i % 300} compat=0 ip=0x7f0 code=0x7ffc0000`);
    }
    const input = path.join(tmp, 'audit.log');
    fs.writeFileSync(input, lines.join('\n') + '\n');
    const output = path.join(tmp, 'events.ndjson');
    const log = createLogger('test');

    const real = await openTailer({ path: input, checkpointPath: null, startAt: 'start', follow: false, maxBatchLines: 100 }, log);
    const sink = new NdjsonSink({ output, format: 'v1', log, groupCommit: true });
    assert.ok(sink.sync, 'with groupCommit the file sink commits in groups');
    let written = 0; // events whose write() resolved
    let synced = 0; // events written before the start of a sync that resolved
    let syncs = 0;
    let batches = 0;
    const acks: { offset: number; durable: number }[] = [];
    const write = sink.write.bind(sink);
    sink.write = async (evs) => {
      await write(evs);
      written += evs.length;
    };
    const sync = sink.sync.bind(sink);
    (sink as { sync: () => Promise<void> }).sync = async () => {
      const before = written;
      await sync();
      syncs++;
      synced = before;
    };
    const tailer = {
      async *[Symbol.asyncIterator]() {
        for await (const b of real) {
          batches++;
          yield b;
        }
      },
      ack(pos: TailPosition, stamp?: string | null) {
        acks.push({ offset: pos.offset, durable: synced });
        real.ack(pos, stamp);
      },
      close: () => real.close(),
    };
    const pipeline = new Pipeline({
      tailer,
      enricher: new Enricher({ procs: new ProcCache(), resolver: null, log }),
      routes: [{ sink, accept: () => true }],
      node: 'test',
      sourceFile: input,
      log,
    });
    await pipeline.run();

    const out = fs.readFileSync(output, 'utf8').split('\n').filter((l) => l !== '');
    assert.equal(out.length, n, 'every record became one event in the file');
    assert.ok(batches >= 100, `the tailer handed over many batches (${batches})`);
    assert.ok(acks.length > 0 && acks[acks.length - 1]!.offset === fs.statSync(input).size, 'the whole input is acked at the end');
    // The line ending at `offset` is record number (lines up to it): it must have been durable when acked.
    const ends: number[] = [];
    let off = 0;
    for (const l of lines) ends.push((off += Buffer.byteLength(l) + 1));
    for (const a of acks) {
      const recordsAcked = ends.filter((e) => e <= a.offset).length;
      assert.ok(recordsAcked <= a.durable, `ack at byte ${a.offset} covers ${recordsAcked} records, but only ${a.durable} were synced`);
    }
    assert.ok(syncs < batches / 2, `${syncs} syncs for ${batches} batches: committed in groups`);
  });
});
