// Property tests: the parser never throws and always returns one of its three result kinds, whatever the
// input. Deterministic (seeded) so a failure reproduces; the seed is in the assertion message.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Coalescer, isNonAudit, isParseError, isRecord, parseLine } from '../../parsers';
import { rng, REAL_FIXTURES } from '../env/seeded';


function realLines(): string[] {
  const lines: string[] = [];
  for (const f of fs.readdirSync(REAL_FIXTURES).filter((f) => f.endsWith('.log'))) {
    lines.push(...fs.readFileSync(path.join(REAL_FIXTURES, f), 'utf8').split('\n').filter(Boolean));
  }
  return lines;
}

function check(line: string, what: string): void {
  let r;
  try {
    r = parseLine(line);
  } catch (e) {
    assert.fail(`parseLine threw on ${what}: ${(e as Error).message}\n${JSON.stringify(line.slice(0, 300))}`);
  }
  assert.ok(isRecord(r) || isParseError(r) || isNonAudit(r), `unexpected result for ${what}`);
  if (isRecord(r)) {
    // Every accessor must be safe on whatever was parsed.
    r.interpreted.toObject();
    r.fields.toObject();
    r.str('comm');
    if (r.rest) check(r.rest, what + ' (rest)');
  }
}

describe('parser robustness', () => {
  const lines = realLines();

  it('every real fixture line parses without throwing', () => {
    assert.ok(lines.length > 1000, `expected the real fixtures, found ${lines.length} lines`);
    for (const [i, l] of lines.entries()) check(l, `fixture line ${i}`);
  });

  it('every prefix of every real line (truncation) is handled', () => {
    for (const l of lines.slice(0, 400)) for (let n = 0; n < l.length; n += 7) check(l.slice(0, n), `prefix ${n}`);
  });

  it('random byte mutations of real lines are handled', () => {
    const seed = 0xa5d17;
    const rand = rng(seed);
    const alphabet = ' ="\'()=:{}\x1d\0\xa0\ufffd0123456789abcdefABCDEF\n\\';
    for (let k = 0; k < 20000; k++) {
      const base = lines[Math.floor(rand() * lines.length)]!;
      const chars = base.split('');
      const edits = 1 + Math.floor(rand() * 6);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * (chars.length + 1));
        const op = rand();
        const ch = alphabet[Math.floor(rand() * alphabet.length)]!;
        if (op < 0.4) chars.splice(at, 1);
        else if (op < 0.8) chars.splice(at, 0, ch);
        else chars[at] = ch;
      }
      check(chars.join(''), `mutation ${k} (seed ${seed})`);
    }
  });

  it('random garbage, huge lines, NULs and invalid UTF-8 are typed errors', () => {
    const rand = rng(7);
    for (let k = 0; k < 2000; k++) {
      const len = Math.floor(rand() * 400);
      const bytes = Buffer.alloc(len);
      for (let i = 0; i < len; i++) bytes[i] = Math.floor(rand() * 256);
      check(bytes.toString('utf8'), `garbage ${k}`);
      check(bytes.toString('latin1'), `garbage latin1 ${k}`);
    }
    const huge = parseLine('type=SECCOMP msg=audit(1.000:1): ' + 'a=b '.repeat(300000));
    assert.ok(isParseError(huge) && huge.error === 'line-too-long');
    const nul = parseLine('type=SECCOMP msg=audit(1.000:1): pid=1\0');
    assert.ok(isParseError(nul) && nul.error === 'nul-byte');
  });

  it('the coalescer accepts any record stream and loses none', () => {
    const got: number[] = [];
    const c = new Coalescer((e) => got.push(e.records.length), { graceRecords: 4 });
    let n = 0;
    let eoe = 0;
    for (const l of lines) {
      let text: string | undefined = l;
      while (text !== undefined) {
        const r = parseLine(text);
        if (!isRecord(r)) break;
        n++;
        if (r.type === 'EOE') eoe++;
        c.push(r);
        text = r.rest;
      }
    }
    c.flush();
    assert.ok(n > 1000);
    assert.equal(got.reduce((a, b) => a + b, 0), n - eoe, 'every record except EOE markers is in exactly one event');
  });
});
