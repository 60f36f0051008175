// Reads its stdin through openTailer({ path: '-' }) and prints one JSON object per batch on stdout:
// {"lines": [...], "offset": N}. Exits 0 at the end of the input. For test/node/tail-sources.test.ts.

import { createLogger } from '../../src/log';
import { openTailer } from '../../src/tail';

async function main(): Promise<void> {
  const t = await openTailer({ path: '-', checkpointPath: null, maxBatchLines: Number(process.argv[2] ?? 1024) }, createLogger('tail-stdin-child'));
  for await (const b of t) {
    process.stdout.write(JSON.stringify({ lines: b.lines, offset: b.position.offset, path: b.position.path }) + '\n');
    t.ack(b.position);
  }
  const s = t.stats!();
  process.stdout.write(JSON.stringify({ stats: { bytesRead: s.bytesRead, linesRead: s.linesRead, overlongLines: s.overlongLines } }) + '\n');
  await t.close();
}

main().catch((e: Error) => {
  process.stderr.write(`tail-stdin-child: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
