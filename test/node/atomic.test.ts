// src/io/atomic.ts, the one atomic file writer, and the writers moved onto it (aggregator state files, the
// node agent's profile files): nothing planted is followed, nothing is left behind on error, special targets
// are refused, and concurrent writers never produce a torn file.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileStateStore } from '../../src/aggregate/state-store';
import { AtomicWriteError, nextTempPath, NotRegularFileError, writeFileAtomic } from '../../src/io/atomic';
import { createLogger } from '../../src/log';
import type { SessionState } from '../../src/recording/session';
import { ROOT } from '../env/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-atomic-'));
const small = path.join(tmp, 'small');
const log = createLogger('test');
let mounted = false;

before(() => {
  fs.mkdirSync(small);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount a 64k tmpfs (the tests run as root): ${r.stderr}`);
  mounted = true;
});
after(() => {
  if (mounted) spawnSync('umount', [small]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const entries = (dir: string) => fs.readdirSync(dir).sort();

describe('writeFileAtomic', () => {
  it('a symlink planted at the temporary name is not followed, and not removed as if it were ours', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'plant-'));
    const victim = path.join(tmp, 'victim-tmp');
    fs.writeFileSync(victim, 'untouched');
    const target = path.join(dir, 'profile.json');
    fs.writeFileSync(target, 'old');
    const planted = nextTempPath(target);
    fs.symlinkSync(victim, planted);
    await assert.rejects(writeFileAtomic(target, 'new'), (e: AtomicWriteError) => e instanceof AtomicWriteError && e.code === 'EEXIST' && e.message.includes(target));
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
    assert.equal(fs.readFileSync(target, 'utf8'), 'old');
    assert.ok(fs.lstatSync(planted).isSymbolicLink(), 'the planted link is left where it was');
    // the next write takes another name and succeeds
    await writeFileAtomic(target, 'new');
    assert.equal(fs.readFileSync(target, 'utf8'), 'new');
  });

  it('a symlink at the target is refused (not written through, not replaced)', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'link-'));
    const victim = path.join(tmp, 'victim-target');
    fs.writeFileSync(victim, 'untouched');
    const target = path.join(dir, 'state.json');
    fs.symlinkSync(victim, target);
    await assert.rejects(writeFileAtomic(target, 'x'), NotRegularFileError);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
    assert.ok(fs.lstatSync(target).isSymbolicLink());
    assert.deepEqual(entries(dir), ['state.json'], 'no temporary file left');
    // a dangling one too
    const dangling = path.join(dir, 'dangling.json');
    fs.symlinkSync(path.join(tmp, 'nowhere', 'x'), dangling);
    await assert.rejects(writeFileAtomic(dangling, 'x'), NotRegularFileError);
  });

  it('a device or FIFO target is refused', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'dev-'));
    const dev = path.join(dir, 'null');
    assert.equal(spawnSync('mknod', [dev, 'c', '1', '3']).status, 0);
    const fifo = path.join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    for (const t of [dev, fifo, '/dev/null']) {
      await assert.rejects(writeFileAtomic(t, 'x'), (e: NotRegularFileError) => e instanceof NotRegularFileError && e.code === 'ENOTREG', t);
    }
    assert.ok(fs.lstatSync(dev).isCharacterDevice());
    assert.ok(fs.lstatSync('/dev/null').isCharacterDevice());
    assert.deepEqual(entries(dir), ['fifo', 'null']);
  });

  it('the temporary file is removed when the filesystem is full, and the old content stays', async () => {
    const target = path.join(small, 'big.json');
    fs.writeFileSync(target, 'old');
    await assert.rejects(writeFileAtomic(target, Buffer.alloc(1 << 20, 0x61)), (e: AtomicWriteError) => e instanceof AtomicWriteError && e.code === 'ENOSPC');
    assert.deepEqual(entries(small), ['big.json']);
    assert.equal(fs.readFileSync(target, 'utf8'), 'old');
    fs.rmSync(target);
  });

  it('a missing directory is an error naming the target (ENOENT), unless mkdir is asked for', async () => {
    const target = path.join(tmp, 'missing', 'deeper', 'f.json');
    await assert.rejects(writeFileAtomic(target, 'x'), (e: AtomicWriteError) => e.code === 'ENOENT' && e.message.includes(target));
    await writeFileAtomic(target, 'x', { mkdir: true });
    assert.equal(fs.readFileSync(target, 'utf8'), 'x');
  });

  it('concurrent writers (processes and promises) never produce a torn file', { timeout: 300_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'race-'));
    const target = path.join(dir, 'shared.json');
    // each version is one letter repeated: a torn file would mix letters or have another length
    const SIZE = 256 * 1024;
    const versions = new Set(['abcdefgh'].flatMap((s) => s.split('')).map((c) => c.repeat(SIZE)));
    fs.writeFileSync(target, 'a'.repeat(SIZE));
    const atomicJs = path.join(ROOT, 'dist/src/io/atomic.js');
    const script = `const { writeFileAtomic } = require(${JSON.stringify(atomicJs)});
      (async () => { for (let i = 0; i < 60; i++) await writeFileAtomic(process.argv[1], process.argv[2].repeat(${SIZE})); })().catch((e) => { console.error(e); process.exit(1); });`;
    const children = ['b', 'c', 'd', 'e'].map((c) => spawn(process.execPath, ['-e', script, target, c], { stdio: ['ignore', 'ignore', 'inherit'] }));
    const exits = children.map((ch) => new Promise<number | null>((r) => ch.on('exit', (code) => r(code))));
    let running = children.length;
    for (const e of exits) void e.then(() => running--);
    // and writers in this process at the same time
    const local = Promise.all(['f', 'g', 'h'].map(async (c) => {
      for (let i = 0; i < 40; i++) await writeFileAtomic(target, c.repeat(SIZE));
    }));
    let reads = 0;
    while (running > 0 || reads < 50) {
      const got = await fs.promises.readFile(target, 'utf8');
      assert.ok(versions.has(got), `torn read: ${got.length} bytes, starts ${got.slice(0, 4)}, ends ${got.slice(-4)}`);
      reads++;
    }
    await local;
    assert.deepEqual(await Promise.all(exits), [0, 0, 0, 0]);
    assert.ok(versions.has(fs.readFileSync(target, 'utf8')));
    assert.deepEqual(entries(dir), ['shared.json'], 'no temporary file left');
  });
});

describe('writers moved onto writeFileAtomic', () => {
  const session = (id: string): SessionState => ({ id, partition: 0 }) as unknown as SessionState;
  const sessionFile = (dir: string, id: string) => path.join(dir, `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.session.json`);

  it('aggregator state files: a symlink planted at the old fixed temp name (FILE.tmp) is not written through', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'state-'));
    const victim = path.join(tmp, 'victim-state');
    fs.writeFileSync(victim, 'untouched');
    const store = new FileStateStore(dir, log);
    await store.start();
    fs.symlinkSync(victim, `${sessionFile(dir, 's1')}.tmp`);
    await store.save([session('s1')]);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
    assert.deepEqual(JSON.parse(fs.readFileSync(sessionFile(dir, 's1'), 'utf8')), { id: 's1', partition: 0 });
  });

  it('aggregator state files: no temporary file is left when the filesystem is full', async () => {
    const dir = path.join(small, 'state');
    const store = new FileStateStore(dir, log);
    await store.start();
    const big = { id: 's2', partition: 0, pad: 'x'.repeat(1 << 20) } as unknown as SessionState;
    await assert.rejects(store.save([big]), (e: AtomicWriteError) => e.code === 'ENOSPC');
    assert.deepEqual(entries(dir), []);
  });
});
