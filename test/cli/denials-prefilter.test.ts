// `auditflow denials` (without --all) skips logged SECCOMP events from their bytes, unparsed
// (src/denials/logged-seccomp.ts). It must find exactly what parsing every line finds, on the lines of
// test/env/denials-lines.ts (real events, pods with labels that mimic the event's members, another producer's
// member order, near misses). The query is run both ways over the same file and must give the same rows and
// counts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger } from '../../src/log';
import { runQuery } from '../../src/denials/query';
import { isLoggedSeccompLine } from '../../src/denials/logged-seccomp';
import { assertSameBothWays, prefilterCorpus } from '../env/denials-lines';

let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-denials-prefilter-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('denials: logged SECCOMP events skipped from their bytes give the same rows and counts as parsing every line', async () => {
  const corpus = prefilterCorpus();
  const file = path.join(dir, 'events.ndjson');
  fs.writeFileSync(file, corpus.out.join('\n') + '\n');

  const log = createLogger('test');
  const query = (parseAll: boolean) => runQuery({ files: [file], filter: {}, parseAll }, log);
  assertSameBothWays(corpus, await query(true), await query(false), 'file');

  // --all keeps logged events: nothing skipped
  const all = await runQuery({ files: [file], filter: { all: true } }, log);
  assert.equal(all.counts.file.unparsed, 0);
});

test('denials: the byte check takes only a top-level logged action at the end of a SECCOMP event', () => {
  const check = (s: string) => {
    const b = Buffer.from(`xx\n${s}\nyy`, 'utf8');
    return isLoggedSeccompLine(b, 3, 3 + Buffer.byteLength(s));
  };
  const head = '{"schema":"auditflow.event/v1","type":"SECCOMP","kind":"seccomp","timestamp":"2026-01-01T00:00:00.000Z"';
  assert.equal(check(`${head},"action":"log","actionData":0}`), true);
  assert.equal(check(`${head},"action":"allow","actionData":0,"enrichmentError":"e \\"q\\" \\u00e9","raw":"type=SECCOMP \\u001d x"}`), true);
  assert.equal(check(`${head},"action":"errno","actionData":1}`), false, 'a denial');
  assert.equal(check(`${head},"action":"log","actionData":01}`), false, 'not a JSON number');
  assert.equal(check(`${head},"action":"log","actionData":0,"raw":"\\q"}`), false, 'a bad escape');
  assert.equal(check(`${head},"action":"log","actionData":0,"raw":"\u0001"}`), false, 'a raw control byte');
  assert.equal(check(`${head},"pod":{"labels":{"action":"log","actionData":0}}}`), false, 'a label');
  assert.equal(check(`${head},"action":"log","actionData":0}}`), false, 'nested');
  assert.equal(check(`${head.replace('SECCOMP', 'AVC')},"action":"log","actionData":0}`), false, 'another type');
});
