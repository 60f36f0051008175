// The consumer's gzip codec (src/kafka/decode-speedups.ts) inflates what it fetched synchronously: a batch that
// would inflate past its limit (a decompression bomb written by anyone who may write to the topic) is refused
// and counted; a batch under the limit comes back byte for byte, in both framings.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { inflateBatch, MAX_INFLATED_BYTES } from '../../src/kafka/decode-speedups';
import { registry } from '../../src/metrics';

async function refusedCount(): Promise<number> {
  const m = registry.getSingleMetric('auditflow_kafka_inflate_refused_total');
  return m ? ((await m.get()).values[0]?.value ?? 0) : 0;
}

test('a batch under the limit inflates to what was compressed, gzip and zlib framing alike', () => {
  const payload = Buffer.concat([randomBytes(300_000), Buffer.alloc(700_000, 'a')]);
  assert.ok(inflateBatch(zlib.gzipSync(payload)).equals(payload));
  assert.ok(inflateBatch(zlib.deflateSync(payload)).equals(payload));
});

test('a batch that inflates past the limit is refused with a message that says so, and counted', async () => {
  const before = await refusedCount();
  // 64 MiB of zeros compress to ~64 KiB; with a 1 MiB limit it must be refused
  const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
  assert.throws(() => inflateBatch(bomb, 1024 * 1024), /inflates past 1048576 bytes: refused/);
  assert.equal(await refusedCount(), before + 1);
  // and the default limit applies where none is given: one byte past it is refused
  const big = zlib.gzipSync(Buffer.alloc(MAX_INFLATED_BYTES + 1));
  assert.throws(() => inflateBatch(big), new RegExp(`inflates past ${MAX_INFLATED_BYTES} bytes: refused`));
  assert.equal(await refusedCount(), before + 2);
});

test('a corrupt batch fails with zlib\'s own error, not counted as refused', async () => {
  const before = await refusedCount();
  const bad = zlib.gzipSync(Buffer.from('x'.repeat(10_000)));
  assert.throws(() => inflateBatch(bad.subarray(0, 20)), (e: NodeJS.ErrnoException) => e.code !== undefined && e.code.startsWith('Z_'));
  assert.equal(await refusedCount(), before);
});
