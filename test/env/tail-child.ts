// A crash-test subject for test/node/tail-crash.test.ts: tails a file with a checkpoint and, per batch,
// appends the lines to an output file, fsyncs it, and only then acks. Killed with SIGKILL at random
// moments; on SIGTERM it closes the tailer (final checkpoint) and exits 0.
//
//   node dist/test/env/tail-child.js <log file> <checkpoint> <output file> [checkpointIntervalMs]

import { fsyncSync, openSync, writeSync } from 'node:fs';
import { createLogger } from '../../src/log';
import { openTailer } from '../../src/tail';

async function main(): Promise<void> {
  const [file, checkpoint, out, interval] = process.argv.slice(2);
  if (!file || !checkpoint || !out) {
    process.stderr.write('usage: tail-child <log file> <checkpoint> <output file> [checkpointIntervalMs]\n');
    process.exit(2);
  }
  const log = createLogger('tail-child');
  const t = await openTailer(
    { path: file, checkpointPath: checkpoint, checkpointIntervalMs: Number(interval ?? 100), startAt: 'start', maxBatchLines: 64, pollIntervalMs: 20 },
    log,
  );
  const fd = openSync(out, 'a');
  process.on('SIGTERM', () => {
    void t.close().then(() => process.exit(0));
  });
  process.stdout.write('ready\n');
  for await (const b of t) {
    writeSync(fd, b.lines.join('\n') + '\n');
    fsyncSync(fd);
    t.ack(b.position);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`tail-child: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
