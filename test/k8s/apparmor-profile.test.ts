// AppArmorProfile from logs (beyond SPO): `auditflow profile --format apparmorprofile|apparmor` on the real
// AppArmor records of fixtures/real and /work/shared/fixtures/real builds SPO's structured AppArmorProfile from
// ALLOWED (complain mode) and AUDIT records only, with evidence, and every generated profile compiles with
// Debian's real apparmor_parser (compile only: -Q skip kernel load, -T -K no cache; test/env/packages.sh apparmor).
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { load } from 'js-yaml';
import { AppArmorError, appArmorProfileText } from '../../src/profile/apparmor-text';
import type { AppArmorProfile } from '../../src/k8s/api';
import { ANNOTATION_APPARMOR_EVIDENCE } from '../../src/profile/apparmor';
import { ROOT } from '../env/cli';

const BIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const FIXTURES = [path.join(ROOT, 'fixtures', 'real', 'apparmor.log'), '/work/shared/fixtures/real/apparmor.log'];

function parser(): string {
  execFileSync('bash', [path.join(ROOT, 'test', 'env', 'packages.sh'), 'apparmor'], { stdio: 'inherit' });
  for (const p of ['/usr/sbin/apparmor_parser', '/sbin/apparmor_parser']) if (fs.existsSync(p)) return p;
  throw new Error('apparmor_parser not found after installing the apparmor package');
}

function compile(bin: string, text: string): { status: number | null; stderr: string } {
  const r = spawnSync(bin, ['-QT', '-K'], { input: text, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

function profile(format: string, file: string): string {
  return execFileSync(process.execPath, [BIN, 'profile', '--format', format, '--name', 'web', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

describe('AppArmorProfile from AppArmor records', () => {
  for (const file of FIXTURES) {
    it(`${file}: SPO's abstract from ALLOWED/AUDIT records, with evidence; DENIED ones left out`, () => {
      assert.ok(fs.existsSync(file), file);
      const p = load(profile('apparmorprofile', file)) as AppArmorProfile;
      assert.equal(p.apiVersion, 'security-profiles-operator.x-k8s.io/v1');
      assert.equal(p.kind, 'AppArmorProfile');
      const a = p.spec.abstract!;
      // type=AVC ... apparmor="ALLOWED" operation="exec" profile="/home/cb/bin/hello.sh" name="/usr/bin/rm"
      assert.ok(a.executable?.allowedExecutables?.includes('/usr/bin/rm'), 'exec in complain mode');
      // apparmor="ALLOWED" operation="open" profile="/tmp/cat" name="/etc/passwd" requested_mask="r"
      assert.ok(a.filesystem?.readOnlyPaths?.includes('/etc/passwd'), 'read in complain mode');
      // apparmor="ALLOWED" operation="file_perm" profile="/usr/sbin/apache2" ... sock_type="stream"
      assert.equal(a.network?.allowedProtocols?.allowTcp, true, 'tcp socket in complain mode');
      // apparmor="DENIED" operation="open" profile="/usr/sbin/cupsd" name="/home/user/.ssh/": not something seen allowed
      const all = JSON.stringify(a);
      assert.ok(!all.includes('/home/user/.ssh/'), 'DENIED records are not in the profile');
      assert.ok(!all.includes('/boot/'), 'DENIED records are not in the profile');
      const ev = JSON.parse(p.metadata.annotations![ANNOTATION_APPARMOR_EVIDENCE]!) as { total: number; rules: Record<string, number> };
      assert.equal(ev.rules['exec /usr/bin/rm'], 1);
      assert.equal(ev.rules['r /etc/passwd'], 2, 'the two ALLOWED open records of /etc/passwd (auditd and syslog form)');
      assert.ok(ev.total >= Object.keys(ev.rules).length);
    });

    it(`${file}: the AppArmor profile text compiles with apparmor_parser`, () => {
      const bin = parser();
      const text = profile('apparmor', file);
      assert.match(text, /^profile web flags=\(attach_disconnected,mediate_deleted\) \{$/m);
      assert.match(text, /^ {2}\/usr\/bin\/rm ix,$/m);
      assert.match(text, /^ {2}network tcp,$/m);
      const r = compile(bin, text);
      assert.equal(r.status, 0, `apparmor_parser rejected the profile:\n${r.stderr}\n${text}`);
    });
  }

  it('the parser check is real: a broken profile is rejected', () => {
    const r = compile(parser(), 'profile broken {\n  /etc/passwd zz,\n}\n');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /syntax error/);
  });

  it('the rendering of every SPO abstract field compiles, Complain mode included; hostile paths are refused', () => {
    const bin = parser();
    const text = appArmorProfileText({
      metadata: { name: 'all-fields' },
      spec: {
        mode: 'Complain',
        abstract: {
          executable: { allowedExecutables: ['/usr/bin/env', '/bin/sh'], allowedLibraries: ['/lib/x86_64-linux-gnu/libc.so.6'] },
          filesystem: { readOnlyPaths: ['/etc/**'], writeOnlyPaths: ['/var/log/app.log'], readWritePaths: ['/tmp/**'] },
          network: { allowRaw: true, allowedProtocols: { allowTcp: true, allowUdp: true } },
          capability: { allowedCapabilities: ['net_bind_service', 'chown'] },
        },
      },
    });
    assert.match(text, /flags=\(attach_disconnected,mediate_deleted,complain\)/);
    const r = compile(bin, text);
    assert.equal(r.status, 0, `apparmor_parser rejected:\n${r.stderr}\n${text}`);
    for (const bad of ['/etc/x, /etc/shadow rw', 'relative/path', '/a}\nprofile evil {']) {
      assert.throws(() => appArmorProfileText({ metadata: { name: 'x' }, spec: { abstract: { filesystem: { readOnlyPaths: [bad] } } } }), AppArmorError, bad);
    }
    assert.throws(() => appArmorProfileText({ metadata: { name: 'x' }, spec: { abstract: { capability: { allowedCapabilities: ['sys_admin,\n  /** rw'] } } } }), AppArmorError);
  });
});
