// The node agent's file side: name validation and atomic writes into a temporary seccomp root.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidNameError, invalidInstallName, ProfileDir } from '../../src/agent/profile-files';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-agent-files-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Every file below `dir`, relative. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

describe('invalidInstallName', () => {
  it('accepts DNS-1123 subdomains whose file name fits NAME_MAX', () => {
    assert.equal(invalidInstallName('nginx-1.23'), undefined);
    assert.equal(invalidInstallName('a'.repeat(250)), undefined, '250 + ".json" = 255 bytes');
  });
  it('refuses traversal, separators, NUL, empty, upper case and over-long names', () => {
    for (const n of ['..', '../x', 'a/../../etc/passwd', '/etc/passwd', 'a/b', 'a\0b', '', 'Upper', '.hidden', 'a'.repeat(251), 'a'.repeat(254)]) {
      assert.ok(invalidInstallName(n), `should refuse ${JSON.stringify(n.slice(0, 20))} (${n.length})`);
    }
  });
});

describe('ProfileDir', () => {
  const root = path.join(tmp, 'kubelet', 'seccomp', 'operator');
  const dir = new ProfileDir(root);

  it('creates the directory and writes the file with mode 0644, whatever the umask', async () => {
    const old = process.umask(0o077);
    try {
      assert.equal(await dir.write('app', '{"defaultAction":"SCMP_ACT_ERRNO"}\n'), true);
    } finally {
      process.umask(old);
    }
    const st = fs.statSync(path.join(root, 'app.json'));
    assert.equal(st.mode & 0o777, 0o644);
    assert.equal(fs.readFileSync(path.join(root, 'app.json'), 'utf8'), '{"defaultAction":"SCMP_ACT_ERRNO"}\n');
    assert.deepEqual(tree(root), ['app.json'], 'no temp file left behind');
  });

  it('does not rewrite identical content, replaces changed content by rename (new inode)', async () => {
    const p = path.join(root, 'app.json');
    const ino = fs.statSync(p).ino;
    assert.equal(await dir.write('app', '{"defaultAction":"SCMP_ACT_ERRNO"}\n'), false);
    assert.equal(fs.statSync(p).ino, ino);
    assert.equal(await dir.write('app', '{"defaultAction":"SCMP_ACT_LOG"}\n'), true);
    assert.notEqual(fs.statSync(p).ino, ino, 'a rename, never an in-place rewrite a reader could see half of');
    assert.equal(fs.readFileSync(p, 'utf8'), '{"defaultAction":"SCMP_ACT_LOG"}\n');
  });

  it('replaces a symlink planted at the target instead of writing through it', async () => {
    const victim = path.join(tmp, 'victim');
    fs.writeFileSync(victim, 'untouched');
    fs.symlinkSync(victim, path.join(root, 'planted.json'));
    await dir.write('planted', '{}\n');
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
    assert.equal(fs.lstatSync(path.join(root, 'planted.json')).isSymbolicLink(), false);
  });

  it('never writes or removes anything for hostile names', async () => {
    const before = tree(tmp);
    for (const n of ['../escape', '../../kubelet-escape', '/tmp/abs', 'a\0b', 'x'.repeat(251), '..']) {
      await assert.rejects(dir.write(n, 'x'), InvalidNameError, n);
      await assert.rejects(dir.remove(n), InvalidNameError, n);
    }
    assert.deepEqual(tree(tmp), before);
  });

  it('removes a file and reports whether there was one', async () => {
    assert.equal(await dir.remove('app'), true);
    assert.equal(fs.existsSync(path.join(root, 'app.json')), false);
    assert.equal(await dir.remove('app'), false);
  });
});
