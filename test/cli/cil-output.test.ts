// Issue 10, CIL: SELinux type, class and permission names from the log become CIL text. Only CIL names are
// written; anything else (parentheses, quotes, spaces, ";", newlines, keywords like self/all, "@self",
// names not starting with a letter) is left out and counted, and the module keeps its structure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AvcInfo } from '../../parsers';
import { SelinuxProfileBuilder } from '../../src/profile/selinux';
import { cilModule } from '../env/cil-check';
import { runCli } from '../env/cli';

function avc(stype: string, ttype: string, tclass: string, perms: string[]): AvcInfo {
  return {
    decision: 'denied', permissions: perms, scontext: undefined, tcontext: undefined, tclass, permissive: undefined,
    source: { user: 'u', role: 'r', type: stype, level: undefined }, target: { user: 'u', role: 'r', type: ttype, level: undefined },
  } as AvcInfo;
}

const BAD_TYPES = [
  'x) (allow process shadow_t (file (read)))', 'a b', 'a;b', 'a"b', 'a\nb', 'a\rb', 'a\tb', 'self', '@self', '1abc', '_x', '.x', 'x.',
  'a..b', '-x', 'all', 'a\u202eb', 'é', 'x'.repeat(3000), '', 'a(b', 'a)b', "a'b", 'a\\b', 'a,b', 'a\x00b',
];
const BAD_PERMS = ['all', 'not', 'and', 'or', 'xor', 'read)', '(write', 'a b', 'r;w', '1x', '"q"', 'x.y', 'self', '\u202e', 'é'];

test('type, class and permission names that are not CIL names are left out and counted; the module keeps its structure', () => {
  const b = new SelinuxProfileBuilder();
  b.add(avc('container_t', 'ok_t', 'file', ['read', 'write']));
  b.add(avc('container_t', 'my_container.process', 'dir', ['search']));
  b.add(avc('container_t', 'container_t', 'process', ['signal'])); // on itself: the block's own process type
  for (const t of BAD_TYPES) b.add(avc('container_t', t, 'file', ['read']));
  for (const t of BAD_TYPES) b.add(avc(t, 'ok_t', 'file', ['open']));
  for (const c of BAD_TYPES) b.add(avc('container_t', 'ok_t', c, ['read']));
  b.add(avc('container_t', 'ok_t', 'file', ['getattr', ...BAD_PERMS]));
  b.add(avc('container_t', 'ok_t', 'sock_file', BAD_PERMS));
  const m = cilModule(b.toCil('demo'));
  assert.equal(m.block, 'demo');
  assert.deepEqual(m.inherits, ['container']);
  assert.deepEqual(m.allows, [
    ['process', 'process', ['signal']],
    ['my_container.process', 'dir', ['search']],
    ['ok_t', 'file', ['getattr', 'read', 'write']],
  ]);
  assert.deepEqual(Object.fromEntries(b.rejected), {
    'type is not a CIL name': 2 * (BAD_TYPES.length - 1), // '' counts as missing
    'missing scontext, tcontext or tclass': 3,
    'class is not a CIL name': BAD_TYPES.length - 1,
    'permission is not a CIL name': 2 * BAD_PERMS.length,
    'no permissions': 1,
  });
});

test('auditflow profile --format cil on hostile AVC lines: a well-formed module with only the good rules, skips counted in a warning', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-cil-'));
  const log = path.join(dir, 'avc.log');
  const line = (serial: number, perms: string, ttype: string, tclass: string) =>
    `type=AVC msg=audit(1170021493.977:${serial}): avc:  denied  { ${perms} } for  pid=1 comm="x" scontext=system_u:system_r:container_t:s0 tcontext=system_u:object_r:${ttype}:s0 tclass=${tclass}\n`;
  fs.writeFileSync(
    log,
    line(1, 'read all', 'x);(allow', 'file') +
      line(2, 'read', '@self', 'file') +
      line(3, 'read', 'a"b', 'fi(le') +
      line(4, 'read', 'self', 'file') +
      line(5, 'open all', 'shadow_t', 'file') +
      line(6, 'write', 'tmp_t', 'dir;x') +
      line(7, 'read', 'container_t', 'file'),
  );
  const r = runCli(['profile', '--format', 'cil', '--name', 'demo', log]);
  assert.equal(r.code, 0, r.stderr);
  const m = cilModule(r.stdout);
  assert.deepEqual(m.allows, [
    ['process', 'file', ['read']],
    ['shadow_t', 'file', ['open']],
  ]);
  const warns = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; reason?: string; count?: number });
  const left = Object.fromEntries(warns.filter((w) => w.msg === 'AVC left out of the profile').map((w) => [w.reason, w.count]));
  assert.deepEqual(left, { 'type is not a CIL name': 4, 'class is not a CIL name': 1, 'permission is not a CIL name': 1 });
  fs.rmSync(dir, { recursive: true, force: true });
});
