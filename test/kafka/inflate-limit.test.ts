// The consumer's gzip inflater (src/kafka/decode-speedups.ts): a batch that would inflate past its limit (a
// decompression bomb written by anyone who may write to the topic) is refused before it grows past it; a batch
// under the limit comes back byte for byte, in both framings. What the consumer then does with a refused batch
// (its records handed out empty, counted) is tested on the real broker in decode-speedups.test.ts.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { inflateBatch, MAX_INFLATED_BYTES, RefusedBatch } from '../../src/kafka/decode-speedups';

test('a batch under the limit inflates to what was compressed, gzip and zlib framing alike', () => {
  const payload = Buffer.concat([randomBytes(300_000), Buffer.alloc(700_000, 'a')]);
  assert.ok(inflateBatch(zlib.gzipSync(payload)).equals(payload));
  assert.ok(inflateBatch(zlib.deflateSync(payload)).equals(payload));
});

test('a batch that inflates past the limit is refused with a message that says so', () => {
  // 64 MiB of zeros compress to ~64 KiB; with a 1 MiB limit it must be refused
  const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
  assert.throws(() => inflateBatch(bomb, 1024 * 1024), (e: unknown) => e instanceof RefusedBatch && /inflates past 1048576 bytes: refused/.test(e.message));
  // and the default limit applies where none is given: one byte past it is refused
  const big = zlib.gzipSync(Buffer.alloc(MAX_INFLATED_BYTES + 1));
  assert.throws(() => inflateBatch(big), (e: unknown) => e instanceof RefusedBatch && e.message.includes(`inflates past ${MAX_INFLATED_BYTES} bytes`));
});

test("a corrupt batch fails with zlib's own error, not as refused", () => {
  const bad = zlib.gzipSync(Buffer.from('x'.repeat(10_000)));
  assert.throws(() => inflateBatch(bad.subarray(0, 20)), (e: NodeJS.ErrnoException) => !(e instanceof RefusedBatch) && e.code !== undefined && e.code.startsWith('Z_'));
});
