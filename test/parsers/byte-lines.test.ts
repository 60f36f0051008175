// The byte line splitter under the hot path: whatever the chunking, it hands out the same lines as
// splitting the whole input on '\n', drops over-long lines (counted in bytes) and keeps a last line
// without newline; its `clean` flag is never set on a line holding a NUL or a non-ASCII byte; every line and
// every dropped line reports the stream offset just past its newline (what the tailer checkpoints).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteLineSplitter } from '../../src/io/line-splitter';
import { rng } from '../env/seeded';

describe('byte line splitter', () => {
  it('gives the lines of a plain split for any chunking, dropping over-long ones', () => {
    const rand = rng(0xb17e5);
    const MAX = 300;
    const START = 1_000_000;
    for (let round = 0; round < 200; round++) {
      const lines: string[] = [];
      const n = Math.floor(rand() * 60);
      for (let i = 0; i < n; i++) {
        const len = rand() < 0.05 ? MAX + Math.floor(rand() * 400) : Math.floor(rand() * 120);
        let l = '';
        for (let k = 0; k < len; k++) l += rand() < 0.9 ? String.fromCharCode(0x20 + Math.floor(rand() * 95)) : ['é', '\0', '\x1d', '\ufffd'][k % 4];
        lines.push(l);
      }
      const text = lines.join('\n') + (rand() < 0.5 ? '\n' : '');
      const input = Buffer.from(text, 'utf8');
      const want = text === '' ? [] : (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
      // where each line ends in the stream: past its newline, or past the input for a last line without one
      const ends: number[] = [];
      for (let i = 0, at = START; i < want.length; i++) {
        at += Buffer.byteLength(want[i]!) + 1;
        ends.push(Math.min(at, START + input.length));
      }
      const got: string[] = [];
      const gotEnds: number[] = [];
      const dropped: number[] = [];
      const droppedEnds: number[] = [];
      const sp = new ByteLineSplitter(
        MAX,
        (b, end) => {
          dropped.push(b);
          droppedEnds.push(end);
        },
        START,
      );
      const onLine = (buf: Buffer, s: number, e: number, clean: boolean, offset: number) => {
        const bytes = buf.subarray(s, e);
        if (clean) assert.ok(bytes.every((b) => b !== 0 && b < 0x80), `clean flag on ${JSON.stringify(bytes.toString())}`);
        got.push(bytes.toString('utf8'));
        gotEnds.push(offset);
        assert.equal(sp.committed, offset, 'committed is past the line handed out');
      };
      for (let at = 0; at < input.length; ) {
        const size = 1 + Math.floor(rand() * (rand() < 0.5 ? 8 : 700));
        // A fresh copy per chunk, then overwritten: the splitter must not keep references into chunks.
        const chunk = Buffer.from(input.subarray(at, at + size));
        sp.push(chunk, onLine);
        chunk.fill(0x58);
        at += size;
      }
      sp.end(onLine);
      const kept = want.filter((l) => Buffer.byteLength(l) <= MAX);
      assert.deepEqual(got, kept, `round ${round}`);
      assert.deepEqual(dropped, want.filter((l) => Buffer.byteLength(l) > MAX).map((l) => Buffer.byteLength(l)), `round ${round}: dropped sizes`);
      const long = (_: number, i: number) => Buffer.byteLength(want[i]!) > MAX;
      assert.deepEqual(gotEnds, ends.filter((e, i) => !long(e, i)), `round ${round}: line end offsets`);
      assert.deepEqual(droppedEnds, ends.filter(long), `round ${round}: dropped line end offsets`);
      assert.equal(sp.committed, START + input.length, `round ${round}: all consumed`);
      assert.equal(sp.partialBytes, 0);
    }
  });
});
