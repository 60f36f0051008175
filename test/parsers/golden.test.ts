// Golden outputs for every real fixture line: a compact projection of what the parser made of it.
// The .golden.ndjson files were generated with UPDATE_GOLDEN=1 and reviewed by hand (see README,
// "Fixtures"); any change in parsing shows up here as a diff to review again.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isNonAudit, isParseError, parseLine, type AuditRecord } from '../../parsers';

const ROOT = path.resolve(__dirname, '../../..');
const REAL = path.join(ROOT, 'fixtures/real');
const GOLDEN = process.env.GOLDEN_DIR ?? path.join(ROOT, 'fixtures/golden');

function project(r: AuditRecord): Record<string, unknown> {
  const o: Record<string, unknown> = {
    type: r.type,
    kind: r.kind,
    format: r.format,
    timeMs: r.timeMs,
    serial: r.serial,
  };
  if (r.host) o.host = r.host;
  const pid = r.int('pid');
  if (pid !== undefined) o.pid = pid;
  const comm = r.str('comm');
  if (comm !== undefined) o.comm = comm;
  const exe = r.str('exe');
  if (exe !== undefined) o.exe = exe;
  if (r.syscall) o.syscall = [r.syscall.arch ?? null, r.syscall.nr, r.syscall.name ?? null];
  if (r.seccomp) o.seccomp = [r.seccomp.action, r.seccomp.actionData];
  if (r.avc) o.avc = [r.avc.decision, r.avc.permissions.join(' '), r.avc.source?.type ?? null, r.avc.target?.type ?? null, r.avc.tclass ?? null, r.avc.permissive ?? null];
  if (r.selinuxErr) o.selinuxErr = [r.selinuxErr.op ?? null, r.selinuxErr.reason ?? null];
  if (r.apparmor) o.apparmor = [r.apparmor.apparmor, r.apparmor.operation ?? null, r.apparmor.profile ?? null, r.apparmor.name ?? null];
  if (r.utf8Invalid) o.utf8Invalid = true;
  return o;
}

function parseAll(text: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line === '' && i === text.split('\n').length - 1) return;
    let t: string | undefined = line;
    let part = 0;
    while (t !== undefined) {
      const r = parseLine(t, { year: 2024 });
      const at = part ? `${i + 1}.${part}` : `${i + 1}`;
      if (isParseError(r)) out.push(JSON.stringify({ line: at, error: r.error }));
      else if (isNonAudit(r)) out.push(JSON.stringify({ line: at, skip: r.skip, ...(r.suppressed ? { suppressed: r.suppressed } : {}) }));
      else out.push(JSON.stringify({ line: at, ...project(r) }));
      t = isParseError(r) || isNonAudit(r) ? undefined : r.rest;
      part++;
    }
  });
  return out;
}

describe('golden outputs of the real fixtures', () => {
  const files = fs.readdirSync(REAL).filter((f) => f.endsWith('.log'));
  it('covers every fixture', () => assert.ok(files.length >= 8, `fixtures found: ${files.join(', ')}`));
  for (const f of files) {
    it(f, () => {
      const got = parseAll(fs.readFileSync(path.join(REAL, f), 'utf8'));
      const goldenFile = path.join(GOLDEN, f.replace(/\.log$/, '.golden.ndjson'));
      if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(goldenFile, got.join('\n') + '\n');
      assert.ok(fs.existsSync(goldenFile), `${goldenFile} missing: generate with UPDATE_GOLDEN=1 and review it`);
      const want = fs.readFileSync(goldenFile, 'utf8').trimEnd().split('\n');
      for (let i = 0; i < Math.max(want.length, got.length); i++) assert.equal(got[i], want[i], `${f}: output ${i + 1} differs`);
    });
  }
});
