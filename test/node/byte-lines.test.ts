// ByteLines: the lines a tailer holds between a read and its batches, as byte ranges in typed arrays with
// one buffer and clean flag per run of lines. Fed by the real splitter, with a line carried across chunks
// (its own buffer), so that batches cut across runs read back exactly the lines that were written.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteLineSplitter } from '../../src/io/line-splitter';
import { ByteBatch, ByteLines } from '../../src/tail/lines';

function lineTexts(b: ByteLines): string[] {
  const out: string[] = [];
  for (let r = 0; r < b.runFrom.length; r++) {
    const to = r + 1 < b.runFrom.length ? b.runFrom[r + 1]! : b.length;
    for (let i = b.runFrom[r]!; i < to; i++) out.push(b.runBufs[r]!.toString('utf8', b.starts[i], b.ends[i]));
  }
  return out;
}

test('lines split across chunks read back in order, by run and by index, in every slice', () => {
  // more lines than the first capacity, so the arrays grow; a carried line and a non-ASCII one make runs
  const want: string[] = [];
  for (let i = 0; i < 3000; i++) want.push(i % 997 === 5 ? `line ${i} é` : `type=SECCOMP msg=audit(1.000:${i}): pid=${i}`);
  const bytes = Buffer.from(want.join('\n') + '\n');
  const split = new ByteLineSplitter(64 * 1024, () => assert.fail('no line is over-long'));
  const all = new ByteLines();
  // chunk boundaries in the middle of lines
  for (let at = 0; at < bytes.length; at += 7001) split.push(Buffer.from(bytes.subarray(at, Math.min(bytes.length, at + 7001))), all.add);
  assert.equal(all.length, want.length);
  assert.ok(all.runFrom.length > 2, `carried lines start runs of their own (${all.runFrom.length} runs)`);
  assert.deepEqual(lineTexts(all), want);
  for (let i = 0; i < want.length; i += 251) assert.equal(all.text(i), want[i]);
  // offsets: just past each line's newline
  let end = 0;
  for (let i = 0; i < want.length; i++) {
    end += Buffer.byteLength(want[i]!) + 1;
    assert.equal(all.offsets[i], end, `offset of line ${i}`);
  }
  // clean: false only for the runs holding a non-ASCII line
  for (let r = 0; r < all.runFrom.length; r++) {
    const to = r + 1 < all.runFrom.length ? all.runFrom[r + 1]! : all.length;
    const texts = want.slice(all.runFrom[r], to);
    if (all.runClean[r]) assert.ok(texts.every((t) => /^[\x20-\x7e]*$/.test(t)), `run ${r} is clean`);
  }
  for (const [from, to] of [
    [0, 1024],
    [1024, 2048],
    [1000, 1100],
    [2999, 3000],
    [0, 3000],
    [17, 17],
  ] as const) {
    const s = all.slice(from, to);
    assert.equal(s.length, to - from);
    assert.deepEqual(lineTexts(s), want.slice(from, to), `slice ${from}..${to}`);
    assert.deepEqual(new ByteBatch(s, { path: 'x', dev: 0, ino: 0, offset: 0 }).lines, want.slice(from, to));
    if (to > from) assert.equal(s.offsets[to - from - 1], all.offsets[to - 1]);
  }
});

test('empty lines are not kept, but a line after them is', () => {
  const b = new ByteLines(1);
  const buf = Buffer.from('a\n\nb\n');
  new ByteLineSplitter(100, () => undefined).push(buf, b.add);
  assert.deepEqual(lineTexts(b), ['a', 'b']);
  assert.deepEqual([...b.offsets.subarray(0, b.length)], [2, 5]);
});
